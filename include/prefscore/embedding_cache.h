// The on-disk image-embedding cache (`--cache DIR`): re-ranking or re-evaluating a folder with a
// new prompt reads the image features back instead of running the image tower again.
//
// An entry is one image's features for one model configuration, a safetensors file (written
// atomically) holding `image_embeds` [E] and, for MPS, `image_tokens` [T, E] (the projected
// image tokens), in the dtype the model produced them. It is found by
//   key      = what besides the file decides the features: the weights' sha256, the architecture,
//              whether image tokens are kept (MPS, whose pixels are rounded to fp16 first), the
//              preprocessing pipeline, image size and decode options, the compute dtype and device
//              kind, and the prefscore version;
//   content  = the sha256 of the image file's bytes;
// at DIR/images/<e0 e1>/<e>.safetensors with e = sha256(key digest ":" content) (256 shards).
// The entry repeats the key text, the content digest and a sha256 of its tensor bytes in its
// metadata; an entry that cannot be read or does not match in any of these, or in a tensor's
// name, dtype or shape, is never used: it is reported and recomputed, and the new features
// overwrite it.
//
// Model identity is the weights file's sha256: the card's when the file was verified against it
// (weights_verification.h), else computed once and remembered in DIR/weights/ (a FileDigestMemo,
// file_digest_memo.h: by absolute path, size and mtime; a changed size or mtime means the digest
// is computed again).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "prefscore/clip_config.h"
#include "prefscore/image.h"
#include "prefscore/run_options.h"
#include "prefscore/scorer.h"

namespace prefscore {

// Everything besides the image file that decides its features.
struct EmbeddingKeyParts {
  std::string weights_sha256;
  ClipArchitecture architecture;
  bool image_tokens = false;  // MPS: keep the projected image tokens (from fp16-rounded pixels)
  PreprocessOptions preprocess;
  RunOptions run;
};

struct EmbeddingKey {
  std::string text;    // "name=value" lines, in a fixed order; stored in each entry
  std::string digest;  // sha256 of `text`
  // What a matching entry holds: image_embeds [embed_dim], image_tokens [tokens, embed_dim] when
  // tokens > 0, both of `dtype`.
  int64_t embed_dim = 0;
  int64_t tokens = 0;
  c10::ScalarType dtype = c10::kFloat;
};

EmbeddingKey make_embedding_key(const EmbeddingKeyParts& parts);
// The key parts of the features `scorer` computes, with its weights' digest given.
EmbeddingKeyParts embedding_key_parts(const Scorer& scorer, std::string weights_sha256);

class EmbeddingCache {
 public:
  // `dir` is created when the first entry is written.
  explicit EmbeddingCache(std::string dir);
  const std::string& dir() const { return dir_; }

  // sha256 of `weights_file`: `stated` (a verified card digest) when given, else as described
  // above. Throws Error(weights_file, ...) when the file cannot be read, and Error(<record>, ...)
  // when the digest cannot be remembered under `dir`.
  std::string weights_sha256(const std::string& weights_file,
                             const std::optional<std::string>& stated) const;
  // The key of the features `scorer` computes.
  EmbeddingKey key_for(const Scorer& scorer) const;

  std::string entry_path(const EmbeddingKey& key, const std::string& content_sha256) const;
  // The features of the image whose bytes hash to `content_sha256`, as [1, E] (and [1, T, E])
  // CPU tensors; nullopt when there is no entry, or when the entry is unusable: then `warning`
  // says why in one line ("<entry>: <reason>; recomputing it").
  std::optional<ImageFeatures> load(const EmbeddingKey& key, const std::string& content_sha256,
                                    std::string* warning) const;
  // Writes (or overwrites) the entry for one image: `row` is [1, E] (and [1, T, E]) on any device.
  // Throws Error(entry, ...) when the features do not fit the key or the file cannot be written.
  void store(const EmbeddingKey& key, const std::string& content_sha256,
             const ImageFeatures& row) const;

 private:
  std::string dir_;
};

}  // namespace prefscore
