// `prefscore rank`: best-of-N. Ranks the candidates of each prompt (or manifest group) and can copy
// or link the best ones into a folder.
#include <memory>

#include "commands.h"
#include "input_flags.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/ranking.h"
#include "prefscore/ranking_output.h"
#include "prefscore/report_pages.h"
#include "shard_flags.h"

namespace prefscore::cli {
namespace {

struct RankOptions {
  ModelFlags model;
  InputFlags input;
  ShardFlags shard;
  std::size_t top = 0;
  std::string copy_to;
  std::string link_to;
  bool force = false;
  std::string format;
  std::string output;
  std::string report;
};

void rank(const RankOptions& opts, Context& context) {
  if (!opts.copy_to.empty() && !opts.link_to.empty()) {
    throw Error("--copy-to", "give --copy-to or --link-to, not both");
  }
  const Shard shard = resolve_shard(opts.shard, context);
  if (shard.active()) {
    check_shard_output(opts.format, opts.output, opts.input);
    check_no_shard_report(opts.report);
    if (!opts.copy_to.empty() || !opts.link_to.empty()) {
      throw Error(opts.copy_to.empty() ? "--link-to" : "--copy-to",
                  "a shard holds only part of each group: merge the shards, then export with "
                  "`prefscore merge OUT SHARDS... --copy-to DIR`");
    }
  }
  const auto scorers = open_scorers(opts.model, context);
  if (scorers.size() != 1) throw Error("--model", "rank takes one model");
  if (shard.active()) {
    std::vector<std::string> unlisted;
    const std::vector<ScoreItem> items = list_items(opts.input, &unlisted);
    emit(score_shard("rank", shard, opts.input, raw_pointers(scorers),
                     images_per_call(opts.model), items, opts.top, /*checkpoint=*/nullptr,
                     context),
         opts.output);
    report_skipped(unlisted, context);
    return;
  }
  const ScoreReport report =
      run_scoring(opts.input, raw_pointers(scorers), images_per_call(opts.model));
  const std::vector<RankedGroup> groups = rank_candidates(report, /*column=*/0, opts.top);
  const std::string format = resolve_format(opts.format, opts.output);
  const std::string condition = scorers[0]->head() == "mps" ? scorers[0]->columns()[0] : "";
  const std::string text =
      format_ranking(report, groups, scorers[0]->model_name(), condition, format);
  if (!opts.copy_to.empty() || !opts.link_to.empty()) {
    export_ranked(report, groups, opts.link_to.empty() ? opts.copy_to : opts.link_to,
                  /*symlink=*/!opts.link_to.empty(), opts.force);
  }
  emit(text, opts.output);
  write_report(
      opts.report, "rank",
      [&] { return score_report_page(report, groups, /*rank_column=*/true); }, context);
  report_skipped(report.skipped, context);
}

}  // namespace

void add_rank(CLI::App& app, Context& context) {
  auto opts = std::make_shared<RankOptions>();
  CLI::App* cmd = app.add_subcommand(
      "rank", "Best-of-N: rank the candidate images of each prompt (or manifest group)");
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/false);
  add_input_flags(*cmd, opts->input);
  add_shard_flags(*cmd, opts->shard);
  cmd->add_option("--top", opts->top, "Keep the best K of each group [default: 0 = all]");
  cmd->add_option("--copy-to", opts->copy_to, "Copy the ranked images here as <rank>_<name>");
  cmd->add_option("--link-to", opts->link_to, "Symlink the ranked images here as <rank>_<name>");
  cmd->add_flag("--force", opts->force, "Overwrite existing files in --copy-to/--link-to");
  cmd->add_option("--format", opts->format,
                  "table, jsonl or csv [default: table on a terminal, else jsonl]")
      ->check(CLI::IsMember({"table", "jsonl", "csv"}));
  cmd->add_option("-o,--output", opts->output, "Write here (atomically) instead of stdout");
  add_report_flag(*cmd, opts->report,
                  "every image with its score and rank (sortable), a histogram of the scores "
                  "and the best-of-N grid of each group, best first",
                  /*thumbnails=*/true);
  cmd->callback([opts, &context] { rank(*opts, context); });
}

}  // namespace prefscore::cli
