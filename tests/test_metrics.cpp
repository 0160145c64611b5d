// Evaluation metrics against the golden numbers of tests/data/eval/expected.json (official
// PickScore and HPSv2 decision rules, scipy 1.10.1 statistics; see tests/data/eval/README.md),
// plus the distribution tails against closed forms and the exact Kendall p against enumeration.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "prefscore/error.h"
#include "prefscore/eval_inputs.h"
#include "prefscore/metrics.h"
#include "eval_fixture.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::require_allclose;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
constexpr double kTol = 1e-9;

const Json& expected() { return prefscore::testing::eval_expected(); }

std::vector<double> doubles(const Json& j) { return j.get<std::vector<double>>(); }

void check_close(double got, double want, const std::string& what) {
  require_allclose(&got, &want, 1, kTol, 0.0, what);
}

std::string write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
  return path.string();
}

// The ranking fixtures as `eval rankings` input rows.
std::string write_ranking_file(const fs::path& path, const Json& items) {
  std::vector<std::string> lines;
  for (const Json& item : items) {
    lines.push_back(Json{{"prompt_id", item["prompt_id"]},
                         {"scores", item["scores"]},
                         {"human_rank", item["human_rank"]}}
                        .dump());
  }
  return write_lines(path, lines);
}

}  // namespace

TEST_CASE("the threshold grid is PickScore's literal list", "[metrics]") {
  const std::vector<double> grid = prefscore::official_thresholds();
  REQUIRE(grid == doubles(expected()["thresholds"]));
  REQUIRE(grid[3] == 0.3);  // an arange would give 0.30000000000000004
  const std::vector<double> fine = prefscore::uniform_thresholds(100);
  REQUIRE(fine.size() == 101);
  CHECK(fine[50] == 0.5);
  CHECK(fine.back() == 1.0);
  CHECK_THROWS_AS(prefscore::uniform_thresholds(0), prefscore::Error);
}

TEST_CASE("decision rule: <= tie threshold, half credit for one tie", "[metrics]") {
  using prefscore::PairLabel;
  const auto equal = prefscore::pair_probabilities(0.2, 0.2, 100.0);
  CHECK(equal.p0 == 0.5);
  CHECK(prefscore::predict_pair(equal, 0.0) == PairLabel::kTie);
  const auto first = prefscore::pair_probabilities(0.3, 0.2, 100.0);
  CHECK(prefscore::predict_pair(first, 0.0) == PairLabel::kFirst);
  CHECK(prefscore::predict_pair(first, 1.0) == PairLabel::kTie);
  CHECK(prefscore::predict_pair({0.25, 0.75}, 0.5) == PairLabel::kTie);  // |diff| == t: tie
  CHECK(prefscore::predict_pair({0.25, 0.75}, 0.4) == PairLabel::kSecond);
  CHECK(prefscore::pair_credit(PairLabel::kTie, PairLabel::kTie) == 1.0);
  CHECK(prefscore::pair_credit(PairLabel::kTie, PairLabel::kFirst) == 0.5);
  CHECK(prefscore::pair_credit(PairLabel::kSecond, PairLabel::kTie) == 0.5);
  CHECK(prefscore::pair_credit(PairLabel::kSecond, PairLabel::kFirst) == 0.0);
}

