#include "prefscore/eval_inputs.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include "prefscore/csv.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

// A malformed row: thrown by the row parsers, then skipped or rethrown with FILE:LINE.
struct RowError {
  std::string reason;
};

bool is_csv(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".csv" || ext == ".CSV";
}

// Calls `parse_row` on each row: a JSON object per non-blank line (.jsonl), or a CSV record
// turned into an object of strings keyed by the header row (.csv). Collects or throws the row
// errors with FILE:LINE.
std::vector<std::string> for_each_row(const std::string& path, bool strict,
                                      const std::function<void(const Json&, const std::string&)>& parse_row) {
  std::istringstream lines(read_file(path));
  const bool csv = is_csv(path);
  std::vector<std::string> header;
  std::vector<std::string> skipped;
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    if (csv && header.empty()) {
      header = split_csv_record(line, where);
      continue;
    }
    try {
      Json row;
      if (csv) {
        std::vector<std::string> cells;
        try {
          cells = split_csv_record(line, where);
        } catch (const Error& e) {
          throw RowError{e.reason()};
        }
        if (cells.size() != header.size()) {
          throw RowError{"has " + std::to_string(cells.size()) + " fields, the header has " +
                         std::to_string(header.size())};
        }
        row = Json::object();
        for (std::size_t i = 0; i < cells.size(); ++i) row[header[i]] = cells[i];
      } else {
        // Nesting is bounded before anything recurses over the value (dump() in messages).
        try {
          row = Json::parse(line, [](int depth, Json::parse_event_t event, Json&) {
            if ((event == Json::parse_event_t::object_start ||
                 event == Json::parse_event_t::array_start) &&
                depth >= kMaxJsonLineDepth) {
              throw RowError{"JSON nests deeper than " + std::to_string(kMaxJsonLineDepth) +
                             " levels"};
            }
            return true;
          });
        } catch (const Json::exception&) {
          const bool non_finite =
              line.find("NaN") != std::string::npos || line.find("Infinity") != std::string::npos;
          throw RowError{non_finite ? "not a finite number (NaN/Infinity), expected a JSON number"
                                    : "not valid JSON, expected one object per line"};
        }
      }
      if (!row.is_object()) throw RowError{"expected a JSON object, got " + row.dump()};
      parse_row(row, where);
    } catch (const RowError& e) {
      if (strict) throw Error(where, e.reason);
      skipped.push_back(where + ": " + e.reason);
    }
  }
  return skipped;
}

const Json& field(const Json& row, const std::string& key) {
  const auto it = row.find(key);
  if (it == row.end()) throw RowError{"missing field \"" + key + "\""};
  return *it;
}

// A JSON number, or a string holding one (CSV cells are strings).
double finite_number(const Json& value, const std::string& key) {
  double x = 0.0;
  if (value.is_number()) {
    x = value.get<double>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    char* end = nullptr;
    x = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
      throw RowError{"\"" + key + "\" must be a finite number, got " + value.dump()};
    }
  } else {
    throw RowError{"\"" + key + "\" must be a finite number, got " + value.dump()};
  }
  if (!std::isfinite(x))
    throw RowError{"\"" + key + "\" must be a finite number, got " + value.dump()};
  return x;
}

std::vector<double> number_list(const Json& row, const std::string& key) {
  const Json& value = field(row, key);
  if (!value.is_array()) throw RowError{"\"" + key + "\" must be an array, got " + value.dump()};
  std::vector<double> out;
  for (const Json& v : value) out.push_back(finite_number(v, key + "[]"));
  return out;
}

