#include "prefscore/report_pages.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "prefscore/io.h"

namespace prefscore {
namespace {

using Json = nlohmann::ordered_json;

std::string column_name(const std::pair<std::string, std::string>& column) {
  return column.second == "score" ? column.first : column.first + ":" + column.second;
}

// How a JSON value reads in a summary or a text cell.
std::string json_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) return format_score(value.get<double>());
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool is_scalar(const Json& value) {
  return value.is_string() || value.is_number() || value.is_boolean() || value.is_null();
}

// A JSON number; NaN for null (the eval reports write NaN as null).
double json_number(const Json& value) {
  return value.is_number() ? value.get<double>() : std::nan("");
}

// An array of objects as a table: columns are the first object's keys, numbers sortable as
// numbers; the file named by `image_key` (when given) is shown as a thumbnail.
ReportTable json_table(const std::string& title, const Json& rows, const std::string& image_key) {
  ReportTable table;
  table.title = title;
  if (!rows.is_array() || rows.empty() || !rows[0].is_object()) return table;
  std::vector<std::string> keys;
  for (const auto& [key, value] : rows[0].items()) {
    keys.push_back(key);
    table.columns.push_back({key, value.is_number() ? ColumnKind::kNumber : ColumnKind::kText});
  }
  for (const Json& row : rows) {
    std::vector<ReportCell> cells;
    for (std::size_t c = 0; c < keys.size(); ++c) {
      const Json value = row.contains(keys[c]) ? row[keys[c]] : Json();
      if (table.columns[c].kind == ColumnKind::kNumber) {
        const double v = json_number(value);
        cells.push_back(value.is_number_integer() ? count_cell(value.get<long long>())
                                                  : number_cell(v));
      } else {
        cells.push_back(text_cell(json_text(value)));
      }
    }
    table.rows.push_back(std::move(cells));
    if (!image_key.empty())
      table.thumbnails.push_back(file_image(json_text(row.value(image_key, Json("")))));
  }
  return table;
}

std::vector<double> json_numbers(const Json& rows, const std::string& key) {
  std::vector<double> values;
  for (const Json& row : rows) values.push_back(json_number(row.contains(key) ? row[key] : Json()));
  return values;
}

ReportPairs json_pairs(const std::string& title, const Json& pairs, const std::string& first,
                       const std::string& second, HtmlReport* page) {
  ReportPairs out;
  out.title = title;
  for (const Json& p : pairs) {
    if (out.pairs.size() == kReportMaxPairs) {
      page->notes.push_back(title + ": the first " + std::to_string(kReportMaxPairs) + " of " +
                            std::to_string(pairs.size()) + " pairs are shown");
      break;
    }
    const std::string a = json_text(p.value(first, Json(""))),
                      b = json_text(p.value(second, Json("")));
    out.pairs.push_back({file_image(a, a), file_image(b, b),
                         "cosine " + format_score(json_number(p.value("cosine", Json())))});
  }
  return out;
}

void add_skipped(const std::vector<std::string>& skipped, HtmlReport* page) {
  for (const std::string& s : skipped) page->notes.push_back("skipped: " + s);
}

}  // namespace

