#include "prefscore/embedding_cache.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "prefscore/error.h"
#include "prefscore/file_digest_memo.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"
#include "prefscore/safetensors_torch.h"
#include "prefscore/sha256.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

// Bump when the entry layout changes; a changed computation of the features must change the
// prefscore version (part of every key) or this.
constexpr const char* kFormat = "prefscore-image-features/1";

std::string number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

// The bytes the entry's data_sha256 covers: the tensors' data, in the order written.
std::string data_digest(const at::Tensor& embeds, const at::Tensor& tokens) {
  Sha256 hash;
  hash.update(embeds.data_ptr(), static_cast<std::size_t>(embeds.nbytes()));
  if (tokens.defined()) hash.update(tokens.data_ptr(), static_cast<std::size_t>(tokens.nbytes()));
  return hash.finish_hex();
}

std::string expected_shape_text(const std::vector<int64_t>& shape, c10::ScalarType dtype) {
  return std::string(dtype_name(from_scalar_type(dtype, "features"))) + " " + format_shape(shape);
}

// Throws Error(path, ...) unless `info` is `dtype` of `shape`.
void check_tensor(const std::string& path, const TensorInfo& info,
                  const std::vector<int64_t>& shape, c10::ScalarType dtype) {
  if (to_scalar_type(info.dtype) != dtype || info.shape != shape) {
    throw Error(path, "tensor " + info.name + " is " + std::string(dtype_name(info.dtype)) + " " +
                          format_shape(info.shape) + ", expected " +
                          expected_shape_text(shape, dtype));
  }
}

std::string metadata_value(const SafetensorsFile& file, const std::string& name) {
  auto it = file.metadata().find(name);
  if (it == file.metadata().end()) throw Error(file.path(), "no metadata \"" + name + "\"");
  return it->second;
}

}  // namespace

EmbeddingKey make_embedding_key(const EmbeddingKeyParts& parts) {
  const ClipArchitecture& a = parts.architecture;
  std::ostringstream text;
  text << "format=" << kFormat << "\n"
       << "prefscore=" << PREFSCORE_VERSION << "\n"
       << "weights_sha256=" << parts.weights_sha256 << "\n"
       << "vision=image_size:" << a.image_size << " patch_size:" << a.patch_size
       << " width:" << a.vision_width << " layers:" << a.vision_layers << " heads:" << a.vision_heads
       << " mlp_ratio:" << number(a.mlp_ratio) << " embed_dim:" << a.embed_dim
       << " activation:" << a.activation << " layer_norm_eps:" << number(a.layer_norm_eps) << "\n"
       << "features=" << (parts.image_tokens ? "embeds+tokens(fp16 pixels)" : "embeds") << "\n"
       << "pipeline=" << pipeline_name(parts.preprocess.pipeline)
       << " image_size:" << parts.preprocess.image_size << "\n"
       // Decode options: max_pixels decides which images are refused, so a cached image must have
       // been accepted under the same limit.
       << "decode=max_pixels:" << parts.preprocess.decode.max_pixels
       << " exif_transpose:" << (parts.preprocess.decode.exif_transpose ? 1 : 0) << "\n"
       << "compute=" << c10::DeviceTypeName(parts.run.device.type(), /*lower_case=*/true) << " "
       << c10::toString(parts.run.dtype) << (parts.run.int8_image_linears ? " int8-image-linears" : "")
       << "\n";
  EmbeddingKey key;
  key.text = text.str();
  key.digest = sha256_hex(key.text);
  key.embed_dim = a.embed_dim;
  key.tokens = parts.image_tokens ? a.vision_tokens() : 0;
  key.dtype = parts.run.dtype;
  return key;
}

EmbeddingCache::EmbeddingCache(std::string dir) : dir_(std::move(dir)) {}

std::string EmbeddingCache::weights_sha256(const std::string& weights_file,
                                           const std::optional<std::string>& stated) const {
  if (stated && is_sha256_hex(*stated)) return *stated;
  const MemoDigest digest =
      FileDigestMemo((fs::path(dir_) / "weights").string()).sha256(weights_file);
  // The cache is unusable when its folder cannot be written; say so now, not at the first entry.
  if (digest.not_remembered) throw *digest.not_remembered;
  return digest.sha256;
}

EmbeddingKeyParts embedding_key_parts(const Scorer& scorer, std::string weights_sha256) {
  return EmbeddingKeyParts{std::move(weights_sha256), scorer.clip().architecture(),
                           /*image_tokens=*/scorer.head() == "mps", scorer.preprocess_options(),
                           scorer.clip().options()};
}

