#include "prefscore/score_output.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "prefscore/csv.h"
#include "prefscore/io.h"

namespace prefscore {
namespace {

bool any_group(const ScoreReport& r) {
  return std::any_of(r.items.begin(), r.items.end(), [](const ScoreItem& i) { return !i.group.empty(); });
}

std::string column_name(const std::pair<std::string, std::string>& c) {
  return c.second == "score" ? c.first : c.first + ":" + c.second;
}

// Rows grouped by item: report.rows holds columns.size() rows per item, in column order.
std::vector<std::vector<std::string>> wide_rows(const ScoreReport& r, bool with_group) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"image", "prompt"};
  if (with_group) header.push_back("group");
  for (const auto& c : r.columns) {
    header.push_back(column_name(c));
    header.push_back(column_name(c) + "_prob");
  }
  rows.push_back(header);
  const std::size_t per_item = r.columns.size();
  for (std::size_t i = 0; i < r.items.size(); ++i) {
    std::vector<std::string> row = {r.items[i].image, r.items[i].prompt};
    if (with_group) row.push_back(r.items[i].group);
    for (std::size_t c = 0; c < per_item; ++c) {
      const ScoreRow& s = r.rows[i * per_item + c];
      row.push_back(format_score(s.score));
      row.push_back(format_score(s.prob));
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::string format_scores_jsonl(const ScoreReport& r) {
  std::string out;
  for (const ScoreRow& s : r.rows) {
    const ScoreItem& item = r.items[s.item];
    nlohmann::ordered_json j;
    j["image"] = item.image;
    j["prompt"] = item.prompt;
    if (!item.group.empty()) j["group"] = item.group;
    j["model"] = s.model;
    if (s.head == "mps") j["condition"] = s.column;
    j["score"] = s.score;
    j["logit"] = s.logit;
    j["prob"] = s.prob;
    if (s.head == "clip") j["clipscore_x100"] = 100.0 * std::max(s.score, 0.0);
    out += j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

std::string format_scores_csv(const ScoreReport& r) {
  std::string out;
  for (const auto& row : wide_rows(r, any_group(r))) {
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csv_field(row[i]);
    out += "\n";
  }
  return out;
}

std::string format_scores_table(const ScoreReport& r) {
  auto rows = wide_rows(r, any_group(r));
  // Long prompts would make every line wide: the table shows the first 40 characters.
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::string& prompt = rows[i][1];
    if (prompt.size() > 40) {
      std::size_t cut = 37;
      while (cut > 0 && (static_cast<unsigned char>(prompt[cut]) & 0xC0) == 0x80) --cut;
      prompt = prompt.substr(0, cut) + "...";
    }
  }
  return format_table(rows);
}

}  // namespace prefscore
