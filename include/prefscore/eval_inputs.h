// The input files of `prefscore eval` and the JSON reports computed from them with metrics.h.
// Files are JSONL (one object a line) or, by the .csv extension, CSV with a header row naming the
// same fields (numbers as text). Rows carry scores, or name images (paths relative to the file's
// folder) whose scores come from an ImageScores table (a model, or a `prefscore score` output).
// A malformed row is skipped and reported as "FILE:LINE: reason", or thrown as
// Error("FILE:LINE", reason) when `strict`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "prefscore/image_scores.h"
#include "prefscore/metrics.h"

namespace prefscore {

struct PairFile {
  std::vector<ScoredPair> validation;  // split "validation" or Pick-a-Pic's "validation_unique"
  std::vector<ScoredPair> test;        // split "test" or "test_unique"
  std::vector<std::string> validation_conditions;  // per row: "condition" or ""
  std::vector<std::string> test_conditions;
  std::vector<std::string> skipped;    // "FILE:LINE: reason"
};

// Rows {"split", "label": "0"|"1"|"tie" (or Pick-a-Pic's label_0: 1, 0, 0.5), "condition"?, and
// either "<field>_0", "<field>_1" (`score_field` "score" reads score_0/score_1) or, with `images`,
// "prompt", "image_0", "image_1", whose logits (exp(logit_scale)·cos) become the pair's scores.
// Rows that name images when `images` is null: Error telling to pass --model or --scores.
PairFile read_pair_file(const std::string& path, const std::string& score_field, bool strict,
                        const ImageScores* images = nullptr);

// The images a pair file's rows name (with prompt and condition), each once; with `strict`, a
// malformed row or a missing file is an Error, else such rows are left to read_pair_file.
std::vector<ImageRequest> pair_file_images(const std::string& path, bool strict);

struct RankingRow {
  std::string prompt_id;
  std::vector<double> scores;
  std::vector<double> human_rank;
};

struct RankingFile {
  std::vector<RankingRow> rows;
  std::vector<std::string> skipped;
};

// Rows {"prompt_id", "scores": [...], "human_rank": [...]} with >= 2 (hpdv2) or >= 3 (imagereward,
// Spearman) images and finite numbers; with `images`, {"prompt_id", "prompt", "images": [paths],
// "human_rank"} scored by the metric's own score.
RankingFile read_ranking_file(const std::string& path, std::size_t min_images, bool strict,
                              const ImageScores* images = nullptr);
std::vector<ImageRequest> ranking_file_images(const std::string& path, bool strict);

struct RankCorrFile {
  std::vector<std::string> names;
  std::vector<double> metric;
  std::vector<double> human;
  std::vector<std::string> skipped;
};

// Rows {"name", "metric": x, "human": y}.
RankCorrFile read_rankcorr_file(const std::string& path, bool strict);

struct EvalReport {
  nlohmann::ordered_json json;
  std::vector<std::string> skipped;
};

struct BootstrapOptions {
  int resamples = 0;  // 0: no confidence interval
  std::uint64_t seed = 0;
};

struct PairEvalOptions {
  std::string score_field = "score";
  double logit_scale = 100.0;
  std::vector<double> thresholds = official_thresholds();
  bool strict = false;
  BootstrapOptions bootstrap;  // adds test_accuracy_ci95 (test rows resampled, threshold fixed)
  const ImageScores* images = nullptr;  // rows name images: their logits, softmax scale 1
};

// Keys: thresholds, validation_accuracy_by_threshold, test_accuracy_by_threshold,
// best_threshold(_index), test_accuracy, test_accuracy_excluding_ties(_official_t0), n_validation,
// n_test, n_test_ties, test_accuracy_by_condition (rows with "condition"), scores_from,
// n_skipped.
EvalReport evaluate_pair_file(const std::string& path, const PairEvalOptions& options);

enum class RankingStyle { kHpdv2, kImageReward };

// hpdv2: items[].model_rank/inversion_score, ranking_accuracy (mean over prompts).
// imagereward: items[].spearman (of -scores vs human_rank), mean_spearman (nanmean), n_nan.
// With bootstrap.resamples > 0, adds <key>_ci95 (prompts resampled).
EvalReport evaluate_ranking_file(const std::string& path, RankingStyle style, bool strict,
                                 const BootstrapOptions& bootstrap = {},
                                 const ImageScores* images = nullptr);

// Keys: n, spearman, spearman_p, kendall_tau_b, kendall_p, n_skipped.
EvalReport evaluate_rankcorr_file(const std::string& path, bool strict);

}  // namespace prefscore