PairLabel pair_label(const Json& row) {
  if (row.contains("label")) {
    const Json& label = row["label"];
    if (label == "0") return PairLabel::kFirst;
    if (label == "1") return PairLabel::kSecond;
    if (label == "tie") return PairLabel::kTie;
    if (label.is_number_integer() && label.get<long long>() == 0) return PairLabel::kFirst;
    if (label.is_number_integer() && label.get<long long>() == 1) return PairLabel::kSecond;
    throw RowError{"unknown label " + label.dump() + ", expected \"0\", \"1\" or \"tie\""};
  }
  // Pick-a-Pic's get_label: label_0 == 0.5 is a tie, 1 prefers image 0, anything else image 1.
  const double label_0 = finite_number(field(row, "label_0"), "label_0");
  if (label_0 == 0.5) return PairLabel::kTie;
  return label_0 == 1.0 ? PairLabel::kFirst : PairLabel::kSecond;
}

std::string text_field(const Json& row, const std::string& key) {
  const Json& value = field(row, key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  throw RowError{"\"" + key + "\" must be a string, got " + value.dump()};
}

// An image named by a row, resolved against the eval file's folder (as manifests are).
std::string image_field(const Json& row, const std::string& key, const fs::path& base) {
  const std::string image = text_field(row, key);
  if (image.empty()) throw RowError{"\"" + key + "\" is empty"};
  const fs::path p(image);
  return p.is_absolute() || base.empty() ? image : (base / p).string();
}

std::string optional_text(const Json& row, const std::string& key) {
  return row.contains(key) ? text_field(row, key) : std::string();
}

std::vector<ScoredPair>* split_rows(const Json& row, PairFile* file) {
  const std::string split = text_field(row, "split");
  if (split == "validation" || split == "validation_unique") return &file->validation;
  if (split == "test" || split == "test_unique") return &file->test;
  throw RowError{"unknown split \"" + split +
                 "\", expected validation, validation_unique, test or test_unique"};
}

// The score of an image a row names; why not, as the row's error.
ImageScore looked_up(const ImageScores& images, const std::string& key, const std::string& image,
                     const std::string& prompt, const std::string& condition) {
  try {
    return images.at(image, prompt, condition);
  } catch (const Error& e) {
    throw RowError{"\"" + key + "\" " + e.what()};
  }
}

void no_scores_given(const std::string& where, const std::string& fields) {
  throw Error(where, "the rows name images (" + fields +
                         ") instead of scores; pass --model M to score them or --scores FILE "
                         "with the output of `prefscore score`");
}

// Records a request for each image of the row (first use kept); with `check_files`, a missing
// file is the row's error.
void request(const std::string& image, const std::string& prompt, const std::string& condition,
             const std::string& where, bool check_files,
             std::set<std::tuple<std::string, std::string, std::string>>* seen,
             std::vector<ImageRequest>* requests) {
  if (check_files) {
    std::error_code ec;
    if (!fs::is_regular_file(image, ec)) throw RowError{"image " + image + " does not exist"};
  }
  if (seen->insert({image, prompt, condition}).second) {
    requests->push_back(ImageRequest{image, prompt, condition, where});
  }
}

}  // namespace

PairFile read_pair_file(const std::string& path, const std::string& score_field, bool strict,
                        const ImageScores* images) {
  PairFile file;
  const fs::path base = fs::path(path).parent_path();
  file.skipped = for_each_row(path, strict, [&](const Json& row, const std::string& where) {
    std::vector<ScoredPair>* rows = split_rows(row, &file);
    ScoredPair pair;
    pair.label = pair_label(row);
    const std::string condition = optional_text(row, "condition");
    const bool has_images = row.contains("image_0") || row.contains("image_1");
    if (images != nullptr) {
      if (!has_images) throw RowError{"names no images (image_0, image_1) to score"};
      const std::string prompt = text_field(row, "prompt");
      // PickScore's rule: p = softmax(exp(logit_scale)·cos) over the pair, so the logits are
      // the pair's scores and the softmax scale is 1 (evaluate_pair_file).
      pair.score_0 = looked_up(*images, "image_0", image_field(row, "image_0", base), prompt,
                               condition).logit;
      pair.score_1 = looked_up(*images, "image_1", image_field(row, "image_1", base), prompt,
                               condition).logit;
    } else if (has_images && !row.contains(score_field + "_0")) {
      no_scores_given(where, "image_0, image_1");
    } else {
      pair.score_0 = finite_number(field(row, score_field + "_0"), score_field + "_0");
      pair.score_1 = finite_number(field(row, score_field + "_1"), score_field + "_1");
    }
    rows->push_back(pair);
    (rows == &file.test ? file.test_conditions : file.validation_conditions).push_back(condition);
  });
  return file;
}

