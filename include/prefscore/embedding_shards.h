// Sharded `embed` runs. A shard's output is the safetensors file `embed` writes, holding the
// shard's images, plus three metadata entries: "prefscore_shard" (the header of shard_file.h,
// command "embed"), "positions" (JSON array: each embedded image's position in the whole work
// list) and "skipped" (JSON array of {"index", "image", "reason"}). Merging puts the rows of
// image_embeds back in work-list order and writes what one unsharded `embed` writes.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "prefscore/safetensors.h"
#include "prefscore/shard_file.h"

namespace prefscore {

struct SkippedImage {
  std::size_t position = 0;  // in the whole work list
  std::string image;
  std::string message;       // "image: reason"
};

// The shard metadata of an `embed` shard that embedded the work list's items at `positions` (in
// order) and skipped `skipped`.
void set_embedding_shard_metadata(SafetensorsWriter& writer, const ShardHeader& header,
                                  const std::vector<std::size_t>& positions,
                                  const std::vector<SkippedImage>& skipped);

struct MergedEmbeddings {
  std::size_t shards = 0;
  std::size_t images = 0;
  std::vector<std::string> skipped;  // "image: reason", in work-list order
};

// Checks the shard files (check_shard_set, then each file's rows against its header: counts,
// positions, each image hashing to its shard, equal texts in every shard) and writes `output`
// atomically. Errors name the file.
MergedEmbeddings merge_embedding_shards(const std::vector<std::string>& paths,
                                        const std::string& output);

// Whether `path` looks like a safetensors file (its first 8 bytes give a header length that
// fits and the header starts with '{'); merge uses it to tell embed shards from JSON-lines ones.
bool looks_like_safetensors(const std::string& path);

}  // namespace prefscore
