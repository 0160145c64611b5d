#include "prefscore/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>

#include "prefscore/error.h"

namespace prefscore {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_same_size(std::size_t a, std::size_t b, std::size_t min_n, const char* what) {
  if (a != b) {
    throw Error(what, "inputs differ in length: " + std::to_string(a) + " vs " + std::to_string(b));
  }
  if (a < min_n) {
    throw Error(what,
                "need at least " + std::to_string(min_n) + " items, got " + std::to_string(a));
  }
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0.0 || syy == 0.0) return kNaN;
  // np.corrcoef clips to [-1, 1].
  return std::clamp(sxy / std::sqrt(sxx) / std::sqrt(syy), -1.0, 1.0);
}

struct TieSums {
  std::int64_t pairs = 0;  // sum t (t - 1) / 2
  double v0 = 0.0;         // sum t (t - 1) (t - 2)
  double v1 = 0.0;         // sum t (t - 1) (2 t + 5)
};

// scipy's count_rank_tie over the groups of equal values.
TieSums tie_sums(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  TieSums sums;
  for (std::size_t i = 0; i < values.size();) {
    std::size_t j = i;
    while (j < values.size() && values[j] == values[i]) ++j;
    const auto t = static_cast<std::int64_t>(j - i);
    const double td = static_cast<double>(t);
    sums.pairs += t * (t - 1) / 2;
    sums.v0 += td * (td - 1.0) * (td - 2.0);
    sums.v1 += td * (td - 1.0) * (2.0 * td + 5.0);
    i = j;
  }
  return sums;
}

// scipy.stats._mstats_basic._kendall_p_exact (two-sided): the number of permutations of n with at
// most c inversions, by the recurrence on cumulative sums.
double kendall_p_exact(std::int64_t n, std::int64_t c) {
  const std::int64_t tot = n * (n - 1) / 2;
  c = std::min(c, tot - c);
  if (n <= 2) return 1.0;
  double factorial = 1.0;
  for (std::int64_t k = 2; k <= n; ++k) factorial *= static_cast<double>(k);
  if (c == 0) return n < 171 ? 2.0 / factorial : 0.0;
  if (c == 1) return n < 172 ? 2.0 / (factorial / static_cast<double>(n)) : 0.0;
  if (2 * c == tot) return 1.0;
  std::vector<double> counts(static_cast<std::size_t>(c + 1), 0.0);
  counts[0] = 1.0;
  counts[1] = 1.0;
  for (std::int64_t j = 3; j <= n; ++j) {
    std::vector<double> cum(counts.size());
    std::partial_sum(counts.begin(), counts.end(), cum.begin());
    if (n >= 171) {
      for (double& v : cum) v /= static_cast<double>(j);
    }
    counts = cum;
    for (std::int64_t k = j; k <= c; ++k) {
      counts[static_cast<std::size_t>(k)] -= cum[static_cast<std::size_t>(k - j)];
    }
  }
  const double sum = std::accumulate(counts.begin(), counts.end(), 0.0);
  const double prob = n < 171 ? 2.0 * sum / factorial : sum;
  return std::clamp(prob, 0.0, 1.0);
}

// Continued fraction of the incomplete beta (modified Lentz), converging for x < (a+1)/(a+b+2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-16;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEps) break;
  }
  return h;
}

}  // namespace

std::string pair_label_name(PairLabel label) {
  switch (label) {
    case PairLabel::kFirst:
      return "0";
    case PairLabel::kSecond:
      return "1";
    case PairLabel::kTie:
      break;
  }
  return "tie";
}

PairProbs pair_probabilities(double score_0, double score_1, double logit_scale) {
  const double x0 = logit_scale * score_0;
  const double x1 = logit_scale * score_1;
  const double max = std::max(x0, x1);
  const double e0 = std::exp(x0 - max);
  const double e1 = std::exp(x1 - max);
  const double sum = e0 + e1;
  return {e0 / sum, e1 / sum};
}

PairLabel predict_pair(const PairProbs& probs, double tie_threshold) {
  if (std::fabs(probs.p1 - probs.p0) <= tie_threshold) return PairLabel::kTie;
  return probs.p0 > probs.p1 ? PairLabel::kFirst : PairLabel::kSecond;
}

double pair_credit(PairLabel label, PairLabel prediction) {
  if (label == prediction) return 1.0;
  if (label == PairLabel::kTie || prediction == PairLabel::kTie) return 0.5;
  return 0.0;
}

double pair_accuracy(const std::vector<PairProbs>& probs, const std::vector<PairLabel>& labels,
                     double tie_threshold) {
  check_same_size(probs.size(), labels.size(), 1, "pair accuracy");
  double sum = 0.0;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    sum += pair_credit(labels[i], predict_pair(probs[i], tie_threshold));
  }
  return sum / static_cast<double>(probs.size());
}