std::vector<ImageRequest> pair_file_images(const std::string& path, bool strict) {
  std::vector<ImageRequest> requests;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  const fs::path base = fs::path(path).parent_path();
  // Malformed rows are skipped silently here: read_pair_file reports them.
  for_each_row(path, strict, [&](const Json& row, const std::string& where) {
    if (!row.contains("image_0") && !row.contains("image_1")) return;
    PairFile unused;
    split_rows(row, &unused);
    pair_label(row);
    const std::string prompt = text_field(row, "prompt");
    const std::string condition = optional_text(row, "condition");
    for (const char* key : {"image_0", "image_1"}) {
      request(image_field(row, key, base), prompt, condition, where, strict, &seen, &requests);
    }
  });
  return requests;
}

RankingFile read_ranking_file(const std::string& path, std::size_t min_images, bool strict,
                              const ImageScores* images) {
  RankingFile file;
  const fs::path base = fs::path(path).parent_path();
  file.skipped = for_each_row(path, strict, [&](const Json& row, const std::string& where) {
    RankingRow ranking;
    ranking.prompt_id = text_field(row, "prompt_id");
    ranking.human_rank = number_list(row, "human_rank");
    if (images != nullptr) {
      const Json& list = field(row, "images");
      if (!list.is_array()) throw RowError{"\"images\" must be an array of paths"};
      const std::string prompt = text_field(row, "prompt");
      const std::string condition = optional_text(row, "condition");
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string key = "images[" + std::to_string(i) + "]";
        if (!list[i].is_string() || list[i].get<std::string>().empty()) {
          throw RowError{"\"" + key + "\" must be a path, got " + list[i].dump()};
        }
        const fs::path p(list[i].get<std::string>());
        const std::string image = p.is_absolute() || base.empty() ? p.string() : (base / p).string();
        ranking.scores.push_back(looked_up(*images, key, image, prompt, condition).score);
      }
    } else if (row.contains("images") && !row.contains("scores")) {
      no_scores_given(where, "images");
    } else {
      ranking.scores = number_list(row, "scores");
    }
    if (ranking.scores.size() != ranking.human_rank.size()) {
      throw RowError{std::string(images ? "\"images\"" : "\"scores\"") + " has " +
                     std::to_string(ranking.scores.size()) + " values but \"human_rank\" has " +
                     std::to_string(ranking.human_rank.size())};
    }
    if (ranking.scores.size() < min_images) {
      throw RowError{"need at least " + std::to_string(min_images) + " images, got " +
                     std::to_string(ranking.scores.size())};
    }
    file.rows.push_back(std::move(ranking));
  });
  return file;
}

std::vector<ImageRequest> ranking_file_images(const std::string& path, bool strict) {
  std::vector<ImageRequest> requests;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  const fs::path base = fs::path(path).parent_path();
  for_each_row(path, strict, [&](const Json& row, const std::string& where) {
    if (!row.contains("images")) return;
    const Json& list = field(row, "images");
    if (!list.is_array()) throw RowError{"\"images\" must be an array of paths"};
    const std::string prompt = text_field(row, "prompt");
    const std::string condition = optional_text(row, "condition");
    for (const Json& image : list) {
      if (!image.is_string() || image.get<std::string>().empty()) continue;
      const fs::path p(image.get<std::string>());
      request(p.is_absolute() || base.empty() ? p.string() : (base / p).string(), prompt,
              condition, where, strict, &seen, &requests);
    }
  });
  return requests;
}