TEST_CASE("Pick-a-Pic pairwise accuracy reproduces expected.json", "[metrics]") {
  const double logit_scale = expected()["logit_scale"].get<double>();
  for (const std::string metric : {"metric_a", "metric_b"}) {
    const Json& want = expected()["pickapic"][metric];
    prefscore::PairEvalOptions options;
    options.score_field = metric + "_score";
    options.logit_scale = logit_scale;
    const prefscore::PairFile file =
        prefscore::read_pair_file(data_path("eval/pairs.jsonl"), options.score_field, false);
    REQUIRE(file.skipped.empty());
    const prefscore::PairwiseResult r = prefscore::evaluate_pairwise(
        file.validation, file.test, logit_scale, prefscore::official_thresholds());

    const Json probs_json = want["test_probs"];
    std::vector<double> want_probs, got_probs;
    for (const Json& p : probs_json) {
      want_probs.push_back(p[0].get<double>());
      want_probs.push_back(p[1].get<double>());
    }
    for (const prefscore::PairProbs& p : r.test_probs) {
      got_probs.push_back(p.p0);
      got_probs.push_back(p.p1);
    }
    REQUIRE(got_probs.size() == want_probs.size());
    require_allclose(got_probs.data(), want_probs.data(), got_probs.size(), kTol, 0.0,
                     metric + " test_probs");

    const std::vector<double> val = doubles(want["val_acc_by_threshold"]);
    const std::vector<double> test = doubles(want["test_acc_by_threshold"]);
    REQUIRE(r.validation_accuracy_by_threshold.size() == val.size());
    REQUIRE(r.test_accuracy_by_threshold.size() == test.size());
    require_allclose(r.validation_accuracy_by_threshold.data(), val.data(), val.size(), kTol, 0.0,
                     metric + " val_acc_by_threshold");
    require_allclose(r.test_accuracy_by_threshold.data(), test.data(), test.size(), kTol, 0.0,
                     metric + " test_acc_by_threshold");
    CHECK(r.best_threshold_index == want["best_threshold_index"].get<std::size_t>());
    CHECK(r.best_threshold == want["best_threshold"].get<double>());
    check_close(r.test_accuracy, want["test_acc_at_best_threshold"].get<double>(),
                metric + " test_acc_at_best_threshold");
    check_close(r.test_accuracy_excluding_ties,
                want["test_acc_excluding_ties_strict"].get<double>(),
                metric + " test_acc_excluding_ties_strict");
    check_close(r.test_accuracy_excluding_ties_official_t0,
                want["test_acc_excluding_ties_official_t0"].get<double>(),
                metric + " test_acc_excluding_ties_official_t0");
    CHECK(r.n_test == want["test_n"].get<std::size_t>());
    CHECK(r.n_test_ties == want["test_n_ties"].get<std::size_t>());
    CHECK(r.n_validation == 150);

    const prefscore::EvalReport report =
        prefscore::evaluate_pair_file(data_path("eval/pairs.jsonl"), options);
    check_close(report.json["test_accuracy"].get<double>(),
                want["test_acc_at_best_threshold"].get<double>(), metric + " report test_accuracy");
    CHECK(report.json["n_skipped"] == 0);
  }
}

TEST_CASE("model ranking: Spearman and Kendall tau-b with scipy's p-values", "[metrics]") {
  const Json& want = expected()["model_ranking"];
  std::vector<double> metric, human;
  for (const Json& row : want["table"]) {
    metric.push_back(row["mean_score_a"].get<double>());
    human.push_back(row["human_win_rate"].get<double>());
  }
  const auto rho = prefscore::spearman(metric, human);
  const auto tau = prefscore::kendall_tau_b(metric, human);
  check_close(rho.statistic, want["spearman_rho"].get<double>(), "spearman_rho");
  check_close(rho.p_value, want["spearman_p"].get<double>(), "spearman_p");
  check_close(tau.statistic, want["kendall_tau_b"].get<double>(), "kendall_tau_b");
  check_close(tau.p_value, want["kendall_p"].get<double>(), "kendall_p");

  const fs::path dir = prefscore::testing::fresh_temp_dir("metrics_rankcorr");
  std::vector<std::string> lines;
  for (const Json& row : want["table"]) {
    lines.push_back(Json{
        {"name", row["model"]}, {"metric", row["mean_score_a"]}, {"human", row["human_win_rate"]}}
                        .dump());
  }
  const auto report =
      prefscore::evaluate_rankcorr_file(write_lines(dir / "models.jsonl", lines), false);
  check_close(report.json["spearman_p"].get<double>(), want["spearman_p"].get<double>(),
              "report spearman_p");
  check_close(report.json["kendall_p"].get<double>(), want["kendall_p"].get<double>(),
              "report kendall_p");
  CHECK(report.json["n"] == 9);
}

