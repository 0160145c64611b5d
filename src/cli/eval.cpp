// `prefscore eval`: how often a metric agrees with people, computed as each paper's official
// evaluation code does (prefscore/metrics.h); the inputs are score files, not images.
#include <memory>
#include <string>

#include "commands.h"
#include "output.h"
#include "prefscore/eval_inputs.h"
#include "prefscore/metrics.h"

namespace prefscore::cli {
namespace {

struct EvalOptions {
  std::string input;
  std::string output;
  bool strict = false;
  // pairs
  double logit_scale = 100.0;
  std::string score_field = "score";
  int threshold_steps = 0;
  BootstrapOptions bootstrap;
  // rankings
  std::string style;
};

void print_report(const EvalReport& report, const EvalOptions& opts, Context& context) {
  report_skipped(report.skipped, context);
  emit(report.json.dump(2) + "\n", opts.output);
}

void add_common(CLI::App& cmd, EvalOptions& opts, const std::string& rows) {
  cmd.add_option("file", opts.input, "JSONL file, one object a line: " + rows)
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_flag("--strict", opts.strict,
               "Stop at the first malformed row (exit 1) instead of skipping it (exit 3) "
               "[default: off]");
  cmd.add_option("-o,--output", opts.output,
                 "Write the JSON report here (atomically) instead of stdout");
}

void add_bootstrap(CLI::App& cmd, EvalOptions& opts) {
  cmd.add_option("--bootstrap", opts.bootstrap.resamples,
                 "Add a percentile bootstrap 95% interval from N resamples [default: 0: none]")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--seed", opts.bootstrap.seed, "Seed of the bootstrap resampling [default: 0]");
}

}  // namespace

void add_eval(CLI::App& app, Context& context) {
  CLI::App* eval = app.add_subcommand(
      "eval", "Agreement of a metric with human preferences (pairs, rankings, rank correlation)");
  eval->require_subcommand(1);

  auto pairs_opts = std::make_shared<EvalOptions>();
  CLI::App* pairs = eval->add_subcommand(
      "pairs",
      "Pick-a-Pic pairwise accuracy with ties: tie threshold tuned on the validation "
      "split, reported on the test split");
  add_common(*pairs, *pairs_opts,
             "{\"split\": validation|test (or _unique), \"label\": \"0\"|\"1\"|\"tie\" (or "
             "label_0), \"score_0\", \"score_1\"}");
  pairs
      ->add_option("--logit-scale", pairs_opts->logit_scale,
                   "Multiplies the scores before the softmax (the checkpoint's "
                   "exp(logit_scale)) [default: 100]")
      ->check(CLI::PositiveNumber);
  pairs->add_option("--score-field", pairs_opts->score_field,
                    "Read the scores from <FIELD>_0 and <FIELD>_1 [default: score]");
  pairs
      ->add_option("--threshold-steps", pairs_opts->threshold_steps,
                   "Search tie thresholds k/N, k = 0..N, instead of PickScore's grid 0, 0.1, "
                   "..., 1 [default: 0: the official grid]")
      ->check(CLI::NonNegativeNumber);
  add_bootstrap(*pairs, *pairs_opts);
  pairs->callback([pairs_opts, &context] {
    PairEvalOptions options;
    options.score_field = pairs_opts->score_field;
    options.logit_scale = pairs_opts->logit_scale;
    options.strict = pairs_opts->strict;
    options.bootstrap = pairs_opts->bootstrap;
    if (pairs_opts->threshold_steps > 0) {
      options.thresholds = uniform_thresholds(pairs_opts->threshold_steps);
    }
    print_report(evaluate_pair_file(pairs_opts->input, options), *pairs_opts, context);
  });

  auto rankings_opts = std::make_shared<EvalOptions>();
  CLI::App* rankings = eval->add_subcommand(
      "rankings", "Per-prompt rankings: HPD v2 ranking accuracy or ImageReward Spearman");
  add_common(*rankings, *rankings_opts,
             "{\"prompt_id\", \"scores\": [...], \"human_rank\": [...]}");
  rankings
      ->add_option("--style", rankings_opts->style,
                   "hpdv2: inversion score, human_rank 0 = best; imagereward: Spearman of "
                   "-scores and human_rank, 1 = best")
      ->required()
      ->check(CLI::IsMember({"hpdv2", "imagereward"}));
  add_bootstrap(*rankings, *rankings_opts);
  rankings->callback([rankings_opts, &context] {
    const RankingStyle style =
        rankings_opts->style == "hpdv2" ? RankingStyle::kHpdv2 : RankingStyle::kImageReward;
    print_report(evaluate_ranking_file(rankings_opts->input, style, rankings_opts->strict,
                                       rankings_opts->bootstrap),
                 *rankings_opts, context);
  });

  auto rankcorr_opts = std::make_shared<EvalOptions>();
  CLI::App* rankcorr = eval->add_subcommand(
      "rankcorr", "Spearman and Kendall tau-b (with p-values) between a metric and human scores");
  add_common(*rankcorr, *rankcorr_opts, "{\"name\", \"metric\": x, \"human\": y}");
  rankcorr->callback([rankcorr_opts, &context] {
    print_report(evaluate_rankcorr_file(rankcorr_opts->input, rankcorr_opts->strict),
                 *rankcorr_opts, context);
  });
}

}  // namespace prefscore::cli