HtmlReport score_report_page(const ScoreReport& report, const std::vector<RankedGroup>& groups,
                             bool rank_column) {
  HtmlReport page;
  page.summary = {{"images scored", std::to_string(report.items.size())},
                  {"images skipped", std::to_string(report.skipped.size())}};
  std::string columns;
  for (const auto& c : report.columns) columns += (columns.empty() ? "" : ", ") + column_name(c);
  page.summary.push_back({"score columns", columns});
  add_skipped(report.skipped, &page);

  // The rows of each item, in `columns` order.
  std::vector<std::vector<const ScoreRow*>> rows_of(report.items.size());
  for (const ScoreRow& row : report.rows) rows_of[row.item].push_back(&row);
  std::vector<int> rank_of(report.items.size(), 0);
  for (const RankedGroup& g : groups) {
    for (const RankedItem& r : g.items) rank_of[r.item] = r.rank;
  }
  const bool has_group = std::any_of(report.items.begin(), report.items.end(),
                                     [](const ScoreItem& i) { return !i.group.empty(); });

  ReportTable table;
  table.title = "Scores";
  table.columns.push_back({"image", ColumnKind::kText});
  table.columns.push_back({"prompt", ColumnKind::kText});
  if (has_group) table.columns.push_back({"group", ColumnKind::kText});
  if (rank_column) table.columns.push_back({"rank", ColumnKind::kNumber});
  for (const auto& c : report.columns) {
    table.columns.push_back({column_name(c), ColumnKind::kNumber});
    table.columns.push_back({column_name(c) + "_prob", ColumnKind::kNumber});
  }
  ReportHistogram histogram;
  if (!report.columns.empty()) {
    histogram.title = "Distribution of " + column_name(report.columns[0]);
    histogram.axis_label = column_name(report.columns[0]) + " score";
  }
  for (std::size_t i = 0; i < report.items.size(); ++i) {
    const ScoreItem& item = report.items[i];
    std::vector<ReportCell> cells = {text_cell(item.image), text_cell(item.prompt)};
    if (has_group) cells.push_back(text_cell(item.group));
    if (rank_column) {
      cells.push_back(rank_of[i] > 0 ? count_cell(rank_of[i]) : ReportCell{"", std::nan("")});
    }
    for (const ScoreRow* row : rows_of[i]) {
      cells.push_back(number_cell(row->score));
      cells.push_back(number_cell(row->prob));
    }
    if (!rows_of[i].empty()) histogram.values.push_back(rows_of[i][0]->score);
    table.rows.push_back(std::move(cells));
    table.thumbnails.push_back(file_image(item.image));
  }
  // The histogram and the grid first: a large run's table would bury them.
  if (!report.columns.empty()) page.sections.emplace_back(std::move(histogram));

  ReportGrid grid;
  grid.title = "Best of N per " + std::string(has_group ? "group" : "prompt") +
               (report.columns.empty() ? "" : " (by " + column_name(report.columns[0]) + ")");
  for (const RankedGroup& g : groups) {
    if (grid.groups.size() == kReportMaxGridGroups) {
      page.notes.push_back(grid.title + ": the first " + std::to_string(kReportMaxGridGroups) +
                           " of " + std::to_string(groups.size()) + " groups are shown");
      break;
    }
    GridGroup out;
    out.title = g.group;
    for (const RankedItem& r : g.items) {
      const std::string& image = report.items[r.item].image;
      out.candidates.push_back({file_image(image, "#" + std::to_string(r.rank) + " " +
                                                      format_score(r.score) + " " + image),
                                r.rank == 1});
    }
    grid.groups.push_back(std::move(out));
  }
  page.sections.emplace_back(std::move(grid));
  page.sections.emplace_back(std::move(table));
  return page;
}

HtmlReport eval_report_page(const Json& report) {
  HtmlReport page;
  for (const auto& [key, value] : report.items()) {
    const bool interval = value.is_array() && value.size() == 2 && key.size() > 5 &&
                          key.compare(key.size() - 5, 5, "_ci95") == 0;
    if (is_scalar(value)) {
      page.summary.push_back({key, json_text(value)});
    } else if (interval) {
      page.summary.push_back({key, "[" + json_text(value[0]) + ", " + json_text(value[1]) + "]"});
    }
  }
  if (report.contains("thresholds") && report.contains("validation_accuracy_by_threshold") &&
      report.contains("test_accuracy_by_threshold")) {
    ReportTable table;
    table.title = "Accuracy by tie threshold";
    table.columns = {{"threshold", ColumnKind::kNumber},
                     {"validation_accuracy", ColumnKind::kNumber},
                     {"test_accuracy", ColumnKind::kNumber}};
    const Json& t = report["thresholds"];
    const Json& validation = report["validation_accuracy_by_threshold"];
    const Json& test = report["test_accuracy_by_threshold"];
    for (std::size_t i = 0; i < t.size() && i < validation.size() && i < test.size(); ++i) {
      table.rows.push_back({number_cell(json_number(t[i])),
                            number_cell(json_number(report["validation_accuracy_by_threshold"][i])),
                            number_cell(json_number(report["test_accuracy_by_threshold"][i]))});
    }
    page.sections.emplace_back(std::move(table));
  }
  if (report.contains("test_accuracy_by_condition")) {
    Json rows = Json::array();
    for (const auto& [condition, value] : report["test_accuracy_by_condition"].items()) {
      Json row = {{"condition", condition}};
      row.update(value);
      rows.push_back(std::move(row));
    }
    page.sections.emplace_back(json_table("Test accuracy by condition", rows, ""));
  }
  if (report.contains("items")) {
    const Json& items = report["items"];
    page.sections.emplace_back(json_table("Per prompt", items, ""));
    const std::string key = report.value("style", "") == "hpdv2" ? "inversion_score" : "spearman";
    page.sections.emplace_back(
        ReportHistogram{"Distribution of the per-prompt " + key, key, json_numbers(items, key)});
  }
  return page;
}

