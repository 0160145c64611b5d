// Best-of-N ranking and pairwise verdicts on a score report.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "prefscore/scoring.h"

namespace prefscore {

struct RankedItem {
  std::size_t item = 0;  // index into ScoreReport::items
  int rank = 0;          // 1 = best
  double score = 0.0;
  double prob = 0.0;
};

struct RankedGroup {
  std::string group;  // ScoreItem::group, or the prompt when the items have no group
  std::vector<RankedItem> items;  // best first; equal scores keep input order
};

// Ranks the candidates of each group (groups in order of first appearance) by column `column` of
// the report (0 = the first model's first column); keeps the best `top_k` (0 = all).
std::vector<RankedGroup> rank_candidates(const ScoreReport& report, std::size_t column,
                                         std::size_t top_k);

// PickScore's rule (PickScore repository, trainer/scripts/eval_preference_predictor.py): with
// p(A), p(B) the softmax of the two scaled scores, "tie" when |p(A) - p(B)| <= tie_threshold
// (so equal scores are a tie even at 0), else the image with the higher probability.
std::string pair_verdict(double prob_a, double prob_b, double tie_threshold);

}  // namespace prefscore
