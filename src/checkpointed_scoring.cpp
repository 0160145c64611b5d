#include "prefscore/checkpointed_scoring.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "prefscore/io.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr int kFormatVersion = 1;

// What one item came to: its rows (score, logit per column) or why it was skipped.
struct ItemResult {
  bool done = false;
  std::vector<std::pair<double, double>> rows;
  std::string skipped;
};

// FNV-1a 64 over the inputs and models: the same on every build and platform, unlike std::hash.
std::string fingerprint(const std::vector<ScoreItem>& items,
                        const std::vector<std::pair<std::string, std::string>>& columns) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // separator, so ("ab","c") != ("a","bc")
  };
  for (const auto& [model, column] : columns) {
    mix(model);
    mix(column);
  }
  for (const ScoreItem& item : items) {
    mix(item.image);
    mix(item.prompt);
    mix(item.group);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// The chunk size and batch size are part of the header because they decide which images share a
// model call, and batch composition changes the last bits of a float32 result: a resumed run uses
// the same ones, so its report equals an uninterrupted run's exactly.
Json header_json(const std::vector<ScoreItem>& items,
                 const std::vector<std::pair<std::string, std::string>>& columns,
                 std::size_t chunk, int batch_size) {
  Json columns_json = Json::array();
  for (const auto& [model, column] : columns) columns_json.push_back({model, column});
  return {{"prefscore_partial", kFormatVersion},
          {"columns", columns_json},
          {"items", items.size()},
          {"fingerprint", fingerprint(items, columns)},
          {"items_per_checkpoint", chunk},
          {"batch_size", batch_size}};
}

// Appends and fsyncs: a checkpoint is on disk before the next chunk starts.
class PartialWriter {
 public:
  PartialWriter(const std::string& path, bool truncate) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | (truncate ? O_TRUNC : 0), 0644);
    if (fd_ < 0) throw Error(path, std::string("cannot write the partial output: ") + std::strerror(errno));
  }
  ~PartialWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  PartialWriter(const PartialWriter&) = delete;
  PartialWriter& operator=(const PartialWriter&) = delete;

  void append(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(path_, std::string("write failed: ") + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
  }
  void sync() {
    if (::fsync(fd_) != 0) throw Error(path_, std::string("fsync failed: ") + std::strerror(errno));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Reads a partial file back into `results`; returns the byte length of its prefix made of the
// header and whole chunks. The items of a chunk left incomplete (a kill during its write) are
// reset and scored again, as one chunk, like the first time.
std::size_t read_partial(const std::string& path, const Json& header, std::size_t chunk,
                         std::vector<ItemResult>* results) {
  const std::string text = read_file(path);
  std::size_t pos = 0, intact = 0;
  bool header_seen = false;
  std::vector<std::size_t> in_chunk((results->size() + chunk - 1) / chunk, 0);
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // torn: written without its newline
    Json line;
    try {
      line = parse_json_line(std::string_view(text).substr(pos, end - pos), path);
    } catch (const Error&) {
      break;  // torn mid-line (or not a line prefscore wrote: what follows is scored again)
    }
    pos = end + 1;
    if (!header_seen) {
      if (!line.is_object() || !line.contains("prefscore_partial")) {
        throw Error(path, "is not a prefscore partial output");
      }
      if (line.value("items_per_checkpoint", Json()) != header["items_per_checkpoint"] ||
          line.value("batch_size", Json()) != header["batch_size"]) {
        throw Error(path, "was written with --batch-size " + line.value("batch_size", Json()).dump() +
                              " and " + line.value("items_per_checkpoint", Json()).dump() +
                              " images per checkpoint; resume with the same flags");
      }
      if (line != header) {
        throw Error(path, "was written for other inputs or models (its header differs); remove "
                          "it or run without --resume");
      }
      header_seen = true;
      intact = pos;
      continue;
    }
    if (!line.is_object() || !line.contains("i") || !line["i"].is_number_unsigned() ||
        line["i"].get<std::size_t>() >= results->size()) {
      throw Error(path, "damaged: a line without a valid item index");
    }
    const std::size_t i = line["i"].get<std::size_t>();
    ItemResult& r = (*results)[i];
    r = ItemResult{};
    r.done = true;
    if (line.contains("skipped")) {
      r.skipped = line["skipped"].get<std::string>();
    } else {
      for (const Json& row : line.at("rows")) {
        r.rows.emplace_back(row.at(0).get<double>(), row.at(1).get<double>());
      }
    }
    const std::size_t c = i / chunk;
    const std::size_t size = std::min(results->size(), (c + 1) * chunk) - c * chunk;
    if (++in_chunk[c] == size) intact = pos;
  }
  if (!header_seen) return 0;
  for (std::size_t c = 0; c < in_chunk.size(); ++c) {
    const std::size_t size = std::min(results->size(), (c + 1) * chunk) - c * chunk;
    if (in_chunk[c] == size) continue;
    for (std::size_t i = c * chunk; i < c * chunk + size; ++i) (*results)[i] = ItemResult{};
  }
  return intact;
}

// The final report from every item's results: rows in item order, probabilities as score_items
// computes them (assign_group_probabilities).
ScoreReport assemble(const std::vector<Scorer*>& scorers, const std::vector<ScoreItem>& items,
                     const std::vector<ItemResult>& results,
                     const std::vector<std::pair<std::string, std::string>>& columns) {
  ScoreReport report;
  report.columns = columns;
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (results[i].skipped.empty()) {
      kept.push_back(i);
      report.items.push_back(items[i]);
    } else {
      report.skipped.push_back(results[i].skipped);
    }
  }
  for (std::size_t k = 0; k < kept.size(); ++k) {
    std::size_t c = 0;
    for (const Scorer* s : scorers) {
      for (const std::string& column : s->columns()) {
        const auto& [score, logit] = results[kept[k]].rows[c];
        report.rows.push_back(ScoreRow{k, s->model_name(), s->head(), column, score, /*prob=*/0.0, logit});
        ++c;
      }
    }
  }
  assign_group_probabilities(&report);
  return report;
}

}  // namespace

