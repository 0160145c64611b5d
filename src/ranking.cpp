#include "prefscore/ranking.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "prefscore/error.h"

namespace prefscore {

std::vector<RankedGroup> rank_candidates(const ScoreReport& report, std::size_t column,
                                         std::size_t top_k) {
  const std::size_t per_item = report.columns.size();
  if (column >= per_item) throw Error("rank", "no score column " + std::to_string(column));
  std::vector<RankedGroup> groups;
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < report.items.size(); ++i) {
    const ScoreItem& item = report.items[i];
    const std::string key = candidate_group(item);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, groups.size()).first;
      groups.push_back(RankedGroup{item.group.empty() ? item.prompt : item.group, {}});
    }
    const ScoreRow& row = report.rows[i * per_item + column];
    groups[it->second].items.push_back(RankedItem{i, 0, row.score, row.prob});
  }
  for (RankedGroup& g : groups) {
    std::stable_sort(g.items.begin(), g.items.end(),
                     [](const RankedItem& a, const RankedItem& b) { return a.score > b.score; });
    for (std::size_t r = 0; r < g.items.size(); ++r) g.items[r].rank = static_cast<int>(r + 1);
    if (top_k > 0 && g.items.size() > top_k) g.items.resize(top_k);
  }
  return groups;
}

std::string pair_verdict(double prob_a, double prob_b, double tie_threshold) {
  if (std::fabs(prob_a - prob_b) <= tie_threshold) return "tie";
  return prob_a > prob_b ? "A" : "B";
}

}  // namespace prefscore