RankCorrFile read_rankcorr_file(const std::string& path, bool strict) {
  RankCorrFile file;
  file.skipped = for_each_row(path, strict, [&](const Json& row, const std::string& where) {
    const std::string name = text_field(row, "name");
    const double metric = finite_number(field(row, "metric"), "metric");
    const double human = finite_number(field(row, "human"), "human");
    file.names.push_back(name);
    file.metric.push_back(metric);
    file.human.push_back(human);
  });
  return file;
}

namespace {

// Test accuracy per condition (MHP/MPS-style pairs) at the threshold tuned on all validation rows.
void add_condition_breakdown(const PairFile& file, const PairwiseResult& r, double logit_scale,
                             nlohmann::ordered_json* j) {
  std::vector<std::string> conditions;
  for (const std::string& c : file.test_conditions) {
    if (!c.empty() && std::find(conditions.begin(), conditions.end(), c) == conditions.end()) {
      conditions.push_back(c);
    }
  }
  if (conditions.empty()) return;
  nlohmann::ordered_json by_condition;
  for (const std::string& c : conditions) {
    std::vector<PairProbs> probs;
    std::vector<PairLabel> labels;
    std::size_t ties = 0;
    for (std::size_t i = 0; i < file.test.size(); ++i) {
      if (file.test_conditions[i] != c) continue;
      probs.push_back(pair_probabilities(file.test[i].score_0, file.test[i].score_1, logit_scale));
      labels.push_back(file.test[i].label);
      ties += file.test[i].label == PairLabel::kTie ? 1 : 0;
    }
    by_condition[c] = {{"test_accuracy", pair_accuracy(probs, labels, r.best_threshold)},
                       {"n_test", probs.size()},
                       {"n_test_ties", ties}};
  }
  (*j)["test_accuracy_by_condition"] = std::move(by_condition);
}

}  // namespace

EvalReport evaluate_pair_file(const std::string& path, const PairEvalOptions& options) {
  const PairFile file =
      read_pair_file(path, options.score_field, options.strict, options.images);
  // Model logits are exp(logit_scale)·cos already: their softmax is PickScore's probability.
  const double logit_scale = options.images != nullptr ? 1.0 : options.logit_scale;
  const std::string skipped_note =
      file.skipped.empty() ? ""
                           : " (" + std::to_string(file.skipped.size()) +
                                 " malformed rows skipped; first: " + file.skipped.front() + ")";
  if (file.validation.empty()) {
    throw Error(path,
                "no rows of split validation or validation_unique, need >= 1 to tune the "
                "tie threshold" +
                    skipped_note);
  }
  if (file.test.empty()) {
    throw Error(path, "no rows of split test or test_unique, need >= 1" + skipped_note);
  }
  const PairwiseResult r =
      evaluate_pairwise(file.validation, file.test, logit_scale, options.thresholds);
  EvalReport report;
  report.skipped = file.skipped;
  auto& j = report.json;
  j["scores_from"] = options.images != nullptr ? options.images->source : "file " + path;
  j["logit_scale"] = logit_scale;
  j["thresholds"] = r.thresholds;
  j["validation_accuracy_by_threshold"] = r.validation_accuracy_by_threshold;
  j["test_accuracy_by_threshold"] = r.test_accuracy_by_threshold;
  j["best_threshold_index"] = r.best_threshold_index;
  j["best_threshold"] = r.best_threshold;
  j["test_accuracy"] = r.test_accuracy;
  j["test_accuracy_excluding_ties"] = r.test_accuracy_excluding_ties;
  j["test_accuracy_excluding_ties_official_t0"] = r.test_accuracy_excluding_ties_official_t0;
  j["n_validation"] = r.n_validation;
  j["n_test"] = r.n_test;
  j["n_test_ties"] = r.n_test_ties;
  if (options.bootstrap.resamples > 0) {
    const ConfidenceInterval ci =
        bootstrap_mean_ci95(r.test_credits, options.bootstrap.resamples, options.bootstrap.seed);
    j["test_accuracy_ci95"] = {ci.low, ci.high};
    j["bootstrap"] = {{"resamples", options.bootstrap.resamples}, {"seed", options.bootstrap.seed}};
  }
  add_condition_breakdown(file, r, logit_scale, &j);
  j["n_skipped"] = file.skipped.size();
  return report;
}

