// What the `--report FILE.html` page (html_report.h) of each command shows, built from the results
// the command already printed, so that the page and the text output never disagree:
//   score, rank  every row with its thumbnail (sortable), a histogram of the first score column,
//                the best-of-N grid of each prompt or manifest group (best first, the best marked;
//                the first kReportMaxGridGroups groups);
//   eval         the summary metrics, the tables of the report (accuracy by tie threshold and by
//                condition; the per-prompt items of rankings), and per kind: pairs, the test and
//                validation pairs and a histogram of score_0 - score_1; rankings, a histogram of
//                the per-prompt inversion score or Spearman; rankcorr, the (metric, human) rows and
//                a histogram of the metric;
//   audit        the four scores, histograms of P(synthetic) of the synthetic images and P(real) of
//                the real ones, both per-image tables with thumbnails, and the near-duplicate pairs
//                side by side.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "prefscore/eval_inputs.h"
#include "prefscore/html_report.h"
#include "prefscore/ranking.h"
#include "prefscore/scoring.h"

namespace prefscore {

// Groups shown in the best-of-N grid at most (the table has every row).
constexpr std::size_t kReportMaxGridGroups = 200;
// Near-duplicate pairs shown side by side at most, per kind (the JSON output has them all).
constexpr std::size_t kReportMaxPairs = 500;

// `groups`: the ranking of the report's first column (rank_candidates), shown as the best-of-N
// grid; with `rank_column`, the table also has each image's rank in its group.
HtmlReport score_report_page(const ScoreReport& report, const std::vector<RankedGroup>& groups,
                             bool rank_column);

// `report`: EvalReport::json of any eval kind.
HtmlReport eval_report_page(const nlohmann::ordered_json& report);
void add_pair_file_sections(const PairFile& file, HtmlReport* page);
void add_rankcorr_file_sections(const RankCorrFile& file, HtmlReport* page);

// `audit`: audit_report_json (dataset_audit.h).
HtmlReport audit_report_page(const nlohmann::ordered_json& audit);

}  // namespace prefscore
