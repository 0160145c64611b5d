// Image embeddings of a list of files through one Scorer's image tower (any card: the tower, the
// preprocessing and the decode options are the scorer's), for commands that work on embeddings
// rather than scores (`prefscore audit`). Uses the on-disk embedding cache (embedding_cache.h)
// exactly as scoring does, so `score --cache DIR` and `audit --cache DIR` share entries. A file
// that cannot be read or decoded is reported and skipped.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "prefscore/audit.h"
#include "prefscore/scorer.h"

namespace prefscore {

class EmbeddingCache;

struct ImageEmbeddingOptions {
  int batch_size = 8;
  const EmbeddingCache* cache = nullptr;  // read and written when given
  // Called after each batch with (files done, files in total).
  std::function<void(std::size_t, std::size_t)> progress;
};

struct ImageEmbeddings {
  std::vector<std::string> files;     // embedded, in input order
  EmbeddingMatrix embeds;             // [files, E] float32: projected, not normalised
  std::vector<std::string> skipped;   // "path: reason", in input order
  std::vector<std::string> warnings;  // unusable cache entries (recomputed)
  std::size_t images_encoded = 0;     // run through the image tower
  std::size_t cache_hits = 0;         // read from the cache
};

ImageEmbeddings embed_image_files(const Scorer& scorer, const std::vector<std::string>& files,
                                  const ImageEmbeddingOptions& options);

}  // namespace prefscore