void add_pair_file_sections(const PairFile& file, HtmlReport* page) {
  ReportTable table;
  table.title = "Pairs";
  table.columns = {{"split", ColumnKind::kText},     {"row", ColumnKind::kNumber},
                   {"label", ColumnKind::kText},     {"score_0", ColumnKind::kNumber},
                   {"score_1", ColumnKind::kNumber}, {"score_0 - score_1", ColumnKind::kNumber}};
  ReportHistogram histogram;
  histogram.title = "Distribution of score_0 - score_1 (test pairs)";
  histogram.axis_label = "score_0 - score_1";
  for (const auto* split : {&file.test, &file.validation}) {
    for (std::size_t i = 0; i < split->size(); ++i) {
      const ScoredPair& p = (*split)[i];
      const double difference = p.score_0 - p.score_1;
      table.rows.push_back({text_cell(split == &file.test ? "test" : "validation"),
                            count_cell(static_cast<long long>(i)),
                            text_cell(pair_label_name(p.label)), number_cell(p.score_0),
                            number_cell(p.score_1), number_cell(difference)});
      if (split == &file.test) histogram.values.push_back(difference);
    }
  }
  page->sections.emplace_back(std::move(histogram));
  page->sections.emplace_back(std::move(table));
}

void add_rankcorr_file_sections(const RankCorrFile& file, HtmlReport* page) {
  ReportTable table;
  table.title = "Rows";
  table.columns = {
      {"name", ColumnKind::kText}, {"metric", ColumnKind::kNumber}, {"human", ColumnKind::kNumber}};
  for (std::size_t i = 0; i < file.names.size(); ++i) {
    table.rows.push_back(
        {text_cell(file.names[i]), number_cell(file.metric[i]), number_cell(file.human[i])});
  }
  page->sections.emplace_back(ReportHistogram{"Distribution of the metric", "metric", file.metric});
  page->sections.emplace_back(std::move(table));
}

HtmlReport audit_report_page(const Json& audit) {
  HtmlReport page;
  for (const auto& [key, value] : audit.items()) {
    if (is_scalar(value)) page.summary.push_back({key, json_text(value)});
  }
  if (audit.contains("options")) {
    for (const auto& [key, value] : audit["options"].items()) {
      page.summary.push_back({"options." + key, json_text(value)});
    }
  }
  if (audit.contains("skipped")) {
    add_skipped(audit["skipped"].get<std::vector<std::string>>(), &page);
  }
  const Json empty = Json::array();
  const Json& synthetic = audit.contains("synthetic") ? audit["synthetic"] : empty;
  const Json& real = audit.contains("real") ? audit["real"] : empty;
  page.sections.emplace_back(
      ReportHistogram{"Out-of-fold P(synthetic) of the synthetic images (unrealistic = their mean)",
                      "P(synthetic)", json_numbers(synthetic, "p_synthetic")});
  page.sections.emplace_back(
      ReportHistogram{"Out-of-fold P(real) of the real images (unrepresentative = their mean)",
                      "P(real)", json_numbers(real, "p_real")});
  page.sections.emplace_back(json_table("Synthetic images", synthetic, "image"));
  page.sections.emplace_back(json_table("Real images", real, "image"));
  page.sections.emplace_back(json_pairs("Unvaried: near-duplicate synthetic pairs",
                                        audit.value("unvaried_pairs", empty), "a", "b", &page));
  page.sections.emplace_back(json_pairs("Unoriginal: synthetic images near a real one",
                                        audit.value("unoriginal_pairs", empty), "synthetic", "real",
                                        &page));
  return page;
}

}  // namespace prefscore
