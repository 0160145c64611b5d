// Agreement metrics between a preference model and people, computed the way each paper's official
// evaluation code does (LibTorch-free, pure functions). Sources, quoted in
// ../shared/fixtures/eval/README.md (copied to tests/data/eval/FIXTURES_README.md):
// - PickScore f79607ff trainer/scripts/eval_preference_predictor.py: get_pred, calc_score,
//   calc_acc, the threshold list and np.argmax selection of main().
// - HPSv2 866735ec hpsv2/src/training/train.py inversion_score; hpsv2/evaluation.py evaluate_rank.
// - ImageReward: per prompt scipy.stats.spearmanr(-scores, human_rank), nanmean over prompts.
// - scipy 1.10.1 scipy/stats/_stats_py.py spearmanr and kendalltau (p-values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace prefscore {

// A human label or a prediction for a pair of images: image 0 preferred, image 1, or a tie.
enum class PairLabel { kFirst, kSecond, kTie };

// "0", "1" or "tie", as Pick-a-Pic's eval script spells them.
std::string pair_label_name(PairLabel label);

struct PairProbs {
  double p0 = 0.5;
  double p1 = 0.5;
};

// softmax(logit_scale * [score_0, score_1]) in float64 as torch.softmax computes it (subtract the
// max, exponentiate, divide by the sum).
PairProbs pair_probabilities(double score_0, double score_1, double logit_scale);

// get_pred: "tie" when |p1 - p0| <= tie_threshold (equal scores tie even at 0), else the larger.
PairLabel predict_pair(const PairProbs& probs, double tie_threshold);

// calc_score: 1 when equal, 0.5 when exactly one of them is a tie, else 0.
double pair_credit(PairLabel label, PairLabel prediction);

// calc_acc: mean credit over the rows at one threshold. Throws Error when the sizes differ or the
// rows are empty.
double pair_accuracy(const std::vector<PairProbs>& probs, const std::vector<PairLabel>& labels,
                     double tie_threshold);

// The official grid, the literal list [0, 0.1, ..., 1] of main() (not an arange).
std::vector<double> official_thresholds();
// A finer grid k / steps for k = 0..steps (steps >= 1), for `--threshold-steps`.
std::vector<double> uniform_thresholds(int steps);

struct ScoredPair {
  double score_0 = 0.0;
  double score_1 = 0.0;
  PairLabel label = PairLabel::kTie;
};

struct PairwiseResult {
  std::vector<double> thresholds;
  std::vector<double> validation_accuracy_by_threshold;
  std::vector<double> test_accuracy_by_threshold;
  std::size_t best_threshold_index = 0;  // first maximum on validation (np.argmax)
  double best_threshold = 0.0;
  double test_accuracy = 0.0;  // at best_threshold
  // Tie labels dropped; strict: correct iff (p0 > p1) == (label == "0"). NaN when all are ties.
  double test_accuracy_excluding_ties = 0.0;
  // Tie labels dropped; calc_acc at t = 0 (equal probabilities predict tie, half credit).
  double test_accuracy_excluding_ties_official_t0 = 0.0;
  std::size_t n_validation = 0;
  std::size_t n_test = 0;
  std::size_t n_test_ties = 0;
  std::vector<PairProbs> test_probs;
  std::vector<double> test_credits;  // calc_score per test row at best_threshold
};

// Tunes the tie threshold on `validation`, applies it to `test` (never tunes on the reported
// split). Throws Error when either split is empty or `thresholds` is.
PairwiseResult evaluate_pairwise(const std::vector<ScoredPair>& validation,
                                 const std::vector<ScoredPair>& test, double logit_scale,
                                 const std::vector<double>& thresholds);

// Position of each image in a stable descending sort of `scores` (0 = best; equal scores keep
// input order, which is what torch 1.13 CPU argsort returned on the HPD v2 fixtures).
std::vector<int> model_rank(const std::vector<double>& scores);

// HPSv2 inversion_score: 1 - (#pairs ordered oppositely) / (n (n - 1) / 2); a pair tied in either
// ranking never counts. Throws Error on different sizes or fewer than 2 items.
double inversion_score(const std::vector<double>& rank_a, const std::vector<double>& rank_b);

// 1-based ranks with ties given their average rank (scipy.stats.rankdata method="average").
std::vector<double> average_ranks(const std::vector<double>& values);

struct CorrelationTest {
  double statistic = 0.0;  // NaN when an input is constant
  double p_value = 0.0;    // two-sided; NaN with the statistic
};

// scipy.stats.spearmanr: Pearson correlation of average ranks; p from Student's t with n - 2
// degrees of freedom. Throws Error on different sizes or n < 3.
CorrelationTest spearman(const std::vector<double>& x, const std::vector<double>& y);

// scipy.stats.kendalltau (variant tau-b, method "auto" as scipy 1.10 picks it): exact p without
// ties when n <= 33 or min(discordant, concordant) <= 1, else asymptotic normal with the
// tie-corrected variance. Throws Error on different sizes or n < 2.
CorrelationTest kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y);

// Mean of the non-NaN values (numpy nanmean); NaN when there are none.
double nan_mean(const std::vector<double>& values);

struct ConfidenceInterval {
  double low = 0.0;
  double high = 0.0;
};

// Percentile bootstrap 95% interval of the mean of `values` (NaNs dropped first): `resamples`
// draws with replacement, indices std::mt19937_64(seed)() % n (the same on every platform, unlike
// std::uniform_int_distribution), percentiles 2.5 and 97.5 interpolated linearly as numpy does.
// Throws Error when resamples < 1 or no value is left.
ConfidenceInterval bootstrap_mean_ci95(const std::vector<double>& values, int resamples,
                                       std::uint64_t seed);

// Distribution tails used by the p-values (implemented here, cephes-style).
double regularized_incomplete_beta(double a, double b, double x);
double student_t_sf(double t, double dof);  // P(T > t)
double normal_sf(double z);                 // P(Z > z)

}  // namespace prefscore