TEST_CASE("HPD v2 ranking accuracy reproduces expected.json", "[metrics]") {
  const Json& want = expected()["hpdv2"];
  std::vector<double> got_scores, want_scores;
  for (const Json& item : want["items"]) {
    const std::vector<int> rank = prefscore::model_rank(doubles(item["scores"]));
    CHECK(rank == item["model_rank"].get<std::vector<int>>());
    got_scores.push_back(prefscore::inversion_score(std::vector<double>(rank.begin(), rank.end()),
                                                    doubles(item["human_rank"])));
    want_scores.push_back(item["inversion_score"].get<double>());
  }
  require_allclose(got_scores.data(), want_scores.data(), got_scores.size(), kTol, 0.0,
                   "hpdv2 inversion_score");
  const fs::path dir = prefscore::testing::fresh_temp_dir("metrics_hpdv2");
  const auto report =
      prefscore::evaluate_ranking_file(write_ranking_file(dir / "hpdv2.jsonl", want["items"]),
                                       prefscore::RankingStyle::kHpdv2, false);
  check_close(report.json["ranking_accuracy"].get<double>(), want["ranking_acc"].get<double>(),
              "hpdv2 ranking_acc");
  CHECK(report.json["items"].size() == want["items"].size());
}

TEST_CASE("ImageReward per-prompt Spearman reproduces expected.json", "[metrics]") {
  const Json& want = expected()["imagereward"];
  std::vector<double> got_rho, want_rho;
  for (const Json& item : want["items"]) {
    std::vector<double> negated = doubles(item["scores"]);
    for (double& s : negated) s = -s;
    got_rho.push_back(prefscore::spearman(negated, doubles(item["human_rank"])).statistic);
    want_rho.push_back(item["spearman"].get<double>());
  }
  require_allclose(got_rho.data(), want_rho.data(), got_rho.size(), kTol, 0.0,
                   "imagereward spearman");
  const fs::path dir = prefscore::testing::fresh_temp_dir("metrics_imagereward");
  const auto report =
      prefscore::evaluate_ranking_file(write_ranking_file(dir / "ir.jsonl", want["items"]),
                                       prefscore::RankingStyle::kImageReward, false);
  check_close(report.json["mean_spearman"].get<double>(), want["mean_spearman"].get<double>(),
              "imagereward mean_spearman");
  CHECK(report.json["n_nan"].get<int>() == want["n_nan"].get<int>());
}

TEST_CASE("constant input gives NaN, skipped by nan_mean", "[metrics]") {
  const auto rho = prefscore::spearman({1.0, 1.0, 1.0}, {1.0, 2.0, 3.0});
  CHECK(std::isnan(rho.statistic));
  CHECK(std::isnan(rho.p_value));
  CHECK(std::isnan(prefscore::kendall_tau_b({2.0, 2.0}, {1.0, 2.0}).statistic));
  CHECK(prefscore::nan_mean({1.0, std::nan(""), 2.0}) == 1.5);
  CHECK(std::isnan(prefscore::nan_mean({std::nan("")})));
  CHECK(prefscore::average_ranks({3.0, 1.0, 3.0, 2.0}) == std::vector<double>{3.5, 1.0, 3.5, 2.0});
  CHECK_THROWS_AS(prefscore::spearman({1.0, 2.0}, {1.0, 2.0, 3.0}), prefscore::Error);
  // A pair tied in either ranking never counts as an inversion.
  CHECK(prefscore::inversion_score({0, 0, 1}, {1, 0, 2}) == 1.0);
  CHECK(prefscore::inversion_score({0, 1, 2}, {2, 1, 0}) == 0.0);
}