EmbeddingKey EmbeddingCache::key_for(const Scorer& scorer) const {
  // The card's digest only once the file was checked against it (not with --no-verify, nor for a
  // --weights file the card does not describe): else the file's own, remembered.
  return make_embedding_key(embedding_key_parts(
      scorer, weights_sha256(scorer.weights_file(), scorer.verified_sha256())));
}

std::string EmbeddingCache::entry_path(const EmbeddingKey& key,
                                       const std::string& content_sha256) const {
  const std::string entry = sha256_hex(key.digest + ":" + content_sha256);
  return (fs::path(dir_) / "images" / entry.substr(0, 2) / (entry + ".safetensors")).string();
}

std::optional<ImageFeatures> EmbeddingCache::load(const EmbeddingKey& key,
                                                  const std::string& content_sha256,
                                                  std::string* warning) const {
  const std::string path = entry_path(key, content_sha256);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  try {
    const SafetensorsFile file = SafetensorsFile::open(path);
    if (metadata_value(file, "format") != kFormat) {
      throw Error(path, "format \"" + metadata_value(file, "format") + "\", expected \"" +
                            kFormat + "\"");
    }
    if (metadata_value(file, "key") != key.text) {
      throw Error(path, "written for another model configuration (key metadata differs)");
    }
    if (metadata_value(file, "content_sha256") != content_sha256) {
      throw Error(path, "written for another image (content_sha256 differs)");
    }
    const std::size_t want_tensors = key.tokens > 0 ? 2 : 1;
    if (file.tensors().size() != want_tensors) {
      throw Error(path, "holds " + std::to_string(file.tensors().size()) + " tensors, expected " +
                            std::to_string(want_tensors));
    }
    check_tensor(path, file.at("image_embeds"), {key.embed_dim}, key.dtype);
    ImageFeatures features;
    features.embeds = tensor_view(file, "image_embeds").clone().unsqueeze(0);
    if (key.tokens > 0) {
      check_tensor(path, file.at("image_tokens"), {key.tokens, key.embed_dim}, key.dtype);
      features.tokens = tensor_view(file, "image_tokens").clone().unsqueeze(0);
    }
    if (data_digest(features.embeds, features.tokens) != metadata_value(file, "data_sha256")) {
      throw Error(path, "tensor data do not match their data_sha256 (corrupt entry)");
    }
    return features;
  } catch (const Error& e) {
    if (warning != nullptr) *warning = std::string(e.what()) + "; recomputing it";
    return std::nullopt;
  }
}

void EmbeddingCache::store(const EmbeddingKey& key, const std::string& content_sha256,
                           const ImageFeatures& row) const {
  const std::string path = entry_path(key, content_sha256);
  const at::Tensor embeds = row.embeds.to(torch::kCPU).contiguous();
  const at::Tensor tokens =
      row.tokens.defined() ? row.tokens.to(torch::kCPU).contiguous() : at::Tensor();
  if (embeds.scalar_type() != key.dtype || embeds.sizes() != at::IntArrayRef{1, key.embed_dim}) {
    throw Error(path, "image embeds are " + expected_shape_text(embeds.sizes().vec(),
                                                                embeds.scalar_type()) +
                          ", the key expects " + expected_shape_text({1, key.embed_dim}, key.dtype));
  }
  if (tokens.defined() != (key.tokens > 0) ||
      (tokens.defined() && (tokens.scalar_type() != key.dtype ||
                            tokens.sizes() != at::IntArrayRef{1, key.tokens, key.embed_dim}))) {
    throw Error(path, "image tokens do not fit the key (" + std::to_string(key.tokens) +
                          " tokens of " + std::to_string(key.embed_dim) + " expected)");
  }
  const at::Tensor embeds_row = embeds[0];
  const at::Tensor tokens_row = tokens.defined() ? tokens[0] : at::Tensor();
  SafetensorsWriter writer;
  add_tensor(writer, "image_embeds", embeds_row);
  if (tokens.defined()) add_tensor(writer, "image_tokens", tokens_row);
  writer.set_metadata("format", kFormat);
  writer.set_metadata("key", key.text);
  writer.set_metadata("content_sha256", content_sha256);
  writer.set_metadata("data_sha256", data_digest(embeds_row, tokens_row));
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) throw Error(fs::path(path).parent_path().string(), "cannot create folder: " + ec.message());
  writer.write(path);
}

}  // namespace prefscore
