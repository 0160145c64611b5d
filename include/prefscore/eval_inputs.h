// The input files of `prefscore eval` (JSONL, one object a line) and the JSON reports computed from
// them with metrics.h. A malformed row is skipped and reported as "FILE:LINE: reason", or thrown
// as Error("FILE:LINE", reason) when `strict`.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "prefscore/metrics.h"

namespace prefscore {

struct PairFile {
  std::vector<ScoredPair> validation;  // split "validation" or Pick-a-Pic's "validation_unique"
  std::vector<ScoredPair> test;        // split "test" or "test_unique"
  std::vector<std::string> skipped;    // "FILE:LINE: reason"
};

// Rows {"split", "label": "0"|"1"|"tie" (or Pick-a-Pic's label_0: 1, 0, 0.5), "<field>_0",
// "<field>_1"}; `score_field` is "score" for score_0/score_1, "metric_a_score" for the fixture's
// metric_a_score_0/1. Rows of other splits are skipped.
PairFile read_pair_file(const std::string& path, const std::string& score_field, bool strict);

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
// Spearman) images and finite numbers.
RankingFile read_ranking_file(const std::string& path, std::size_t min_images, bool strict);

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
};

// Keys: thresholds, validation_accuracy_by_threshold, test_accuracy_by_threshold,
// best_threshold(_index), test_accuracy, test_accuracy_excluding_ties(_official_t0), n_validation,
// n_test, n_test_ties, n_skipped.
EvalReport evaluate_pair_file(const std::string& path, const PairEvalOptions& options);

enum class RankingStyle { kHpdv2, kImageReward };

// hpdv2: items[].model_rank/inversion_score, ranking_accuracy (mean over prompts).
// imagereward: items[].spearman (of -scores vs human_rank), mean_spearman (nanmean), n_nan.
// With bootstrap.resamples > 0, adds <key>_ci95 (prompts resampled).
EvalReport evaluate_ranking_file(const std::string& path, RankingStyle style, bool strict,
                                 const BootstrapOptions& bootstrap = {});

// Keys: n, spearman, spearman_p, kendall_tau_b, kendall_p, n_skipped.
EvalReport evaluate_rankcorr_file(const std::string& path, bool strict);

}  // namespace prefscore
