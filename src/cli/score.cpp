// `prefscore score`: score images against their prompt with one or more models. With -o, the
// results are checkpointed into OUT.partial as they come (a killed run continues with --resume)
// and OUT appears, atomically, only when every image is done.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "input_flags.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/error.h"
#include "prefscore/ranking.h"
#include "prefscore/report_pages.h"
#include "prefscore/score_output.h"
#include "shard_flags.h"

namespace prefscore::cli {
namespace {

struct ScoreOptions {
  ModelFlags model;
  InputFlags input;
  ShardFlags shard;
  std::string format;
  std::string output;
  bool resume = false;
  std::size_t checkpoint_every = 16;
  std::string report;
};

std::atomic<int> g_stop_signal{0};

// The first SIGINT/SIGTERM asks the run to stop at its next checkpoint; a second one kills.
extern "C" void request_stop(int signal) {
  g_stop_signal.store(signal);
  std::signal(signal, SIG_DFL);
}

void score(const ScoreOptions& opts, Context& context) {
  const Shard shard = resolve_shard(opts.shard, context);
  if (shard.active()) {
    check_shard_output(opts.format, opts.output, opts.input);
    check_no_shard_report(opts.report);
  }
  const auto scorers = open_scorers(opts.model, context);
  const bool checkpointed = !opts.output.empty() && opts.input.pixels.empty();
  if (opts.resume && !checkpointed) {
    throw Error("--resume", "continues a run that wrote -o FILE from image files or a manifest");
  }
  CheckpointOptions checkpoint;
  checkpoint.partial_path = opts.output + ".partial";
  checkpoint.resume = opts.resume;
  checkpoint.items_per_checkpoint = opts.checkpoint_every;
  checkpoint.stop_requested = [] { return g_stop_signal.load() != 0; };
  std::error_code ec;
  if (checkpointed && std::filesystem::exists(checkpoint.partial_path, ec) &&
      std::filesystem::exists(opts.output, ec) &&
      std::filesystem::last_write_time(checkpoint.partial_path, ec) <=
          std::filesystem::last_write_time(opts.output, ec)) {
    // Left by a run killed after its output was complete: nothing in it is missing from OUT.
    std::filesystem::remove(checkpoint.partial_path, ec);
  }
  if (checkpointed) {
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
  }
  ScoreReport report;
  try {
    if (shard.active()) {
      std::vector<std::string> unlisted;
      const std::vector<ScoreItem> items = list_items(opts.input, &unlisted);
      emit(score_shard("score", shard, opts.input, raw_pointers(scorers),
                       images_per_call(opts.model), items, /*top=*/0,
                       checkpointed ? &checkpoint : nullptr, context),
           opts.output);
      if (checkpointed) std::filesystem::remove(checkpoint.partial_path);
      report_skipped(unlisted, context);
      return;
    }
    report = run_scoring(opts.input, raw_pointers(scorers), images_per_call(opts.model),
                         checkpointed ? &checkpoint : nullptr);
  } catch (const ScoringStopped& e) {
    std::cerr << "prefscore: interrupted: " << e.what() << "\n";
    context.exit_code = 128 + g_stop_signal.load();
    return;
  }
  const std::string format = resolve_format(opts.format, opts.output);
  emit(format == "csv"     ? format_scores_csv(report)
       : format == "table" ? format_scores_table(report)
                           : format_scores_jsonl(report),
       opts.output);
  if (checkpointed) std::filesystem::remove(checkpoint.partial_path);
  write_report(
      opts.report, "score",
      [&] {
        return score_report_page(report, rank_candidates(report, /*column=*/0, /*top_k=*/0),
                                 /*rank_column=*/false);
      },
      context);
  report_skipped(report.skipped, context);
}

}  // namespace

void add_score(CLI::App& app, Context& context) {
  auto opts = std::make_shared<ScoreOptions>();
  CLI::App* cmd = app.add_subcommand("score", "Score images against their prompt (one column per "
                                              "model and MPS condition)");
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/true);
  add_input_flags(*cmd, opts->input);
  add_shard_flags(*cmd, opts->shard);
  cmd->add_option("--format", opts->format,
                  "table, jsonl or csv [default: table on a terminal, else jsonl; with -o, from "
                  "its extension]")
      ->check(CLI::IsMember({"table", "jsonl", "csv"}));
  cmd->add_option("-o,--output", opts->output,
                  "Write here instead of stdout: results are checkpointed to OUT.partial as they "
                  "come, and OUT is written atomically when all are done");
  cmd->add_flag("--resume", opts->resume,
                "Continue an interrupted -o run from OUT.partial, scoring only what it lacks "
                "[default: off; without it an existing OUT.partial is an error]");
  cmd->add_option("--checkpoint-every", opts->checkpoint_every,
                  "Images per checkpoint of OUT.partial (fsync'ed; SIGINT/SIGTERM stop after the "
                  "next one, exit 130/143) [default: 16]")
      ->check(CLI::PositiveNumber);
  add_report_flag(*cmd, opts->report,
                  "every image with its scores (sortable), a histogram of the first score "
                  "column and the best-of-N grid of each prompt",
                  /*thumbnails=*/true);
  cmd->callback([opts, &context] { score(*opts, context); });
}

}  // namespace prefscore::cli