std::vector<double> official_thresholds() {
  return {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};
}

std::vector<double> uniform_thresholds(int steps) {
  if (steps < 1) throw Error("thresholds", "need at least 1 step, got " + std::to_string(steps));
  std::vector<double> grid;
  for (int k = 0; k <= steps; ++k) grid.push_back(static_cast<double>(k) / steps);
  return grid;
}

PairwiseResult evaluate_pairwise(const std::vector<ScoredPair>& validation,
                                 const std::vector<ScoredPair>& test, double logit_scale,
                                 const std::vector<double>& thresholds) {
  if (validation.empty()) throw Error("pairs", "the validation split is empty; need >= 1 row");
  if (test.empty()) throw Error("pairs", "the test split is empty; need >= 1 row");
  if (thresholds.empty()) throw Error("pairs", "no thresholds to try");
  const auto split_probs = [logit_scale](const std::vector<ScoredPair>& rows,
                                         std::vector<PairProbs>& probs,
                                         std::vector<PairLabel>& labels) {
    for (const ScoredPair& row : rows) {
      probs.push_back(pair_probabilities(row.score_0, row.score_1, logit_scale));
      labels.push_back(row.label);
    }
  };
  std::vector<PairProbs> val_probs;
  std::vector<PairLabel> val_labels;
  split_probs(validation, val_probs, val_labels);
  PairwiseResult result;
  std::vector<PairLabel> test_labels;
  split_probs(test, result.test_probs, test_labels);
  result.thresholds = thresholds;
  for (double t : thresholds) {
    result.validation_accuracy_by_threshold.push_back(pair_accuracy(val_probs, val_labels, t));
    result.test_accuracy_by_threshold.push_back(pair_accuracy(result.test_probs, test_labels, t));
  }
  const auto& val = result.validation_accuracy_by_threshold;
  result.best_threshold_index =
      static_cast<std::size_t>(std::max_element(val.begin(), val.end()) - val.begin());
  result.best_threshold = thresholds[result.best_threshold_index];
  result.test_accuracy = result.test_accuracy_by_threshold[result.best_threshold_index];
  for (std::size_t i = 0; i < test.size(); ++i) {
    result.test_credits.push_back(
        pair_credit(test_labels[i], predict_pair(result.test_probs[i], result.best_threshold)));
  }
  result.n_validation = validation.size();
  result.n_test = test.size();
  std::vector<PairProbs> untied_probs;
  std::vector<PairLabel> untied_labels;
  double strict_correct = 0.0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    if (test_labels[i] == PairLabel::kTie) {
      ++result.n_test_ties;
      continue;
    }
    const PairProbs& p = result.test_probs[i];
    if ((p.p0 > p.p1) == (test_labels[i] == PairLabel::kFirst)) strict_correct += 1.0;
    untied_probs.push_back(p);
    untied_labels.push_back(test_labels[i]);
  }
  if (untied_probs.empty()) {
    result.test_accuracy_excluding_ties = kNaN;
    result.test_accuracy_excluding_ties_official_t0 = kNaN;
  } else {
    result.test_accuracy_excluding_ties = strict_correct / static_cast<double>(untied_probs.size());
    result.test_accuracy_excluding_ties_official_t0 =
        pair_accuracy(untied_probs, untied_labels, /*tie_threshold=*/0.0);
  }
  return result;
}

std::vector<int> model_rank(const std::vector<double>& scores) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&scores](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<int> rank(scores.size());
  for (std::size_t pos = 0; pos < order.size(); ++pos) rank[order[pos]] = static_cast<int>(pos);
  return rank;
}

double inversion_score(const std::vector<double>& rank_a, const std::vector<double>& rank_b) {
  check_same_size(rank_a.size(), rank_b.size(), 2, "inversion score");
  const std::size_t n = rank_a.size();
  std::size_t inversions = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      if ((rank_a[i] > rank_a[j] && rank_b[i] < rank_b[j]) ||
          (rank_a[i] < rank_a[j] && rank_b[i] > rank_b[j])) {
        ++inversions;
      }
    }
  }
  const double pairs = static_cast<double>(n) * static_cast<double>(n - 1) / 2.0;
  return 1.0 - static_cast<double>(inversions) / pairs;
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&values](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && values[order[j]] == values[order[i]]) ++j;
    // Positions i..j-1 hold equal values: each gets the mean of the 1-based ranks i+1..j.
    const double rank = 0.5 * static_cast<double>(i + 1 + j);
    for (std::size_t k = i; k < j; ++k) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

