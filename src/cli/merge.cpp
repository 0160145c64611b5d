// `prefscore merge OUT SHARD...`: joins the shard files of a sharded score, rank, eval or embed
// run (--shard, or a Slurm/Kubernetes array) into what one unsharded run writes: score rows (for
// score and eval: `eval --scores` reads them), the ranking, or embed's safetensors file; items in
// work-list order, probabilities over whole groups. Refuses shards of different runs, a missing
// or duplicated shard, and a truncated file.
#include <iostream>
#include <memory>

#include "commands.h"
#include "output.h"
#include "prefscore/embedding_shards.h"
#include "prefscore/error.h"
#include "prefscore/ranking_output.h"
#include "prefscore/score_output.h"
#include "prefscore/shard_file.h"

namespace prefscore::cli {
namespace {

struct MergeOptions {
  std::string output;
  std::vector<std::string> shards;
  std::string format;
  std::string copy_to;
  std::string link_to;
  bool force = false;
};

void merge(const MergeOptions& opts, Context& context) {
  if (!opts.copy_to.empty() && !opts.link_to.empty()) {
    throw Error("--copy-to", "give --copy-to or --link-to, not both");
  }
  if (looks_like_safetensors(opts.shards.front())) {
    if (!opts.format.empty() || !opts.copy_to.empty() || !opts.link_to.empty()) {
      throw Error(opts.shards.front(), "`embed` shards merge into a safetensors file; --format, "
                                       "--copy-to and --link-to do not apply");
    }
    if (opts.output == "-") throw Error("-", "`embed` shards merge into a file: name it");
    const MergedEmbeddings merged = merge_embedding_shards(opts.shards, opts.output);
    std::cerr << "prefscore: merged " << merged.shards << " shards of `embed`: " << merged.images
              << " images embedded, " << merged.skipped.size() << " skipped\n";
    report_skipped(merged.skipped, context);
    return;
  }
  std::vector<ShardFile> shards;
  for (const std::string& path : opts.shards) shards.push_back(read_shard_file(path));
  const std::size_t shard_count = shards.size();
  const MergedRun run = merge_shards(std::move(shards));
  const bool ranked = run.header.command == "rank";
  if (!ranked && (!opts.copy_to.empty() || !opts.link_to.empty())) {
    throw Error(opts.copy_to.empty() ? "--link-to" : "--copy-to",
                "exports ranked images: the shards were written by `" + run.header.command +
                    "`, not `rank`");
  }
  const std::string output = opts.output == "-" ? "" : opts.output;
  const std::string format = resolve_format(opts.format, output);
  std::string text;
  if (ranked) {
    const std::vector<RankedGroup> groups = rank_candidates(run.report, /*column=*/0, run.header.top);
    const ShardModel& model = run.header.models.front();
    text = format_ranking(run.report, groups, model.name,
                          model.head == "mps" ? model.columns.front() : "", format);
    if (!opts.copy_to.empty() || !opts.link_to.empty()) {
      export_ranked(run.report, groups, opts.link_to.empty() ? opts.copy_to : opts.link_to,
                    /*symlink=*/!opts.link_to.empty(), opts.force);
    }
  } else {
    text = format == "csv"     ? format_scores_csv(run.report)
           : format == "table" ? format_scores_table(run.report)
                               : format_scores_jsonl(run.report);
  }
  emit(text, output);
  std::cerr << "prefscore: merged " << shard_count << " shards of `" << run.header.command
            << "`: " << run.report.items.size() << " items scored, " << run.report.skipped.size()
            << " skipped\n";
  report_skipped(run.report.skipped, context);
}

}  // namespace

void add_merge(CLI::App& app, Context& context) {
  auto opts = std::make_shared<MergeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "Join the shard outputs of a sharded score/rank/eval/embed run into one output");
  cmd->add_option("output", opts->output,
                  "Merged output file (written atomically), or - for stdout")
      ->required();
  cmd->add_option("shards", opts->shards, "Every shard file of the run (any order)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", opts->format,
                  "table, jsonl or csv [default: from OUT's extension (.csv, else jsonl); table "
                  "for - on a terminal]")
      ->check(CLI::IsMember({"table", "jsonl", "csv"}));
  cmd->add_option("--copy-to", opts->copy_to,
                  "rank shards: copy the ranked images here as <rank>_<name>");
  cmd->add_option("--link-to", opts->link_to,
                  "rank shards: symlink the ranked images here as <rank>_<name>");
  cmd->add_flag("--force", opts->force, "Overwrite existing files in --copy-to/--link-to");
  cmd->callback([opts, &context] { merge(*opts, context); });
}

}  // namespace prefscore::cli