TEST_CASE("distribution tails match closed forms", "[metrics]") {
  for (double t : {0.0, 0.3, 1.0, 2.5, 7.0}) {
    // dof 1 is Cauchy; dof 2 has sf = 1/2 - t / (2 sqrt(2 + t^2)).
    check_close(prefscore::student_t_sf(t, 1.0), 0.5 - std::atan(t) / M_PI, "t sf dof 1");
    check_close(prefscore::student_t_sf(t, 2.0), 0.5 - t / (2.0 * std::sqrt(2.0 + t * t)),
                "t sf dof 2");
    check_close(prefscore::student_t_sf(-t, 2.0), 0.5 + t / (2.0 * std::sqrt(2.0 + t * t)),
                "t sf dof 2 negative");
  }
  // I_x(a, 1) = x^a and I_x(1, b) = 1 - (1 - x)^b.
  check_close(prefscore::regularized_incomplete_beta(3.5, 1.0, 0.7), std::pow(0.7, 3.5), "I(a,1)");
  check_close(prefscore::regularized_incomplete_beta(1.0, 4.5, 0.2), 1.0 - std::pow(0.8, 4.5),
              "I(1,b)");
  check_close(prefscore::normal_sf(1.959963984540054), 0.025, "normal sf");
}

TEST_CASE("exact Kendall p without ties equals enumeration of permutations", "[metrics]") {
  for (const std::vector<int>& y : {std::vector<int>{2, 1, 4, 3, 6, 5},
                                    {3, 1, 2, 4, 5, 7, 6},
                                    {1, 2, 3, 4, 5},
                                    {5, 3, 4, 1, 2}}) {
    const std::size_t n = y.size();
    std::vector<double> x(n), yd(y.begin(), y.end());
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<double>(i);
    const auto got = prefscore::kendall_tau_b(x, yd);
    const auto inversions = [](const std::vector<int>& p) {
      int count = 0;
      for (std::size_t i = 0; i < p.size(); ++i)
        for (std::size_t j = i + 1; j < p.size(); ++j) count += p[i] > p[j] ? 1 : 0;
      return count;
    };
    const int tot = static_cast<int>(n * (n - 1) / 2);
    const int observed = std::min(inversions(y), tot - inversions(y));
    std::vector<int> perm(n);
    for (std::size_t i = 0; i < n; ++i) perm[i] = static_cast<int>(i);
    double as_extreme = 0.0, total = 0.0;
    do {
      total += 1.0;
      if (std::min(inversions(perm), tot - inversions(perm)) <= observed) as_extreme += 1.0;
    } while (std::next_permutation(perm.begin(), perm.end()));
    check_close(got.p_value, std::min(1.0, as_extreme / total), "exact kendall p");
    check_close(got.statistic, 1.0 - 4.0 * inversions(y) / (n * (n - 1.0)), "kendall tau");
  }
}

TEST_CASE("bootstrap interval: seeded, around the mean, degenerate for constants", "[metrics]") {
  std::vector<double> credits;
  for (int i = 0; i < 200; ++i) credits.push_back(i % 4 == 0 ? 0.0 : (i % 4 == 1 ? 0.5 : 1.0));
  const double mean = prefscore::nan_mean(credits);  // 0.625
  const auto a = prefscore::bootstrap_mean_ci95(credits, 2000, /*seed=*/7);
  const auto b = prefscore::bootstrap_mean_ci95(credits, 2000, /*seed=*/7);
  const auto c = prefscore::bootstrap_mean_ci95(credits, 2000, /*seed=*/8);
  CHECK(a.low == b.low);
  CHECK(a.high == b.high);
  CHECK((a.low != c.low || a.high != c.high));
  CHECK(a.low < mean);
  CHECK(a.high > mean);
  // The standard error of the mean is 0.0293 here, so the 95% interval spans about +-0.057.
  CHECK(a.high - a.low == Approx(2 * 1.96 * 0.0293).epsilon(0.1));
  const auto constant = prefscore::bootstrap_mean_ci95({0.5, 0.5, std::nan("")}, 10, 1);
  CHECK(constant.low == 0.5);
  CHECK(constant.high == 0.5);
  CHECK_THROWS_AS(prefscore::bootstrap_mean_ci95({std::nan("")}, 10, 1), prefscore::Error);
  CHECK_THROWS_AS(prefscore::bootstrap_mean_ci95({1.0}, 0, 1), prefscore::Error);

  prefscore::PairEvalOptions options;
  options.score_field = "metric_a_score";
  options.bootstrap = {/*resamples=*/500, /*seed=*/3};
  const auto report = prefscore::evaluate_pair_file(data_path("eval/pairs.jsonl"), options);
  const auto ci = report.json["test_accuracy_ci95"].get<std::vector<double>>();
  REQUIRE(ci.size() == 2);
  CHECK(ci[0] < 0.76625);
  CHECK(ci[1] > 0.76625);
}

