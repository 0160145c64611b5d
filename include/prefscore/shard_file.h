// The output of one shard of a sharded run (sharding.h), and `prefscore merge`, which joins the
// shards of a run back into the output one unsharded run writes.
//
// A shard file is JSON lines. Line 1 is a header:
//   {"prefscore_shard": 1, "command": "score"|"rank"|"eval", "shard": "I/N", "items": K,
//    "total_items": T, "work_list_sha256": ..., "models": [{"name", "head", "columns",
//    "weights_sha256", "fingerprint"}], "top": ..., "version": ...}
// then, for each of the shard's K items in work-list order, either its score rows (one per model
// and column: the `prefscore score` JSONL row without "prob", plus "index", the item's position
// in the whole work list) or one {"index", "image", "prompt", "group"?, "skipped": reason} row.
// Probabilities are softmaxes over whole groups, whose candidates may lie in other shards, so
// merge computes them once every shard is in. (`embed` shards are safetensors files carrying the
// same header: embedding_shards.h.)
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "prefscore/scoring.h"
#include "prefscore/sharding.h"

namespace prefscore {

struct ShardModel {
  std::string name;  // Scorer::model_name()
  std::string head;
  std::vector<std::string> columns;
  std::string weights_sha256;
  // sha256 of everything besides the image that decides its features: weights, architecture,
  // preprocessing, decode limits, device and precision (embedding_cache.h's key).
  std::string fingerprint;
};

// How a shard file names `scorer`, whose weights file has the digest `weights_sha256`.
ShardModel shard_model(const Scorer& scorer, const std::string& weights_sha256);

struct ShardHeader {
  std::string command;            // the command that wrote it: score, rank, eval or embed
  Shard shard;
  std::size_t items = 0;          // items of this shard, scored or skipped
  std::size_t total_items = 0;    // items of the whole work list
  std::string work_list_sha256;   // sharding.h work_list_sha256
  std::vector<ShardModel> models;
  std::size_t top = 0;            // rank: --top
  std::string version;            // prefscore version
};

// The header as one line of JSON (no newline), and back; parse errors name `where`.
std::string format_shard_header(const ShardHeader& header);
ShardHeader parse_shard_header(std::string_view text, const std::string& where);

// Checks that (path, header) pairs are the shards of one run: the same command, work list, models
// and shard count, each shard exactly once. Errors say which shard is missing or given twice, and
// which file differs from the first.
void check_shard_set(const std::vector<std::pair<std::string, ShardHeader>>& shards);

// The shard file of a run over `shard_items` (the work list's items at `positions`), whose
// scoring gave `report`.
std::string format_shard_output(const ShardHeader& header, const std::vector<ScoreItem>& shard_items,
                                const std::vector<std::size_t>& positions,
                                const ScoreReport& report);

struct ShardFile {
  std::string path;
  ShardHeader header;
  std::vector<std::size_t> positions;        // per scored item of `report`
  ScoreReport report;                        // rows without prob
  std::vector<std::size_t> skipped_positions;  // per line of report.skipped
};

// Reads and checks one shard file: its header, every row, and that it holds exactly `items`
// items, each of which hashes to this shard. Errors name FILE or FILE:LINE.
ShardFile read_shard_file(const std::string& path);

struct MergedRun {
  ShardHeader header;  // shard 0/1, items = total_items
  ScoreReport report;  // items in work-list order, probabilities over whole groups
};

// Joins the shards of one run (check_shard_set) into its items in work-list order, with the
// probabilities over whole groups.
MergedRun merge_shards(std::vector<ShardFile> shards);

}  // namespace prefscore