CorrelationTest spearman(const std::vector<double>& x, const std::vector<double>& y) {
  check_same_size(x.size(), y.size(), 3, "spearman");
  CorrelationTest result;
  result.statistic = pearson(average_ranks(x), average_ranks(y));
  if (std::isnan(result.statistic)) {
    result.p_value = kNaN;
    return result;
  }
  const double rs = result.statistic;
  const double dof = static_cast<double>(x.size()) - 2.0;
  const double ratio = dof / ((rs + 1.0) * (1.0 - rs));  // +inf at |rs| = 1, as in numpy
  const double t = rs * std::sqrt(std::max(ratio, 0.0));
  result.p_value = 2.0 * student_t_sf(std::fabs(t), dof);
  return result;
}

CorrelationTest kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
  check_same_size(x.size(), y.size(), 2, "kendall tau");
  const auto n = static_cast<std::int64_t>(x.size());
  std::int64_t discordant = 0;
  std::int64_t joint_ties = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    for (std::size_t j = i + 1; j < x.size(); ++j) {
      const double dx = x[i] - x[j];
      const double dy = y[i] - y[j];
      if ((dx < 0 && dy > 0) || (dx > 0 && dy < 0)) ++discordant;
      if (x[i] == x[j] && y[i] == y[j]) ++joint_ties;
    }
  }
  const TieSums xt = tie_sums(x);
  const TieSums yt = tie_sums(y);
  const std::int64_t tot = n * (n - 1) / 2;
  CorrelationTest result;
  if (xt.pairs == tot || yt.pairs == tot) return {kNaN, kNaN};
  const std::int64_t con_minus_dis = tot - xt.pairs - yt.pairs + joint_ties - 2 * discordant;
  const double tau = static_cast<double>(con_minus_dis) /
                     std::sqrt(static_cast<double>(tot - xt.pairs)) /
                     std::sqrt(static_cast<double>(tot - yt.pairs));
  result.statistic = std::clamp(tau, -1.0, 1.0);
  const bool no_ties = xt.pairs == 0 && yt.pairs == 0;
  if (no_ties && (n <= 33 || std::min(discordant, tot - discordant) <= 1)) {
    result.p_value = kendall_p_exact(n, tot - discordant);
    return result;
  }
  const double nd = static_cast<double>(n);
  const double m = nd * (nd - 1.0);
  const double var = (m * (2.0 * nd + 5.0) - xt.v1 - yt.v1) / 18.0 +
                     (2.0 * static_cast<double>(xt.pairs) * static_cast<double>(yt.pairs)) / m +
                     xt.v0 * yt.v0 / (9.0 * m * (nd - 2.0));
  const double z = static_cast<double>(con_minus_dis) / std::sqrt(var);
  result.p_value = 2.0 * normal_sf(std::fabs(z));
  return result;
}

double nan_mean(const std::vector<double>& values) {
  double sum = 0.0;
  std::size_t n = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
  }
  return n == 0 ? kNaN : sum / static_cast<double>(n);
}

ConfidenceInterval bootstrap_mean_ci95(const std::vector<double>& values, int resamples,
                                       std::uint64_t seed) {
  if (resamples < 1) {
    throw Error("bootstrap", "need at least 1 resample, got " + std::to_string(resamples));
  }
  std::vector<double> kept;
  for (double v : values) {
    if (!std::isnan(v)) kept.push_back(v);
  }
  if (kept.empty()) throw Error("bootstrap", "no non-NaN values to resample");
  std::mt19937_64 rng(seed);
  std::vector<double> means;
  means.reserve(static_cast<std::size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    double sum = 0.0;
    for (std::size_t i = 0; i < kept.size(); ++i) sum += kept[rng() % kept.size()];
    means.push_back(sum / static_cast<double>(kept.size()));
  }
  std::sort(means.begin(), means.end());
  const auto percentile = [&means](double q) {
    const double pos = q / 100.0 * static_cast<double>(means.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, means.size() - 1);
    return means[lo] + (pos - static_cast<double>(lo)) * (means[hi] - means[lo]);
  };
  return {percentile(2.5), percentile(97.5)};
}

double regularized_incomplete_beta(double a, double b, double x) {
  if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0)) {
    throw Error("incomplete beta", "need a > 0, b > 0 and 0 <= x <= 1, got a=" + std::to_string(a) +
                                       " b=" + std::to_string(b) + " x=" + std::to_string(x));
  }
  if (x == 0.0 || x == 1.0) return x;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  }
  return 1.0 - std::exp(log_front) * beta_continued_fraction(b, a, 1.0 - x) / b;
}

double student_t_sf(double t, double dof) {
  if (std::isinf(t)) return t > 0 ? 0.0 : 1.0;
  // cephes stdtr: P(T < -|t|) = I_{dof / (dof + t^2)}(dof / 2, 1 / 2) / 2.
  const double tail = 0.5 * regularized_incomplete_beta(0.5 * dof, 0.5, dof / (dof + t * t));
  return t > 0 ? tail : 1.0 - tail;
}

double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

}  // namespace prefscore
