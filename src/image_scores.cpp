#include "prefscore/image_scores.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "prefscore/error.h"
#include "prefscore/text_lines.h"
#include "prefscore/io.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

std::string condition_key(const std::string& head, const std::string& column) {
  return head == "mps" ? column : "";
}

}  // namespace

std::string image_key(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(fs::path(path), ec);
  return (ec ? fs::path(path) : absolute).lexically_normal().string();
}

void ImageScores::add(const std::string& image, const std::string& prompt,
                      const std::string& condition, const ImageScore& score) {
  scores_[{image_key(image), prompt, condition}] = score;
}

void ImageScores::add_failure(const std::string& image, const std::string& reason) {
  failures_.emplace(image_key(image), reason);
}

ImageScore ImageScores::at(const std::string& image, const std::string& prompt,
                           const std::string& condition) const {
  const std::string key = image_key(image);
  auto it = scores_.find({key, prompt, condition});
  if (it == scores_.end() && !condition.empty()) it = scores_.find({key, prompt, ""});
  if (it != scores_.end()) return it->second;
  const auto failure = failures_.find(key);
  if (failure != failures_.end()) throw Error(image, failure->second);
  std::string what = "no score for this image with prompt \"" + prompt + "\"";
  if (!condition.empty()) what += " and condition \"" + condition + "\"";
  throw Error(image, what + " in the " + source);
}

ImageScores image_scores_from_report(const std::vector<ScoreItem>& items,
                                     const ScoreReport& report) {
  ImageScores scores;
  // An MPS run of one condition also answers rows that name no condition.
  const bool one_column = report.columns.size() == 1;
  for (const ScoreRow& row : report.rows) {
    const ScoreItem& item = report.items[row.item];
    const ImageScore score{row.score, row.logit};
    scores.add(item.image, item.prompt, condition_key(row.head, row.column), score);
    if (one_column && row.head == "mps") scores.add(item.image, item.prompt, "", score);
  }
  if (!report.rows.empty()) scores.source = "model " + report.rows.front().model;
  std::set<std::pair<std::string, std::string>> scored;
  for (const ScoreItem& item : report.items) scored.insert({item.image, item.prompt});
  for (const ScoreItem& item : items) {
    if (scored.count({item.image, item.prompt})) continue;
    const std::string skipped = skip_message(report, item);
    scores.add_failure(item.image, skipped.empty() ? "could not be scored"
                                                   : skipped.substr(item.image.size() + 2));
  }
  return scores;
}

ImageScores read_score_file(const std::string& path, const std::string& model,
                            double logit_scale) {
  using Json = nlohmann::json;
  struct Row {
    std::string image, prompt, model, condition, where;
    ImageScore score;
  };
  std::vector<Row> rows;
  std::set<std::string> models;
  std::istringstream lines(read_file(path));
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    Json j;
    if (!nlohmann::json::accept(line)) {
      throw Error(where, "not valid JSON; expected the JSONL rows `prefscore score` writes");
    }
    j = parse_json_line(line, where);  // the nesting limit
    auto text = [&](const char* key) -> std::string {
      if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
        throw Error(where, std::string("needs a string field \"") + key +
                               "\" (a `prefscore score` JSONL row)");
      }
      return j[key].get<std::string>();
    };
    auto number_field = [&](const char* key) -> double {
      if (!j[key].is_number() || !std::isfinite(j[key].get<double>())) {
        throw Error(where, std::string("\"") + key + "\" must be a finite number, got " +
                               j[key].dump());
      }
      return j[key].get<double>();
    };
    Row row;
    row.where = where;
    row.image = text("image");
    row.prompt = text("prompt");
    row.model = text("model");
    if (j.contains("condition")) row.condition = text("condition");
    if (!j.contains("score")) throw Error(where, "missing field \"score\"");
    row.score.score = number_field("score");
    row.score.logit =
        j.contains("logit") ? number_field("logit") : row.score.score * logit_scale;
    models.insert(row.model);
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw Error(path, "score file has no rows");
  if (!model.empty() && !models.count(model)) {
    throw Error(path, "has no rows of model \"" + model + "\"");
  }
  if (model.empty() && models.size() > 1) {
    std::string names;
    for (const std::string& m : models) names += (names.empty() ? "" : ", ") + m;
    throw Error(path, "has scores of several models (" + names + "); pick one with --score-model");
  }
  ImageScores scores;
  scores.source = "score file " + path;
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<double, std::string>> seen;
  for (const Row& row : rows) {
    if (!model.empty() && row.model != model) continue;
    const auto key = std::make_tuple(image_key(row.image), row.prompt, row.condition);
    const auto [it, inserted] = seen.emplace(key, std::make_pair(row.score.score, row.where));
    if (!inserted && it->second.first != row.score.score) {
      throw Error(row.where, "scores " + row.image + " again with a different score than " +
                                 it->second.second);
    }
    scores.add(row.image, row.prompt, row.condition, row.score);
  }
  return scores;
}

std::vector<ScoreItem> items_to_score(const std::vector<ImageRequest>& requests) {
  std::vector<ScoreItem> items;
  std::set<std::pair<std::string, std::string>> seen;
  for (const ImageRequest& r : requests) {
    if (seen.insert({r.image, r.prompt}).second) items.push_back(ScoreItem{r.image, r.prompt, ""});
  }
  return items;
}

std::vector<std::string> requested_conditions(const std::vector<ImageRequest>& requests) {
  std::vector<std::string> conditions;
  for (const ImageRequest& r : requests) {
    if (!r.condition.empty() &&
        std::find(conditions.begin(), conditions.end(), r.condition) == conditions.end()) {
      conditions.push_back(r.condition);
    }
  }
  return conditions;
}

}  // namespace prefscore
