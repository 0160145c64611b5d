// `prefscore eval` end to end: the golden numbers of tests/data/eval/expected.json through the CLI,
// the JSON report keys, -o, skipped rows (exit 3) and --strict (exit 1).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval_fixture.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::require_allclose;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
constexpr double kTol = 1e-9;

const Json& expected() { return prefscore::testing::eval_expected(); }

std::string write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
  return path.string();
}

void check_close(const Json& got, const Json& want, const std::string& what) {
  const std::vector<double> g =
      got.is_array() ? got.get<std::vector<double>>() : std::vector<double>{got.get<double>()};
  const std::vector<double> w =
      want.is_array() ? want.get<std::vector<double>>() : std::vector<double>{want.get<double>()};
  REQUIRE(g.size() == w.size());
  require_allclose(g.data(), w.data(), g.size(), kTol, 0.0, what);
}

std::string ranking_rows(const fs::path& path, const Json& items) {
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

TEST_CASE("eval pairs reproduces the Pick-a-Pic numbers", "[cli_eval]") {
  for (const std::string metric : {"metric_a", "metric_b"}) {
    const Json& want = expected()["pickapic"][metric];
    const auto run = run_prefscore("eval pairs '" + data_path("eval/pairs.jsonl") +
                                   "' --logit-scale 100 --score-field " + metric + "_score");
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    const Json got = Json::parse(run.out);
    check_close(got["thresholds"], expected()["thresholds"], "thresholds");
    check_close(got["validation_accuracy_by_threshold"], want["val_acc_by_threshold"],
                metric + " validation_accuracy_by_threshold");
    check_close(got["test_accuracy_by_threshold"], want["test_acc_by_threshold"],
                metric + " test_accuracy_by_threshold");
    check_close(got["best_threshold"], want["best_threshold"], metric + " best_threshold");
    check_close(got["test_accuracy"], want["test_acc_at_best_threshold"],
                metric + " test_accuracy");
    check_close(got["test_accuracy_excluding_ties"], want["test_acc_excluding_ties_strict"],
                metric + " test_accuracy_excluding_ties");
    check_close(got["test_accuracy_excluding_ties_official_t0"],
                want["test_acc_excluding_ties_official_t0"], metric + " official_t0");
    CHECK(got["n_test"].get<int>() == want["test_n"].get<int>());
    CHECK(got["n_test_ties"].get<int>() == want["test_n_ties"].get<int>());
    CHECK(got["n_skipped"].get<int>() == 0);
  }
}

TEST_CASE("eval rankings: hpdv2 and imagereward styles", "[cli_eval]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_eval_rankings");
  const Json& hpd = expected()["hpdv2"];
  const auto hpd_run = run_prefscore(
      "eval rankings '" + ranking_rows(dir / "hpd.jsonl", hpd["items"]) + "' --style hpdv2");
  INFO(hpd_run.err);
  REQUIRE(hpd_run.exit_code == 0);
  const Json hpd_got = Json::parse(hpd_run.out);
  check_close(hpd_got["ranking_accuracy"], hpd["ranking_acc"], "hpdv2 ranking_accuracy");
  REQUIRE(hpd_got["items"].size() == hpd["items"].size());
  for (std::size_t i = 0; i < hpd["items"].size(); ++i) {
    check_close(hpd_got["items"][i]["inversion_score"], hpd["items"][i]["inversion_score"],
                "hpdv2 " + hpd["items"][i]["prompt_id"].get<std::string>());
  }

  const Json& ir = expected()["imagereward"];
  const fs::path out = dir / "ir_report.json";
  const auto ir_run =
      run_prefscore("eval rankings '" + ranking_rows(dir / "ir.jsonl", ir["items"]) +
                    "' --style imagereward -o '" + out.string() + "'");
  INFO(ir_run.err);
  REQUIRE(ir_run.exit_code == 0);
  CHECK(ir_run.out.empty());
  std::ifstream in(out);
  const Json ir_got = Json::parse(in);
  check_close(ir_got["mean_spearman"], ir["mean_spearman"], "imagereward mean_spearman");
  CHECK(ir_got["n_nan"].get<int>() == ir["n_nan"].get<int>());
  for (std::size_t i = 0; i < ir["items"].size(); ++i) {
    check_close(ir_got["items"][i]["spearman"], ir["items"][i]["spearman"],
                "imagereward " + ir["items"][i]["prompt_id"].get<std::string>());
  }
}

TEST_CASE("eval rankcorr: Spearman and Kendall tau-b with p-values", "[cli_eval]") {
  const Json& want = expected()["model_ranking"];
  std::vector<std::string> lines;
  for (const Json& row : want["table"]) {
    lines.push_back(Json{
        {"name", row["model"]}, {"metric", row["mean_score_a"]}, {"human", row["human_win_rate"]}}
                        .dump());
  }
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_eval_rankcorr");
  const auto run = run_prefscore("eval rankcorr '" + write_lines(dir / "m.jsonl", lines) + "'");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const Json got = Json::parse(run.out);
  check_close(got["spearman"], want["spearman_rho"], "spearman");
  check_close(got["spearman_p"], want["spearman_p"], "spearman_p");
  check_close(got["kendall_tau_b"], want["kendall_tau_b"], "kendall_tau_b");
  check_close(got["kendall_p"], want["kendall_p"], "kendall_p");
}

TEST_CASE("eval: malformed rows are skipped (exit 3) or fatal under --strict (exit 1)",
          "[cli_eval]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_eval_malformed");
  const std::string path = write_lines(
      dir / "pairs.jsonl",
      {R"({"split": "validation_unique", "label": "0", "score_0": 0.3, "score_1": 0.2})",
       R"({"split": "test_unique", "label": "maybe", "score_0": 0.3, "score_1": 0.2})",
       R"({"split": "test_unique", "label": "1", "score_0": NaN, "score_1": 0.2})",
       R"({"split": "test_unique", "label": "1", "score_0": 0.1})",
       R"({"split": "test_unique", "label": "1", "score_0": 0.1, "score_1": 0.2})"});
  const auto run = run_prefscore("eval pairs '" + path + "' --logit-scale 100");
  CHECK(run.exit_code == 3);
  CHECK_THAT(run.err,
             Catch::Contains("prefscore: skipped: " + path +
                             ":2: unknown label \"maybe\", expected \"0\", \"1\" or \"tie\""));
  CHECK_THAT(run.err, Catch::Contains("prefscore: skipped: " + path + ":3: not a finite number"));
  CHECK_THAT(run.err,
             Catch::Contains("prefscore: skipped: " + path + ":4: missing field \"score_1\""));
  const Json got = Json::parse(run.out);
  CHECK(got["n_skipped"].get<int>() == 3);
  CHECK(got["n_test"].get<int>() == 1);
  CHECK(got["test_accuracy"].get<double>() == 1.0);

  const auto strict = run_prefscore("eval pairs '" + path + "' --strict");
  CHECK(strict.exit_code == 1);
  CHECK(strict.out.empty());
  CHECK_THAT(strict.err, Catch::Contains(path + ":2: unknown label \"maybe\""));

  const auto usage = run_prefscore("eval rankings '" + path + "'");
  CHECK(usage.exit_code == 2);
}
