// What each command's --report page holds (report_pages.h), from hand-made results: the eval
// tables and histograms of pairs, rankings and rankcorr, the audit sections, and the score page's
// rows, ranks and best-of-N grid. tests/test_cli_report.cpp renders real pages in Chromium.
#include <string>

#include "prefscore/report_pages.h"
#include "test_utils.h"

namespace {

using Json = nlohmann::ordered_json;

template <typename T>
const T& section(const prefscore::HtmlReport& page, std::size_t i) {
  REQUIRE(i < page.sections.size());
  REQUIRE(std::holds_alternative<T>(page.sections[i]));
  return std::get<T>(page.sections[i]);
}

std::string summary_value(const prefscore::HtmlReport& page, const std::string& key) {
  for (const auto& [k, v] : page.summary) {
    if (k == key) return v;
  }
  return "(absent)";
}

}  // namespace

TEST_CASE("eval pairs: the scalar results, accuracy by threshold and by condition, every pair",
          "[report_pages]") {
  const Json report = Json::parse(R"({"scores_from": "file x", "thresholds": [0.0, 0.5],
      "validation_accuracy_by_threshold": [0.25, 0.75], "test_accuracy_by_threshold": [0.5, 1.0],
      "best_threshold": 0.5, "test_accuracy": 1.0, "n_test": 2, "test_accuracy_ci95": [0.5, 1.0],
      "test_accuracy_by_condition": {"detail": {"test_accuracy": 1.0, "n_test": 2,
                                                "n_test_ties": 0}}})");
  prefscore::HtmlReport page = prefscore::eval_report_page(report);
  CHECK(summary_value(page, "scores_from") == "file x");
  CHECK(summary_value(page, "best_threshold") == "0.500000");
  CHECK(summary_value(page, "n_test") == "2");
  CHECK(summary_value(page, "test_accuracy_ci95") == "[0.500000, 1.000000]");
  CHECK(summary_value(page, "thresholds") == "(absent)");
  const auto& by_threshold = section<prefscore::ReportTable>(page, 0);
  REQUIRE(by_threshold.rows.size() == 2);
  CHECK(by_threshold.rows[1][0].number == 0.5);
  CHECK(by_threshold.rows[1][1].number == 0.75);
  CHECK(by_threshold.rows[1][2].number == 1.0);
  const auto& by_condition = section<prefscore::ReportTable>(page, 1);
  REQUIRE(by_condition.columns.size() == 4);
  CHECK(by_condition.columns[0].name == "condition");
  CHECK(by_condition.rows[0][0].text == "detail");
  CHECK(by_condition.rows[0][2].text == "2");

  prefscore::PairFile file;
  file.test = {{3.0, 1.0, prefscore::PairLabel::kFirst}, {0.5, 2.0, prefscore::PairLabel::kTie}};
  file.validation = {{1.0, 4.0, prefscore::PairLabel::kSecond}};
  prefscore::add_pair_file_sections(file, &page);
  const auto& histogram = section<prefscore::ReportHistogram>(page, 2);
  CHECK(histogram.values == std::vector<double>{2.0, -1.5});  // test pairs only
  const auto& pairs = section<prefscore::ReportTable>(page, 3);
  REQUIRE(pairs.rows.size() == 3);
  CHECK(pairs.rows[1][0].text == "test");
  CHECK(pairs.rows[1][2].text == "tie");
  CHECK(pairs.rows[1][5].number == -1.5);
  CHECK(pairs.rows[2][0].text == "validation");
  CHECK(pairs.rows[2][5].number == -3.0);
}

TEST_CASE("eval rankings and rankcorr: per-prompt table and histogram", "[report_pages]") {
  const Json rankings = Json::parse(R"({"style": "hpdv2", "items": [
      {"prompt_id": "p0", "model_rank": [0, 1], "inversion_score": 1.0},
      {"prompt_id": "p1", "model_rank": [1, 0], "inversion_score": 0.0}],
      "ranking_accuracy": 0.5})");
  const prefscore::HtmlReport page = prefscore::eval_report_page(rankings);
  const auto& items = section<prefscore::ReportTable>(page, 0);
  REQUIRE(items.columns.size() == 3);
  CHECK(items.columns[1].kind == prefscore::ColumnKind::kText);  // model_rank: an array
  CHECK(items.rows[0][1].text == "[0,1]");
  CHECK(items.columns[2].kind == prefscore::ColumnKind::kNumber);
  CHECK(section<prefscore::ReportHistogram>(page, 1).values == std::vector<double>{1.0, 0.0});

  prefscore::RankCorrFile file;
  file.names = {"a", "b"};
  file.metric = {0.25, 0.75};
  file.human = {1.0, 2.0};
  prefscore::HtmlReport corr;
  prefscore::add_rankcorr_file_sections(file, &corr);
  CHECK(section<prefscore::ReportHistogram>(corr, 0).values == file.metric);
  CHECK(section<prefscore::ReportTable>(corr, 1).rows[1][2].number == 2.0);
}