ScoreReport score_items_checkpointed(const std::vector<Scorer*>& scorers,
                                     const std::vector<ScoreItem>& items,
                                     const ScoreRunOptions& options,
                                     const CheckpointOptions& checkpoint) {
  std::vector<std::pair<std::string, std::string>> columns;
  for (const Scorer* s : scorers) {
    for (const std::string& c : s->columns()) columns.emplace_back(s->model_name(), c);
  }
  // Chunks are whole batches, so the batches are those of an unchunked run.
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  const std::size_t chunk =
      (std::max<std::size_t>(1, checkpoint.items_per_checkpoint) + batch - 1) / batch * batch;
  const Json header = header_json(items, columns, chunk, options.batch_size);
  std::vector<ItemResult> results(items.size());
  std::error_code ec;
  const bool exists = fs::exists(checkpoint.partial_path, ec);
  if (exists && !checkpoint.resume) {
    throw Error(checkpoint.partial_path,
                "exists (an interrupted run?); pass --resume to continue it, or remove it");
  }
  const std::size_t intact =
      exists ? read_partial(checkpoint.partial_path, header, chunk, &results) : 0;
  if (intact > 0) fs::resize_file(checkpoint.partial_path, intact);
  PartialWriter writer(checkpoint.partial_path, /*truncate=*/intact == 0);
  if (intact == 0) {
    writer.append(header.dump() + "\n");
    writer.sync();
  }

  const std::size_t total = items.size();
  std::size_t done = 0;
  for (const ItemResult& r : results) done += r.done ? 1 : 0;
  bool first = true;
  std::vector<std::string> warnings;
  std::size_t cache_hits = 0, images_encoded = 0;
  for (std::size_t start = 0; start < total; start += chunk) {
    const std::size_t end = std::min(total, start + chunk);
    if (results[start].done) continue;  // a whole chunk from the partial file
    if (!first && checkpoint.stop_requested && checkpoint.stop_requested()) {
      throw ScoringStopped(checkpoint.partial_path);
    }
    first = false;
    const std::vector<ScoreItem> part_items(items.begin() + static_cast<std::ptrdiff_t>(start),
                                            items.begin() + static_cast<std::ptrdiff_t>(end));
    ScoreRunOptions chunk_options = options;
    if (options.progress) {
      // score_items counts per scorer; report whole items done across the run.
      const std::size_t n = part_items.size(), per = n * scorers.size();
      chunk_options.progress = [&options, done, n, per, total](std::size_t d, std::size_t) {
        options.progress(done + (per ? d * n / per : 0), total);
      };
    }
    const ScoreReport part = score_items(scorers, part_items, chunk_options);
    warnings.insert(warnings.end(), part.warnings.begin(), part.warnings.end());
    cache_hits += part.cache_hits;
    images_encoded += part.images_encoded;
    std::string lines;
    std::size_t next_kept = 0;
    for (std::size_t b = 0; b < part_items.size(); ++b) {
      const std::size_t i = start + b;
      Json line = {{"i", i}};
      const bool kept = next_kept < part.items.size() &&
                        part.items[next_kept].image == part_items[b].image &&
                        part.items[next_kept].prompt == part_items[b].prompt &&
                        part.items[next_kept].group == part_items[b].group;
      ItemResult& r = results[i];
      r.done = true;
      if (kept) {
        Json rows = Json::array();
        for (std::size_t c = 0; c < columns.size(); ++c) {
          const ScoreRow& row = part.rows[next_kept * columns.size() + c];
          r.rows.emplace_back(row.score, row.logit);
          rows.push_back({row.score, row.logit});
        }
        line["rows"] = rows;
        ++next_kept;
      } else {
        r.skipped = skip_message(part, part_items[b]);
        if (r.skipped.empty()) r.skipped = part_items[b].image + ": could not be scored";
        line["skipped"] = r.skipped;
      }
      lines += line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    }
    writer.append(lines);
    writer.sync();
    done += part_items.size();
    if (options.progress) options.progress(done, total);
  }
  ScoreReport report = assemble(scorers, items, results, columns);
  report.warnings = std::move(warnings);
  report.cache_hits = cache_hits;
  report.images_encoded = images_encoded;
  return report;
}

}  // namespace prefscore
