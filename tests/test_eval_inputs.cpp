// The `prefscore eval` input readers (eval_inputs.h) on malformed rows found by fuzzing
// (tests/fuzz/fuzz_eval_inputs.cpp); the numbers they feed are checked in test_cli_eval.cpp.
#include <filesystem>
#include <fstream>

#include "prefscore/error.h"
#include "prefscore/eval_inputs.h"
#include "test_utils.h"

TEST_CASE("issue 10: a number too large for a double is a skipped row, not a crash",
          "[eval_inputs]") {
  // nlohmann throws out_of_range (406), not parse_error, for 1e329; it escaped the row handler.
  const auto dir = prefscore::testing::fresh_temp_dir("eval_inputs_overflow");
  const std::string path = (dir / "pairs.jsonl").string();
  std::ofstream(path) << R"({"split":"test","label":"tie","score_0":1,"score_1":2})" << "\n"
                      << R"({"split":"test","label":"0","score_0":1e329,"score_1":-1})" << "\n";
  const prefscore::PairFile file = prefscore::read_pair_file(path, "score", /*strict=*/false);
  CHECK(file.test.size() == 1);
  REQUIRE(file.skipped.size() == 1);
  CHECK(file.skipped[0] == path + ":2: not valid JSON, expected one object per line");
  CHECK_THROWS_WITH(prefscore::read_pair_file(path, "score", /*strict=*/true),
                    path + ":2: not valid JSON, expected one object per line");
  const prefscore::RankCorrFile corr = prefscore::read_rankcorr_file(path, /*strict=*/false);
  CHECK(corr.skipped.size() == 2);  // row 1 has no name; row 2 is the overflow
  std::filesystem::remove_all(dir);
}

TEST_CASE("issue 10: a row nested 200000 levels deep is a skipped row, not a stack overflow",
          "[eval_inputs]") {
  const auto dir = prefscore::testing::fresh_temp_dir("eval_inputs_nested");
  const std::string path = (dir / "pairs.jsonl").string();
  std::ofstream(path) << R"({"split":"test","label":"tie","score_0":1,"score_1":2})" << "\n"
                      << std::string(200000, '[') << std::string(200000, ']') << "\n"
                      << R"({"prompt_id": )" << std::string(200000, '[')
                      << std::string(200000, ']') << "}\n";
  const prefscore::PairFile file = prefscore::read_pair_file(path, "score", /*strict=*/false);
  CHECK(file.test.size() == 1);
  REQUIRE(file.skipped.size() == 2);
  CHECK(file.skipped[0] == path + ":2: JSON nests deeper than 64 levels");
  CHECK(file.skipped[1] == path + ":3: JSON nests deeper than 64 levels");
  const prefscore::RankingFile rankings =
      prefscore::read_ranking_file(path, 2, /*strict=*/false);
  CHECK(rankings.skipped.size() == 3);
  std::filesystem::remove_all(dir);
}
