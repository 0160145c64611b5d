#include "shard_flags.h"

#include <iostream>

#include "output.h"
#include "prefscore/error.h"
#include "prefscore/file_digest_memo.h"
#include "prefscore/shard_file.h"
#include "prefscore/weights_verification.h"

namespace prefscore::cli {
namespace {

// The weights digest a shard header records: the card's once the file was verified against it,
// else the file's own, remembered with the verification records (computed once, ~200 MB/s).
std::string weights_digest(const Scorer& scorer, const Context& context) {
  if (scorer.verified_sha256()) return *scorer.verified_sha256();
  return FileDigestMemo(verification_memo_dir(context.cache_dir)).sha256(scorer.weights_file()).sha256;
}

}  // namespace

void add_shard_flags(CLI::App& command, ShardFlags& flags) {
  command.add_option("--shard", flags.shard,
                     "Run shard I of N (I from 0): the items whose hash falls in it, written as a "
                     "shard file for `prefscore merge` [default: from SLURM_ARRAY_TASK_ID/"
                     "SLURM_ARRAY_TASK_COUNT when set, else none; 0/1 = everything]");
  command.add_option("--shard-count", flags.shard_count,
                     "With a Kubernetes Indexed Job: the number of shards (the Job's completions); "
                     "the shard index is JOB_COMPLETION_INDEX [default: none]")
      ->check(CLI::PositiveNumber);
}

Shard resolve_shard(const ShardFlags& flags, const Context& context) {
  Shard shard = prefscore::resolve_shard(flags.shard, flags.shard_count, context.shard_environment);
  if (shard.active()) {
    std::cerr << "prefscore: shard " << shard.name() << " (from " << shard.origin << ")\n";
  }
  return shard;
}

void check_shard_output(const std::string& format, const std::string& output,
                        const InputFlags& input) {
  if (!format.empty() && format != "jsonl") {
    throw Error("--format", "a shard writes a shard file (JSON lines); choose the format when "
                            "merging (`prefscore merge OUT.csv ...`)");
  }
  if (resolve_format("", output.empty() ? "out.jsonl" : output) == "csv") {
    throw Error(output, "a shard writes a shard file (JSON lines); name it .jsonl and choose the "
                        "format when merging");
  }
  if (!input.pixels.empty()) throw Error("--pixels", "cannot be sharded; give image files");
}

void check_no_shard_report(const std::string& report) {
  if (report.empty()) return;
  throw Error("--report", "a shard holds only part of the images, so its page would mislead; run "
                          "without --shard (and without SLURM_ARRAY_TASK_ID/JOB_COMPLETION_INDEX) "
                          "for a report");
}

std::string score_shard(const std::string& command, const Shard& shard, const InputFlags& input,
                        const std::vector<Scorer*>& scorers, int batch_size,
                        const std::vector<ScoreItem>& items, std::size_t top,
                        const CheckpointOptions* checkpoint, Context& context) {
  const std::vector<std::size_t> positions = shard_positions(items, shard);
  std::vector<ScoreItem> shard_items;
  for (std::size_t p : positions) shard_items.push_back(items[p]);
  std::cerr << "prefscore: shard " << shard.name() << ": " << shard_items.size() << " of "
            << items.size() << " items\n";
  ScoreReport report;
  if (!shard_items.empty()) {
    report = score_listed_items(input, scorers, batch_size, shard_items, checkpoint);
  }
  ShardHeader header;
  header.command = command;
  header.shard = shard;
  header.items = shard_items.size();
  header.total_items = items.size();
  header.work_list_sha256 = work_list_sha256(items);
  for (const Scorer* s : scorers) header.models.push_back(shard_model(*s, weights_digest(*s, context)));
  header.top = top;
  header.version = PREFSCORE_VERSION;
  report_skipped(report.skipped, context);
  return format_shard_output(header, shard_items, positions, report);
}

}  // namespace prefscore::cli
