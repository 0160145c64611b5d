// `prefscore compare`: which of two images fits the prompt better, with PickScore's tie rule.
#include <cstdio>
#include <memory>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/ranking.h"

namespace prefscore::cli {
namespace {

struct CompareOptions {
  ModelFlags model;
  std::string prompt;
  std::vector<std::string> images;
  double tie_threshold = 0.0;
  std::string format;
  std::string output;
};

void compare(const CompareOptions& opts, Context& context) {
  const auto scorers = open_scorers(opts.model, context);
  const std::vector<ScoreItem> items = {{opts.images[0], opts.prompt, "pair"},
                                        {opts.images[1], opts.prompt, "pair"}};
  const ScoreReport report = score_items(raw_pointers(scorers), items, ScoreRunOptions{});
  if (report.items.size() != 2) {
    print_skipped(report.skipped);
    throw Error("compare", "both images must be readable to compare them");
  }
  const std::size_t per_item = report.columns.size();
  std::vector<std::vector<std::string>> rows = {
      {"MODEL", "SCORE_A", "SCORE_B", "P(A)", "P(B)", "VERDICT"}};
  std::string jsonl;
  for (std::size_t c = 0; c < per_item; ++c) {
    const ScoreRow& a = report.rows[c];
    const ScoreRow& b = report.rows[per_item + c];
    const std::string verdict = pair_verdict(a.prob, b.prob, opts.tie_threshold);
    const std::string name = a.column == "score" ? a.model : a.model + ":" + a.column;
    rows.push_back({name, format_score(a.score), format_score(b.score), format_score(a.prob), format_score(b.prob), verdict});
    nlohmann::ordered_json j;
    j["model"] = a.model;
    if (a.head == "mps") j["condition"] = a.column;
    j["prompt"] = opts.prompt;
    j["image_a"] = opts.images[0];
    j["image_b"] = opts.images[1];
    j["score_a"] = a.score;
    j["score_b"] = b.score;
    j["prob_a"] = a.prob;
    j["prob_b"] = b.prob;
    j["tie_threshold"] = opts.tie_threshold;
    j["verdict"] = verdict;
    jsonl += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  const std::string format = resolve_format(opts.format, opts.output);
  emit(format == "table" ? "A: " + opts.images[0] + "\nB: " + opts.images[1] + "\n" + format_table(rows)
                         : jsonl,
       opts.output);
}

}  // namespace

void add_compare(CLI::App& app, Context& context) {
  auto opts = std::make_shared<CompareOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Compare two images for one prompt: p(A), p(B) and a verdict A, B or tie");
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/true);
  cmd->add_option("-p,--prompt", opts->prompt, "The prompt")->required();
  cmd->add_option("images", opts->images, "Image A and image B")->required()->expected(2);
  cmd->add_option("--tie-threshold", opts->tie_threshold,
                  "Verdict is tie when |p(A) - p(B)| <= T (PickScore's rule; `eval` tunes T on a "
                  "validation split) [default: 0: only equal scores tie]")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--format", opts->format, "table or jsonl [default: table on a terminal, else jsonl]")
      ->check(CLI::IsMember({"table", "jsonl"}));
  cmd->add_option("-o,--output", opts->output, "Write here (atomically) instead of stdout");
  cmd->callback([opts, &context] { compare(*opts, context); });
}

}  // namespace prefscore::cli
