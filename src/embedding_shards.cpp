#include "prefscore/embedding_shards.h"

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "prefscore/error.h"
#include "prefscore/safetensors_torch.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

using Json = nlohmann::json;

// Metadata entries that describe the shard, not the embeddings: left out of the merged file.
constexpr const char* kShardKeys[] = {"prefscore_shard", "positions", "skipped"};

const std::string& metadata_entry(const SafetensorsFile& file, const std::string& path,
                                  const std::string& key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end()) {
    throw Error(path, "no \"" + key + "\" metadata: not an `embed` shard output");
  }
  return it->second;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

struct EmbeddingShard {
  std::string path;
  SafetensorsFile file;
  ShardHeader header;
  at::Tensor image_embeds;  // [K, E]
  std::vector<std::string> images;
  std::vector<std::size_t> positions;
  std::vector<std::pair<std::size_t, std::string>> skipped;  // position, "image: reason"
};

EmbeddingShard read_shard(const std::string& path) {
  EmbeddingShard s{path, SafetensorsFile::open(path), {}, {}, {}, {}, {}};
  s.header = parse_shard_header(metadata_entry(s.file, path, "prefscore_shard"), path);
  if (s.header.command != "embed") {
    throw Error(path, "is a shard of `" + s.header.command + "`, not `embed`");
  }
  try {
    const Json positions = parse_json_line(metadata_entry(s.file, path, "positions"), path);
    const Json images = parse_json_line(metadata_entry(s.file, path, "images"), path);
    const Json skipped = parse_json_line(metadata_entry(s.file, path, "skipped"), path);
    s.positions = positions.get<std::vector<std::size_t>>();
    s.images = images.get<std::vector<std::string>>();
    for (const Json& k : skipped) {
      s.skipped.emplace_back(k.at("index").get<std::size_t>(),
                             k.at("image").get<std::string>() + ": " + k.at("reason").get<std::string>());
      const std::string image = k.at("image").get<std::string>();
      if (image.find("\xEF\xBF\xBD") == std::string::npos &&
          shard_of(ScoreItem{image, "", ""}, s.header.shard.count) != s.header.shard.index) {
        throw Error(path, "skipped image " + k.at("image").get<std::string>() +
                              " does not belong to shard " + s.header.shard.name());
      }
    }
  } catch (const Json::exception& e) {
    throw Error(path, std::string("malformed shard metadata: ") + e.what());
  }
  s.image_embeds = tensor_view(s.file, "image_embeds");
  if (s.image_embeds.dim() != 2 || s.image_embeds.size(0) != static_cast<int64_t>(s.images.size()) ||
      s.images.size() != s.positions.size()) {
    throw Error(path, "image_embeds, \"images\" and \"positions\" disagree on the image count");
  }
  if (s.positions.size() + s.skipped.size() != s.header.items) {
    throw Error(path, "holds " + std::to_string(s.positions.size() + s.skipped.size()) +
                          " of the shard's " + std::to_string(s.header.items) + " items");
  }
  for (std::size_t k = 0; k < s.images.size(); ++k) {
    if (s.positions[k] >= s.header.total_items) {
      throw Error(path, "position " + std::to_string(s.positions[k]) + " is beyond the work list");
    }
    // A name printed with U+FFFD (its file name was not UTF-8) cannot be hashed again.
    if (s.images[k].find("\xEF\xBF\xBD") == std::string::npos &&
        shard_of(ScoreItem{s.images[k], "", ""}, s.header.shard.count) != s.header.shard.index) {
      throw Error(path, "image " + s.images[k] + " does not belong to shard " + s.header.shard.name());
    }
  }
  return s;
}

}  // namespace

void set_embedding_shard_metadata(SafetensorsWriter& writer, const ShardHeader& header,
                                  const std::vector<std::size_t>& positions,
                                  const std::vector<SkippedImage>& skipped) {
  writer.set_metadata("prefscore_shard", format_shard_header(header));
  writer.set_metadata("positions", Json(positions).dump());
  Json list = Json::array();
  for (const SkippedImage& k : skipped) {
    // The message is "image: reason" (PreprocessedBatch::skipped); the reason is kept alone.
    const std::string prefix = k.image + ": ";
    const bool prefixed = k.message.compare(0, prefix.size(), prefix) == 0;
    list.push_back({{"index", k.position},
                    {"image", k.image},
                    {"reason", prefixed ? k.message.substr(prefix.size()) : k.message}});
  }
  writer.set_metadata("skipped", dump(list));
}

MergedEmbeddings merge_embedding_shards(const std::vector<std::string>& paths,
                                        const std::string& output) {
  std::vector<EmbeddingShard> shards;
  std::vector<std::pair<std::string, ShardHeader>> headers;
  for (const std::string& p : paths) {
    shards.push_back(read_shard(p));
    headers.emplace_back(p, shards.back().header);
  }
  check_shard_set(headers);
  const EmbeddingShard& first = shards.front();
  // Texts are embedded by every shard: they must be the same everywhere.
  const auto texts = [](const EmbeddingShard& s) -> std::optional<std::string> {
    const auto it = s.file.metadata().find("texts");
    return it == s.file.metadata().end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  for (const EmbeddingShard& s : shards) {
    if (texts(s) != texts(first)) throw Error(s.path, "embeds other texts than " + first.path);
  }
  const std::size_t total = first.header.total_items;
  struct Row {
    const EmbeddingShard* shard = nullptr;
    int64_t row = -1;                // image row, or -1 for a skipped item
    const std::string* skipped = nullptr;
  };
  std::vector<Row> rows(total);
  for (const EmbeddingShard& s : shards) {
    for (std::size_t k = 0; k < s.positions.size(); ++k) rows[s.positions[k]] = Row{&s, static_cast<int64_t>(k), nullptr};
    for (const auto& [position, message] : s.skipped) {
      if (position >= total) throw Error(s.path, "a skipped position is beyond the work list");
      rows[position] = Row{&s, -1, &message};
    }
  }
  MergedEmbeddings merged;
  merged.shards = shards.size();
  std::vector<at::Tensor> embeds;
  Json images = Json::array();
  for (std::size_t p = 0; p < total; ++p) {
    if (rows[p].shard == nullptr) {
      throw Error("merge", "item " + std::to_string(p) + " of the work list is in no shard output");
    }
    if (rows[p].row < 0) {
      merged.skipped.push_back(*rows[p].skipped);
      continue;
    }
    embeds.push_back(rows[p].shard->image_embeds[rows[p].row]);
    images.push_back(rows[p].shard->images[static_cast<std::size_t>(rows[p].row)]);
  }
  merged.images = embeds.size();
  if (embeds.empty()) throw Error("merge", "no image of the run could be embedded");

  SafetensorsWriter writer;
  add_tensor(writer, "image_embeds", torch::stack(embeds));
  for (const char* name : {"text_embeds", "input_ids"}) {
    if (first.file.find(name) != nullptr) add_tensor(writer, name, tensor_view(first.file, name));
  }
  add_tensor(writer, "logit_scale", tensor_view(first.file, "logit_scale"));
  for (const auto& [key, value] : first.file.metadata()) {
    if (std::find(std::begin(kShardKeys), std::end(kShardKeys), key) == std::end(kShardKeys)) {
      writer.set_metadata(key, value);
    }
  }
  writer.set_metadata("images", dump(images));
  writer.write(output);
  return merged;
}

bool looks_like_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[9] = {};
  if (!in.read(reinterpret_cast<char*>(head), 9)) return false;
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | head[i];
  return length >= 2 && length < (uint64_t{1} << 40) && head[8] == '{';
}

}  // namespace prefscore
