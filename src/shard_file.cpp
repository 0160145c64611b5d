#include "prefscore/shard_file.h"

#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "prefscore/embedding_cache.h"
#include "prefscore/error.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr int kShardFormatVersion = 1;

std::string dump_line(const OrderedJson& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

bool valid_utf8(const std::string& text) {
  try {
    (void)Json(text).dump();
    return true;
  } catch (const Json::type_error&) {
    return false;
  }
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(const std::string& text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const auto value = [](char c) -> int {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int hi = value(text[i]), lo = value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

void put_item(OrderedJson& j, std::size_t position, const ScoreItem& item) {
  j["index"] = position;
  j["image"] = item.image;
  // A file name that is not UTF-8 is printed with U+FFFD; its bytes are kept here so that merge
  // can hash and print it as the unsharded run does.
  if (!valid_utf8(item.image)) j["image_hex"] = hex(item.image);
  j["prompt"] = item.prompt;
  if (!item.group.empty()) j["group"] = item.group;
}

OrderedJson models_json(const std::vector<ShardModel>& models) {
  OrderedJson list = OrderedJson::array();
  for (const ShardModel& m : models) {
    OrderedJson model;
    model["name"] = m.name;
    model["head"] = m.head;
    model["columns"] = m.columns;
    model["weights_sha256"] = m.weights_sha256;
    model["fingerprint"] = m.fingerprint;
    list.push_back(model);
  }
  return list;
}

OrderedJson header_json(const ShardHeader& h) {
  OrderedJson j;
  j["prefscore_shard"] = kShardFormatVersion;
  j["command"] = h.command;
  j["shard"] = h.shard.name();
  j["items"] = h.items;
  j["total_items"] = h.total_items;
  j["work_list_sha256"] = h.work_list_sha256;
  j["models"] = models_json(h.models);
  j["top"] = h.top;
  j["version"] = h.version;
  return j;
}

// Field accessors that name FILE:LINE and the field on a bad row.
struct Fields {
  const Json& j;
  const std::string& where;

  const Json& at(const char* key) const {
    if (!j.is_object() || !j.contains(key)) {
      throw Error(where, std::string("missing field \"") + key + "\"");
    }
    return j.at(key);
  }
  std::string text(const char* key) const {
    const Json& v = at(key);
    if (!v.is_string()) throw Error(where, std::string("\"") + key + "\" must be a string");
    return v.get<std::string>();
  }
  std::size_t count(const char* key) const {
    const Json& v = at(key);
    if (!v.is_number_unsigned()) {
      throw Error(where, std::string("\"") + key + "\" must be a non-negative integer");
    }
    return v.get<std::size_t>();
  }
  double number(const char* key) const {
    const Json& v = at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      throw Error(where, std::string("\"") + key + "\" must be a finite number");
    }
    return v.get<double>();
  }
};

ShardHeader header_from_json(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("prefscore_shard")) {
    throw Error(where, "not a prefscore shard output (its first line is no shard header; write "
                       "shards with --shard or the SLURM/Kubernetes environment)");
  }
  const Fields f{j, where};
  if (f.count("prefscore_shard") != kShardFormatVersion) {
    throw Error(where, "shard format " + j["prefscore_shard"].dump() + " is not supported (this "
                       "prefscore reads format " + std::to_string(kShardFormatVersion) + ")");
  }
  ShardHeader h;
  h.command = f.text("command");
  if (h.command != "score" && h.command != "rank" && h.command != "eval" && h.command != "embed") {
    throw Error(where, "unknown command \"" + h.command + "\"");
  }
  try {
    h.shard = parse_shard(f.text("shard"));
  } catch (const Error& e) {
    throw Error(where, "bad \"shard\": " + e.reason());
  }
  h.items = f.count("items");
  h.total_items = f.count("total_items");
  h.work_list_sha256 = f.text("work_list_sha256");
  h.top = f.count("top");
  h.version = f.text("version");
  const Json& models = f.at("models");
  if (!models.is_array() || models.empty()) throw Error(where, "\"models\" must be a non-empty list");
  for (const Json& m : models) {
    const Fields mf{m, where};
    ShardModel model;
    model.name = mf.text("name");
    model.head = mf.text("head");
    model.weights_sha256 = mf.text("weights_sha256");
    model.fingerprint = mf.text("fingerprint");
    const Json& columns = mf.at("columns");
    if (!columns.is_array() || columns.empty()) throw Error(where, "\"columns\" must be a non-empty list");
    for (const Json& c : columns) {
      if (!c.is_string()) throw Error(where, "\"columns\" must hold strings");
      model.columns.push_back(c.get<std::string>());
    }
    h.models.push_back(std::move(model));
  }
  return h;
}

// What must agree between the shards of one run, as text for the error message ("" = agrees).
std::string difference(const ShardHeader& a, const ShardHeader& b) {
  if (a.command != b.command) return "was written by `" + b.command + "`, not `" + a.command + "`";
  if (a.shard.count != b.shard.count) {
    return "is one of " + std::to_string(b.shard.count) + " shards, not " +
           std::to_string(a.shard.count);
  }
  if (a.work_list_sha256 != b.work_list_sha256 || a.total_items != b.total_items) {
    return "comes from another work list (other images, prompts or order)";
  }
  if (models_json(a.models) != models_json(b.models)) {
    return "was scored by other models or settings (weights, precision, preprocessing)";
  }
  if (a.top != b.top) return "was run with another --top";
  return "";
}

}  // namespace

std::string format_shard_header(const ShardHeader& header) {
  return header_json(header).dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

ShardHeader parse_shard_header(std::string_view text, const std::string& where) {
  return header_from_json(parse_json_line(text, where), where);
}

ShardModel shard_model(const Scorer& scorer, const std::string& weights_sha256) {
  return ShardModel{scorer.model_name(), scorer.head(), scorer.columns(), weights_sha256,
                    make_embedding_key(embedding_key_parts(scorer, weights_sha256)).digest};
}

std::string format_shard_output(const ShardHeader& header, const std::vector<ScoreItem>& shard_items,
                                const std::vector<std::size_t>& positions,
                                const ScoreReport& report) {
  if (shard_items.size() != positions.size()) {
    throw Error("", "shard output: one position per item expected");
  }
  std::string out = format_shard_header(header) + "\n";
  const std::size_t columns = report.columns.size();
  std::size_t scored = 0;   // next item of report.items
  std::size_t skipped = 0;  // next line of report.skipped
  for (std::size_t k = 0; k < shard_items.size(); ++k) {
    const ScoreItem& item = shard_items[k];
    // report.items is shard_items with the skipped ones left out, in the same order.
    const bool was_scored = scored < report.items.size() &&
                            report.items[scored].image == item.image &&
                            report.items[scored].prompt == item.prompt &&
                            report.items[scored].group == item.group;
    if (!was_scored) {
      OrderedJson j;
      put_item(j, positions[k], item);
      std::string reason = skipped < report.skipped.size() ? report.skipped[skipped++] : "";
      const std::string prefix = item.image + ": ";
      if (reason.compare(0, prefix.size(), prefix) == 0) reason = reason.substr(prefix.size());
      j["skipped"] = reason.empty() ? "not scored" : reason;
      out += dump_line(j);
      continue;
    }
    for (std::size_t c = 0; c < columns; ++c) {
      const ScoreRow& s = report.rows[scored * columns + c];
      OrderedJson j;
      put_item(j, positions[k], item);
      j["model"] = s.model;
      if (s.head == "mps") j["condition"] = s.column;
      j["score"] = s.score;
      j["logit"] = s.logit;
      out += dump_line(j);
    }
    ++scored;
  }
  if (scored != report.items.size()) {
    throw Error("", "shard output: the report's items are not those of the shard");
  }
  return out;
}

ShardFile read_shard_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open");
  ShardFile file;
  file.path = path;
  std::string line;
  if (read_line(in, kDefaultMaxLineBytes, &line) != LineRead::kLine) {
    throw Error(path, "empty, or its first line is too long: not a prefscore shard output");
  }
  file.header = parse_shard_header(line, path + ":1");
  ShardHeader& h = file.header;
  for (const ShardModel& m : h.models) {
    for (const std::string& c : m.columns) file.report.columns.emplace_back(m.name, c);
  }
  const std::size_t columns = file.report.columns.size();
  std::map<std::string, std::string> head_of;
  for (const ShardModel& m : h.models) head_of[m.name] = m.head;

  std::size_t column = 0;  // next column of the current item
  bool first = true;
  std::size_t last_position = 0;
  for (std::size_t number = 2;; ++number) {
    const LineRead read = read_line(in, kDefaultMaxLineBytes, &line);
    if (read == LineRead::kEnd) break;
    const std::string where = path + ":" + std::to_string(number);
    if (read == LineRead::kTooLong) throw Error(where, line_too_long_reason(kDefaultMaxLineBytes));
    const Json j = parse_json_line(line, where);
    const Fields f{j, where};
    const std::size_t position = f.count("index");
    ScoreItem item{f.text("image"), f.text("prompt"), j.contains("group") ? f.text("group") : ""};
    if (j.contains("image_hex")) {
      const std::optional<std::string> bytes = unhex(f.text("image_hex"));
      if (!bytes) throw Error(where, "\"image_hex\" must be lowercase hex digits");
      item.image = *bytes;
    }
    if (position >= h.total_items) {
      throw Error(where, "index " + std::to_string(position) + " is beyond the work list's " +
                             std::to_string(h.total_items) + " items");
    }
    const bool continues = column != 0;  // more columns of the item on the previous line
    if (continues) {
      if (position != last_position || j.contains("skipped")) {
        throw Error(where, "item " + std::to_string(last_position) + " lacks some of its " +
                               std::to_string(columns) + " score rows");
      }
    } else {
      if (!first && position <= last_position) {
        throw Error(where, "index " + std::to_string(position) + " is out of order or repeated");
      }
      if (shard_of(item, h.shard.count) != h.shard.index) {
        throw Error(where, "item " + std::to_string(position) + " (" + item.image +
                               ") does not belong to shard " + h.shard.name());
      }
    }
    first = false;
    last_position = position;
    if (j.contains("skipped")) {
      file.report.skipped.push_back(item.image + ": " + f.text("skipped"));
      file.skipped_positions.push_back(position);
      continue;
    }
    const auto& [model, name] = file.report.columns[column];
    if (f.text("model") != model) {
      throw Error(where, "expected a row of model \"" + model + "\", got \"" + f.text("model") + "\"");
    }
    const std::string& head = head_of[model];
    const std::string condition = j.contains("condition") ? f.text("condition") : "score";
    if (condition != name) {
      throw Error(where, "expected column \"" + name + "\" of " + model + ", got \"" + condition + "\"");
    }
    if (!continues) {
      file.report.items.push_back(item);
      file.positions.push_back(position);
    } else if (file.report.items.back().image != item.image ||
               file.report.items.back().prompt != item.prompt ||
               file.report.items.back().group != item.group) {
      throw Error(where, "item " + std::to_string(position) + " changes its image or prompt");
    }
    ScoreRow row;
    row.item = file.report.items.size() - 1;
    row.model = model;
    row.head = head;
    row.column = name;
    row.score = f.number("score");
    row.logit = f.number("logit");
    file.report.rows.push_back(row);
    column = (column + 1) % columns;
  }
  if (column != 0) {
    throw Error(path, "ends in the middle of item " + std::to_string(last_position) +
                          "'s score rows: the file is truncated");
  }
  const std::size_t found = file.report.items.size() + file.report.skipped.size();
  if (found != h.items) {
    throw Error(path, "holds " + std::to_string(found) + " of the shard's " +
                          std::to_string(h.items) + " items: the file is incomplete");
  }
  return file;
}

void check_shard_set(const std::vector<std::pair<std::string, ShardHeader>>& shards) {
  if (shards.empty()) throw Error("merge", "no shard outputs given");
  const auto& [first_path, first] = shards.front();
  std::vector<const std::string*> by_index(first.shard.count, nullptr);
  for (const auto& [path, header] : shards) {
    const std::string differs = difference(first, header);
    if (!differs.empty()) throw Error(path, differs + " (unlike " + first_path + ")");
    const std::string*& slot = by_index[header.shard.index];
    if (slot != nullptr) {
      throw Error(path, "shard " + header.shard.name() + " is given twice (also " + *slot + ")");
    }
    slot = &path;
  }
  std::string missing;
  for (std::size_t i = 0; i < by_index.size(); ++i) {
    if (by_index[i] == nullptr) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  }
  if (!missing.empty()) {
    throw Error("merge", "shard" + std::string(missing.find(',') == std::string::npos ? " " : "s ") +
                             missing + " of " + std::to_string(first.shard.count) +
                             " missing: every shard's output is needed");
  }
}

MergedRun merge_shards(std::vector<ShardFile> shards) {
  std::vector<std::pair<std::string, ShardHeader>> headers;
  for (const ShardFile& s : shards) headers.emplace_back(s.path, s.header);
  check_shard_set(headers);
  const ShardHeader& first = shards.front().header;

  // Every position of the work list exactly once, from the shard it hashes to.
  struct Entry {
    ShardFile* file;
    bool scored;
    std::size_t k;  // item of file->report, or line of its skipped list
  };
  std::vector<std::optional<Entry>> entries(first.total_items);
  for (ShardFile& s : shards) {
    for (std::size_t k = 0; k < s.positions.size(); ++k) entries[s.positions[k]] = Entry{&s, true, k};
    for (std::size_t k = 0; k < s.skipped_positions.size(); ++k) {
      entries[s.skipped_positions[k]] = Entry{&s, false, k};
    }
  }
  MergedRun merged;
  merged.report.items.reserve(first.total_items);
  merged.header = first;
  merged.header.shard = Shard{0, 1, ""};
  merged.header.items = first.total_items;
  merged.report.columns = shards.front().report.columns;
  const std::size_t columns = merged.report.columns.size();
  for (std::size_t p = 0; p < entries.size(); ++p) {
    if (!entries[p]) {
      throw Error("merge", "item " + std::to_string(p) + " of the work list is in no shard output");
    }
    const Entry& e = *entries[p];
    if (!e.scored) {
      merged.report.skipped.push_back(std::move(e.file->report.skipped[e.k]));
      continue;
    }
    const std::size_t item = merged.report.items.size();
    // Moved, not copied: a run of millions of items is held once.
    merged.report.items.push_back(std::move(e.file->report.items[e.k]));
    for (std::size_t c = 0; c < columns; ++c) {
      ScoreRow& row = e.file->report.rows[e.k * columns + c];
      row.item = item;
      merged.report.rows.push_back(std::move(row));
    }
  }
  assign_group_probabilities(&merged.report);
  return merged;
}

}  // namespace prefscore
