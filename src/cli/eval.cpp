// `prefscore eval`: how often a metric agrees with people, computed as each paper's official
// evaluation code does (prefscore/metrics.h). The rows carry scores, or name images that are
// scored here with --model (each distinct image and prompt once) or looked up in a `prefscore
// score` output (--scores).
#include <memory>
#include <string>

#include "commands.h"
#include "input_flags.h"
#include "model_flags.h"
#include "output.h"
#include "shard_flags.h"
#include "prefscore/error.h"
#include "prefscore/eval_inputs.h"
#include "prefscore/eval_output.h"
#include "prefscore/image_scores.h"
#include "prefscore/io.h"
#include "prefscore/metrics.h"
#include "prefscore/report_pages.h"
#include "prefscore/score_output.h"

namespace prefscore::cli {
namespace {

struct EvalOptions {
  std::string input;
  std::string output;
  std::string format;
  std::string report;
  bool strict = false;
  // rows that name images
  ModelFlags model;
  InputFlags decode;  // --decode-threads, --cache
  ShardFlags shard;
  std::string scores;
  std::string score_model;
  std::string save_scores;
  // pairs
  double logit_scale = 100.0;
  std::string score_field = "score";
  int threshold_steps = 0;
  BootstrapOptions bootstrap;
  // rankings
  std::string style;
};

bool model_given(const ModelFlags& m) {
  return !m.models.empty() || !m.model_card.empty() || !m.weights.empty();
}

// The scorer and the distinct (image, prompt) items of the rows, for --model.
struct ImageScoring {
  ModelFlags model;
  std::vector<std::unique_ptr<Scorer>> scorers;
  std::vector<ScoreItem> items;
};

ImageScoring prepare_image_scoring(
    const EvalOptions& opts, std::vector<ImageRequest> (*requests_of)(const std::string&, bool),
    Context& context) {
  const std::vector<ImageRequest> requests = requests_of(opts.input, opts.strict);
  if (requests.empty()) {
    throw Error(opts.input, "no row names images to score with --model (fields image_0/image_1 "
                            "or images)");
  }
  ImageScoring scoring;
  scoring.model = opts.model;
  const std::vector<std::string> conditions = requested_conditions(requests);
  if (!conditions.empty()) {
    scoring.model.condition.clear();
    for (const std::string& c : conditions) {
      scoring.model.condition += (scoring.model.condition.empty() ? "" : ",") + c;
    }
    scoring.model.conditions_optional = true;
  }
  scoring.scorers = open_scorers(scoring.model, context);
  if (conditions.empty() && scoring.scorers.front()->columns().size() > 1) {
    throw Error("--condition", "eval scores each row under one condition: name one, or give the "
                               "rows a \"condition\" field");
  }
  scoring.items = items_to_score(requests);
  return scoring;
}

// With a shard (--shard or the scheduler's environment): scores this shard's part of the images
// the rows name into a shard file and returns true; the evaluation itself runs on the merged
// scores (`prefscore merge` then `eval --scores`).
bool score_eval_shard(const EvalOptions& opts,
                      std::vector<ImageRequest> (*requests_of)(const std::string&, bool),
                      Context& context) {
  if (!model_given(opts.model)) {
    if (!opts.shard.shard.empty() || opts.shard.shard_count != 0) {
      throw Error("--shard", "splits the images that --model scores; give --model (evaluate the "
                             "merged scores with --scores)");
    }
    // Scores in the rows or a --scores file: nothing worth splitting, whatever the environment.
    return false;
  }
  const Shard shard = resolve_shard(opts.shard, context);
  if (!shard.active()) return false;
  check_no_shard_report(opts.report);
  if (!opts.format.empty()) {
    throw Error("--format", "a shard writes a shard file (JSON lines) for `prefscore merge`");
  }
  check_shard_output("", opts.output, opts.decode);
  const ImageScoring scoring = prepare_image_scoring(opts, requests_of, context);
  emit(score_shard("eval", shard, opts.decode, raw_pointers(scoring.scorers),
                   images_per_call(scoring.model), scoring.items, /*top=*/0,
                   /*checkpoint=*/nullptr, context),
       opts.output);
  return true;
}

// The scores of the images the rows name: read from --scores, or computed with --model; null when
// neither is given (the rows must then carry scores).
std::unique_ptr<ImageScores> image_scores(
    const EvalOptions& opts, std::vector<ImageRequest> (*requests_of)(const std::string&, bool),
    Context& context) {
  if (!opts.scores.empty()) {
    if (model_given(opts.model)) {
      throw Error("--scores", "reads scores computed earlier; it cannot go with --model");
    }
    return std::make_unique<ImageScores>(
        read_score_file(opts.scores, opts.score_model, opts.logit_scale));
  }
  if (!model_given(opts.model)) return nullptr;
  const ImageScoring scoring = prepare_image_scoring(opts, requests_of, context);
  const ScoreReport report = score_listed_items(opts.decode, raw_pointers(scoring.scorers),
                                                images_per_call(scoring.model), scoring.items);
  if (!opts.save_scores.empty()) write_file_atomic(opts.save_scores, format_scores_jsonl(report));
  return std::make_unique<ImageScores>(image_scores_from_report(scoring.items, report));
}

void print_report(const EvalReport& report, const EvalOptions& opts, Context& context) {
  report_skipped(report.skipped, context);
  std::string format = opts.format;
  if (format.empty()) {
    // A table on a terminal; JSON into pipes and -o files (CSV when -o ends in .csv).
    format = resolve_format("", opts.output);
    if (format == "jsonl") format = "json";
  }
  emit(format_eval_report(report.json, format), opts.output);
}

void add_common(CLI::App& cmd, EvalOptions& opts, const std::string& rows) {
  cmd.add_option("file", opts.input,
                 "JSONL file (one object a line) or .csv with a header row: " + rows)
      ->required()
      ->check(CLI::ExistingFile);
  cmd.add_flag("--strict", opts.strict,
               "Stop at the first malformed row or missing image (exit 1) instead of skipping it "
               "(exit 3) [default: off]");
  cmd.add_option("-o,--output", opts.output, "Write the report here (atomically) instead of stdout");
  cmd.add_option("--format", opts.format,
                 "json, table or csv [default: table on a terminal, else json; csv for -o *.csv]")
      ->check(CLI::IsMember({"json", "table", "csv"}));
  add_report_flag(cmd, opts.report,
                  "the summary metrics, the report's tables and a histogram of the per-pair score "
                  "differences (pairs), per-prompt values (rankings) or metric values (rankcorr)",
                  /*thumbnails=*/false);
}

void add_image_scoring(CLI::App& cmd, EvalOptions& opts) {
  add_model_flags(cmd, opts.model, /*allow_several_models=*/false);
  add_decode_flags(cmd, opts.decode);
  add_shard_flags(cmd, opts.shard);
  cmd.add_option("--scores", opts.scores,
                 "Take the images' scores from this `prefscore score` JSONL output instead of "
                 "running a model (image paths relative to the current folder)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--score-model", opts.score_model,
                 "With --scores holding several models: the model whose scores to use");
  cmd.add_option("--save-scores", opts.save_scores,
                 "With --model: also write the scores computed (`prefscore score` JSONL, "
                 "atomically), to re-run the evaluation later with --scores");
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
             "label_0), \"score_0\", \"score_1\"} or, with --model/--scores, {\"split\", \"label\", "
             "\"prompt\", \"image_0\", \"image_1\", \"condition\"?}");
  pairs
      ->add_option("--logit-scale", pairs_opts->logit_scale,
                   "Multiplies the rows' scores before the softmax (the checkpoint's "
                   "exp(logit_scale)); model logits (--model, --scores) are used as they are "
                   "[default: 100]")
      ->check(CLI::PositiveNumber);
  pairs->add_option("--score-field", pairs_opts->score_field,
                    "Read the scores from <FIELD>_0 and <FIELD>_1 [default: score]");
  pairs
      ->add_option("--threshold-steps", pairs_opts->threshold_steps,
                   "Search tie thresholds k/N, k = 0..N, instead of PickScore's grid 0, 0.1, "
                   "..., 1 [default: 0: the official grid]")
      ->check(CLI::NonNegativeNumber);
  add_bootstrap(*pairs, *pairs_opts);
  add_image_scoring(*pairs, *pairs_opts);
  pairs->callback([pairs_opts, &context] {
    if (score_eval_shard(*pairs_opts, &pair_file_images, context)) return;
    const auto images = image_scores(*pairs_opts, &pair_file_images, context);
    PairEvalOptions options;
    options.score_field = pairs_opts->score_field;
    options.logit_scale = pairs_opts->logit_scale;
    options.strict = pairs_opts->strict;
    options.bootstrap = pairs_opts->bootstrap;
    options.images = images.get();
    if (pairs_opts->threshold_steps > 0) {
      options.thresholds = uniform_thresholds(pairs_opts->threshold_steps);
    }
    const EvalReport report = evaluate_pair_file(pairs_opts->input, options);
    print_report(report, *pairs_opts, context);
    write_report(
        pairs_opts->report, "eval pairs",
        [&] {
          HtmlReport page = eval_report_page(report.json);
          add_pair_file_sections(read_pair_file(pairs_opts->input, options.score_field,
                                                /*strict=*/false, options.images),
                                 &page);
          return page;
        },
        context);
  });