EvalReport evaluate_ranking_file(const std::string& path, RankingStyle style, bool strict,
                                 const BootstrapOptions& bootstrap, const ImageScores* images) {
  const bool hpdv2 = style == RankingStyle::kHpdv2;
  const RankingFile file = read_ranking_file(path, hpdv2 ? 2 : 3, strict, images);
  if (file.rows.empty()) {
    throw Error(path,
                "no valid rows, need >= 1 prompt" +
                    (file.skipped.empty() ? "" : " (first skipped: " + file.skipped.front() + ")"));
  }
  EvalReport report;
  report.skipped = file.skipped;
  auto& j = report.json;
  j["style"] = hpdv2 ? "hpdv2" : "imagereward";
  j["scores_from"] = images != nullptr ? images->source : "file " + path;
  j["items"] = nlohmann::ordered_json::array();
  std::vector<double> values;
  for (const RankingRow& row : file.rows) {
    nlohmann::ordered_json item;
    item["prompt_id"] = row.prompt_id;
    if (hpdv2) {
      const std::vector<int> ranks = model_rank(row.scores);
      const double score =
          inversion_score(std::vector<double>(ranks.begin(), ranks.end()), row.human_rank);
      item["model_rank"] = ranks;
      item["inversion_score"] = score;
      values.push_back(score);
    } else {
      // ImageReward ranks 1 = best, so the scores are negated to rank in the same direction.
      std::vector<double> negated;
      for (double s : row.scores) negated.push_back(-s);
      const double rho = spearman(negated, row.human_rank).statistic;
      item["spearman"] = rho;
      values.push_back(rho);
    }
    j["items"].push_back(std::move(item));
  }
  if (hpdv2) {
    j["ranking_accuracy"] = nan_mean(values);
  } else {
    std::size_t n_nan = 0;
    for (double v : values) n_nan += std::isnan(v) ? 1 : 0;
    j["mean_spearman"] = nan_mean(values);
    j["n_nan"] = n_nan;
  }
  if (bootstrap.resamples > 0) {
    const ConfidenceInterval ci = bootstrap_mean_ci95(values, bootstrap.resamples, bootstrap.seed);
    j[hpdv2 ? "ranking_accuracy_ci95" : "mean_spearman_ci95"] = {ci.low, ci.high};
    j["bootstrap"] = {{"resamples", bootstrap.resamples}, {"seed", bootstrap.seed}};
  }
  j["n_prompts"] = file.rows.size();
  j["n_skipped"] = file.skipped.size();
  return report;
}

EvalReport evaluate_rankcorr_file(const std::string& path, bool strict) {
  const RankCorrFile file = read_rankcorr_file(path, strict);
  if (file.names.size() < 3) {
    throw Error(path, "need at least 3 valid rows for a rank correlation, got " +
                          std::to_string(file.names.size()));
  }
  const CorrelationTest rho = spearman(file.metric, file.human);
  const CorrelationTest tau = kendall_tau_b(file.metric, file.human);
  EvalReport report;
  report.skipped = file.skipped;
  auto& j = report.json;
  j["n"] = file.names.size();
  j["spearman"] = rho.statistic;
  j["spearman_p"] = rho.p_value;
  j["kendall_tau_b"] = tau.statistic;
  j["kendall_p"] = tau.p_value;
  j["n_skipped"] = file.skipped.size();
  return report;
}

}  // namespace prefscore