TEST_CASE("malformed rows are skipped with FILE:LINE, fatal under strict", "[metrics]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("metrics_malformed");
  const std::string path =
      write_lines(dir / "pairs.jsonl",
                  {R"({"split": "validation", "label": "0", "score_0": 0.3, "score_1": 0.2})",
                   R"({"split": "test", "label": "maybe", "score_0": 0.3, "score_1": 0.2})",
                   R"({"split": "test", "label": "1", "score_0": NaN, "score_1": 0.2})", "",
                   R"({"split": "test", "label": "tie", "score_0": 0.3})",
                   R"({"split": "train", "label": "0", "score_0": 0.3, "score_1": 0.2})",
                   R"({"split": "test", "label": "1", "score_0": null, "score_1": 0.2})",
                   R"({"split": "test_unique", "label_0": 0.5, "score_0": 0.3, "score_1": 0.3})"});
  const prefscore::PairFile file = prefscore::read_pair_file(path, "score", false);
  CHECK(file.validation.size() == 1);
  REQUIRE(file.test.size() == 1);
  CHECK(file.test[0].label == prefscore::PairLabel::kTie);
  REQUIRE(file.skipped.size() == 5);
  CHECK(file.skipped[0] == path + ":2: unknown label \"maybe\", expected \"0\", \"1\" or \"tie\"");
  CHECK_THAT(file.skipped[1], Catch::StartsWith(path + ":3: not a finite number"));
  CHECK(file.skipped[2] == path + ":5: missing field \"score_1\"");
  CHECK_THAT(file.skipped[3], Catch::StartsWith(path + ":6: unknown split \"train\""));
  CHECK(file.skipped[4] == path + ":7: \"score_0\" must be a finite number, got null");
  try {
    prefscore::read_pair_file(path, "score", /*strict=*/true);
    FAIL("strict mode must throw");
  } catch (const prefscore::Error& e) {
    CHECK(e.path() == path + ":2");
    CHECK_THAT(e.reason(), Catch::StartsWith("unknown label"));
  }
  const auto report = prefscore::evaluate_pair_file(path, prefscore::PairEvalOptions{});
  CHECK(report.json["n_skipped"] == 5);
  CHECK(report.json["test_accuracy"] == 1.0);  // equal scores predict tie at t = 0

  const std::string ranks = write_lines(
      dir / "ranks.jsonl", {R"({"prompt_id": "a", "scores": [0.1, 0.2], "human_rank": [1]})",
                            R"({"prompt_id": "b", "scores": [0.1, 0.2], "human_rank": [1, 0]})"});
  const prefscore::RankingFile rank_file = prefscore::read_ranking_file(ranks, 2, false);
  CHECK(rank_file.rows.size() == 1);
  REQUIRE(rank_file.skipped.size() == 1);
  CHECK(rank_file.skipped[0] == ranks + ":1: \"scores\" has 2 values but \"human_rank\" has 1");
  CHECK_THROWS_AS(prefscore::read_ranking_file(ranks, 2, /*strict=*/true), prefscore::Error);
}
