#include "prefscore/map_agreement.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "prefscore/error.h"

namespace prefscore {
namespace {

std::optional<double> pearson(const float* a, const float* b, std::size_t n) {
  double mean_a = 0, mean_b = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mean_a += a[i];
    mean_b += b[i];
  }
  mean_a /= static_cast<double>(n);
  mean_b /= static_cast<double>(n);
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double da = a[i] - mean_a, db = b[i] - mean_b;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  if (aa == 0 || bb == 0) return std::nullopt;
  return ab / std::sqrt(aa * bb);
}

// Mann-Whitney: the rank sum of the positives (ranks 1..n of the scores, tied scores sharing
// their average rank) gives U = R_pos - n_pos(n_pos + 1)/2 pairs won, ties counted ½.
std::optional<double> auc(const float* scores, const std::vector<bool>& positive) {
  const std::size_t n = positive.size();
  const std::size_t n_pos =
      static_cast<std::size_t>(std::count(positive.begin(), positive.end(), true));
  const std::size_t n_neg = n - n_pos;
  if (n_pos == 0 || n_neg == 0) return std::nullopt;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t i, std::size_t j) { return scores[i] < scores[j]; });
  double rank_sum = 0;
  for (std::size_t start = 0; start < n;) {
    std::size_t end = start + 1;
    while (end < n && scores[order[end]] == scores[order[start]]) ++end;
    const double average_rank = 0.5 * static_cast<double>(start + 1 + end);  // ranks start+1..end
    for (std::size_t k = start; k < end; ++k) {
      if (positive[order[k]]) rank_sum += average_rank;
    }
    start = end;
  }
  const double p = static_cast<double>(n_pos);
  return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(n_neg));
}

}  // namespace

MapAgreement compare_maps(const float* model, const float* human, std::size_t pixels,
                          double positive_threshold) {
  MapAgreement out;
  out.pixels = pixels;
  std::vector<bool> positive(pixels);
  for (std::size_t i = 0; i < pixels; ++i) {
    if (!std::isfinite(model[i]) || !std::isfinite(human[i])) {
      throw Error("", "map value " + std::to_string(i) + " is not finite (model " +
                          std::to_string(model[i]) + ", human " + std::to_string(human[i]) + ")");
    }
    positive[i] = human[i] >= positive_threshold;
  }
  out.positives = static_cast<std::size_t>(std::count(positive.begin(), positive.end(), true));
  if (pixels == 0) return out;
  out.pearson = pearson(model, human, pixels);
  out.auc = auc(model, positive);
  return out;
}

}  // namespace prefscore
