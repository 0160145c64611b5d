// `prefscore score`: score images against their prompt with one or more models.
#include <memory>

#include "commands.h"
#include "input_flags.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/score_output.h"

namespace prefscore::cli {
namespace {

struct ScoreOptions {
  ModelFlags model;
  InputFlags input;
  std::string format;
  std::string output;
};

void score(const ScoreOptions& opts, Context& context) {
  const auto scorers = open_scorers(opts.model, context);
  const ScoreReport report = run_scoring(opts.input, raw_pointers(scorers), opts.model.batch_size);
  const std::string format = resolve_format(opts.format, opts.output);
  emit(format == "csv"     ? format_scores_csv(report)
       : format == "table" ? format_scores_table(report)
                           : format_scores_jsonl(report),
       opts.output);
  report_skipped(report.skipped, context);
}

}  // namespace

void add_score(CLI::App& app, Context& context) {
  auto opts = std::make_shared<ScoreOptions>();
  CLI::App* cmd = app.add_subcommand("score", "Score images against their prompt (one column per "
                                              "model and MPS condition)");
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/true);
  add_input_flags(*cmd, opts->input);
  cmd->add_option("--format", opts->format,
                  "table, jsonl or csv [default: table on a terminal, else jsonl; with -o, from "
                  "its extension]")
      ->check(CLI::IsMember({"table", "jsonl", "csv"}));
  cmd->add_option("-o,--output", opts->output, "Write here (atomically) instead of stdout");
  cmd->callback([opts, &context] { score(*opts, context); });
}

}  // namespace prefscore::cli
