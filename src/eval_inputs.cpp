#include "prefscore/eval_inputs.h"

#include <cmath>
#include <functional>
#include <sstream>

#include "prefscore/error.h"
#include "prefscore/io.h"

namespace prefscore {
namespace {

using Json = nlohmann::json;

// A malformed row: thrown by the row parsers, then skipped or rethrown with FILE:LINE.
struct RowError {
  std::string reason;
};

// Calls `parse_row` on each non-blank line's JSON object; collects or throws the row errors.
std::vector<std::string> for_each_row(const std::string& path, bool strict,
                                      const std::function<void(const Json&)>& parse_row) {
  std::istringstream lines(read_file(path));
  std::vector<std::string> skipped;
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    try {
      Json row;
      try {
        row = Json::parse(line);
      } catch (const Json::exception&) {
        const bool non_finite =
            line.find("NaN") != std::string::npos || line.find("Infinity") != std::string::npos;
        throw RowError{non_finite ? "not a finite number (NaN/Infinity), expected a JSON number"
                                  : "not valid JSON, expected one object per line"};
      }
      if (!row.is_object()) throw RowError{"expected a JSON object, got " + row.dump()};
      parse_row(row);
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

double finite_number(const Json& value, const std::string& key) {
  if (!value.is_number()) {
    throw RowError{"\"" + key + "\" must be a finite number, got " + value.dump()};
  }
  const double x = value.get<double>();
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

}  // namespace

PairFile read_pair_file(const std::string& path, const std::string& score_field, bool strict) {
  PairFile file;
  file.skipped = for_each_row(path, strict, [&](const Json& row) {
    const std::string split = text_field(row, "split");
    std::vector<ScoredPair>* rows = nullptr;
    if (split == "validation" || split == "validation_unique") rows = &file.validation;
    if (split == "test" || split == "test_unique") rows = &file.test;
    if (rows == nullptr) {
      throw RowError{"unknown split \"" + split +
                     "\", expected validation, validation_unique, test or test_unique"};
    }
    ScoredPair pair;
    pair.label = pair_label(row);
    pair.score_0 = finite_number(field(row, score_field + "_0"), score_field + "_0");
    pair.score_1 = finite_number(field(row, score_field + "_1"), score_field + "_1");
    rows->push_back(pair);
  });
  return file;
}

RankingFile read_ranking_file(const std::string& path, std::size_t min_images, bool strict) {
  RankingFile file;
  file.skipped = for_each_row(path, strict, [&](const Json& row) {
    RankingRow ranking;
    ranking.prompt_id = text_field(row, "prompt_id");
    ranking.scores = number_list(row, "scores");
    ranking.human_rank = number_list(row, "human_rank");
    if (ranking.scores.size() != ranking.human_rank.size()) {
      throw RowError{"\"scores\" has " + std::to_string(ranking.scores.size()) +
                     " values but \"human_rank\" has " + std::to_string(ranking.human_rank.size())};
    }
    if (ranking.scores.size() < min_images) {
      throw RowError{"need at least " + std::to_string(min_images) + " images, got " +
                     std::to_string(ranking.scores.size())};
    }
    file.rows.push_back(std::move(ranking));
  });
  return file;
}

RankCorrFile read_rankcorr_file(const std::string& path, bool strict) {
  RankCorrFile file;
  file.skipped = for_each_row(path, strict, [&](const Json& row) {
    const std::string name = text_field(row, "name");
    const double metric = finite_number(field(row, "metric"), "metric");
    const double human = finite_number(field(row, "human"), "human");
    file.names.push_back(name);
    file.metric.push_back(metric);
    file.human.push_back(human);
  });
  return file;
}

EvalReport evaluate_pair_file(const std::string& path, const PairEvalOptions& options) {
  const PairFile file = read_pair_file(path, options.score_field, options.strict);
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
      evaluate_pairwise(file.validation, file.test, options.logit_scale, options.thresholds);
  EvalReport report;
  report.skipped = file.skipped;
  auto& j = report.json;
  j["logit_scale"] = options.logit_scale;
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
  j["n_skipped"] = file.skipped.size();
  return report;
}

EvalReport evaluate_ranking_file(const std::string& path, RankingStyle style, bool strict,
                                 const BootstrapOptions& bootstrap) {
  const bool hpdv2 = style == RankingStyle::kHpdv2;
  const RankingFile file = read_ranking_file(path, hpdv2 ? 2 : 3, strict);
  if (file.rows.empty()) {
    throw Error(path,
                "no valid rows, need >= 1 prompt" +
                    (file.skipped.empty() ? "" : " (first skipped: " + file.skipped.front() + ")"));
  }
  EvalReport report;
  report.skipped = file.skipped;
  auto& j = report.json;
  j["style"] = hpdv2 ? "hpdv2" : "imagereward";
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