  auto rankings_opts = std::make_shared<EvalOptions>();
  CLI::App* rankings = eval->add_subcommand(
      "rankings", "Per-prompt rankings: HPD v2 ranking accuracy or ImageReward Spearman");
  add_common(*rankings, *rankings_opts,
             "{\"prompt_id\", \"scores\": [...], \"human_rank\": [...]} or, with "
             "--model/--scores, {\"prompt_id\", \"prompt\", \"images\": [...], \"human_rank\"}");
  rankings
      ->add_option("--style", rankings_opts->style,
                   "hpdv2: inversion score, human_rank 0 = best; imagereward: Spearman of "
                   "-scores and human_rank, 1 = best")
      ->required()
      ->check(CLI::IsMember({"hpdv2", "imagereward"}));
  add_bootstrap(*rankings, *rankings_opts);
  add_image_scoring(*rankings, *rankings_opts);
  rankings->callback([rankings_opts, &context] {
    if (score_eval_shard(*rankings_opts, &ranking_file_images, context)) return;
    const auto images = image_scores(*rankings_opts, &ranking_file_images, context);
    const RankingStyle style =
        rankings_opts->style == "hpdv2" ? RankingStyle::kHpdv2 : RankingStyle::kImageReward;
    const EvalReport report = evaluate_ranking_file(rankings_opts->input, style,
                                                    rankings_opts->strict,
                                                    rankings_opts->bootstrap, images.get());
    print_report(report, *rankings_opts, context);
    write_report(
        rankings_opts->report, "eval rankings", [&] { return eval_report_page(report.json); },
        context);
  });

  auto rankcorr_opts = std::make_shared<EvalOptions>();
  CLI::App* rankcorr = eval->add_subcommand(
      "rankcorr", "Spearman and Kendall tau-b (with p-values) between a metric and human scores");
  add_common(*rankcorr, *rankcorr_opts, "{\"name\", \"metric\": x, \"human\": y}");
  rankcorr->callback([rankcorr_opts, &context] {
    const EvalReport report = evaluate_rankcorr_file(rankcorr_opts->input, rankcorr_opts->strict);
    print_report(report, *rankcorr_opts, context);
    write_report(
        rankcorr_opts->report, "eval rankcorr",
        [&] {
          HtmlReport page = eval_report_page(report.json);
          add_rankcorr_file_sections(read_rankcorr_file(rankcorr_opts->input, /*strict=*/false),
                                     &page);
          return page;
        },
        context);
  });
}

}  // namespace prefscore::cli