TEST_CASE("audit: histograms of P(synthetic) and P(real), tables with thumbnails, pairs",
          "[report_pages]") {
  const Json audit = Json::parse(R"({"model": "m", "unrealistic": 0.75,
      "options": {"folds": 2}, "skipped": ["bad.png: not an image"],
      "synthetic": [{"image": "s0.png", "p_synthetic": 0.5, "fold": 1},
                    {"image": "s1.png", "p_synthetic": 1.0, "fold": 0}],
      "real": [{"image": "r0.png", "p_real": 0.25, "fold": 0}],
      "unvaried_pairs": [{"a": "s0.png", "b": "s1.png", "cosine": 0.96}],
      "unoriginal_pairs": []})");
  const prefscore::HtmlReport page = prefscore::audit_report_page(audit);
  CHECK(summary_value(page, "unrealistic") == "0.750000");
  CHECK(summary_value(page, "options.folds") == "2");
  REQUIRE(page.notes.size() == 1);
  CHECK(page.notes[0] == "skipped: bad.png: not an image");
  CHECK(section<prefscore::ReportHistogram>(page, 0).values == std::vector<double>{0.5, 1.0});
  CHECK(section<prefscore::ReportHistogram>(page, 1).values == std::vector<double>{0.25});
  const auto& synthetic = section<prefscore::ReportTable>(page, 2);
  REQUIRE(synthetic.thumbnails.size() == 2);
  CHECK(synthetic.thumbnails[1].path == "s1.png");
  CHECK(synthetic.rows[1][1].number == 1.0);
  CHECK(section<prefscore::ReportTable>(page, 3).rows.size() == 1);
  const auto& unvaried = section<prefscore::ReportPairs>(page, 4);
  REQUIRE(unvaried.pairs.size() == 1);
  CHECK(unvaried.pairs[0].first.path == "s0.png");
  CHECK(unvaried.pairs[0].second.path == "s1.png");
  CHECK(unvaried.pairs[0].label == "cosine 0.960000");
  CHECK(section<prefscore::ReportPairs>(page, 5).pairs.empty());
}

TEST_CASE("score and rank: one row per image, ranks, the grid best first", "[report_pages]") {
  prefscore::ScoreReport report;
  report.items = {{"a.png", "p", ""}, {"b.png", "p", ""}, {"c.png", "q", ""}};
  report.columns = {{"m", "score"}};
  for (std::size_t i = 0; i < 3; ++i) {
    prefscore::ScoreRow row;
    row.item = i;
    row.model = "m";
    row.column = "score";
    row.score = 1.0 + i;
    row.prob = 0.25 * i;
    report.rows.push_back(row);
  }
  report.skipped = {"d.png: broken"};
  // Ranked by hand: in group "p", b (2.0) before a (1.0); "q" has c alone.
  const std::vector<prefscore::RankedGroup> groups = {{"p", {{1, 1, 2.0, 0.6}, {0, 2, 1.0, 0.4}}},
                                                      {"q", {{2, 1, 3.0, 1.0}}}};
  const prefscore::HtmlReport page = prefscore::score_report_page(report, groups, true);
  CHECK(summary_value(page, "images scored") == "3");
  CHECK(summary_value(page, "images skipped") == "1");
  CHECK(section<prefscore::ReportHistogram>(page, 0).values == std::vector<double>{1.0, 2.0, 3.0});
  const auto& grid = section<prefscore::ReportGrid>(page, 1);
  REQUIRE(grid.groups.size() == 2);
  REQUIRE(grid.groups[0].candidates.size() == 2);
  CHECK(grid.groups[0].candidates[0].image.path == "b.png");
  CHECK(grid.groups[0].candidates[0].best);
  CHECK_FALSE(grid.groups[0].candidates[1].best);
  const auto& table = section<prefscore::ReportTable>(page, 2);
  REQUIRE(table.columns.size() == 5);  // image, prompt, rank, m, m_prob
  CHECK(table.columns[2].name == "rank");
  CHECK(table.rows[0][2].number == 2);
  CHECK(table.rows[1][2].number == 1);
  CHECK(table.rows[2][3].number == 3.0);
  CHECK(table.rows[2][4].number == 0.5);
  CHECK(table.thumbnails[2].path == "c.png");
}
