// ImageScores: reading `prefscore score` JSONL back (models, conditions, rows without logits,
// conflicting rows, malformed rows) and the lookups eval makes.
#include <filesystem>
#include <functional>
#include <fstream>

#include "prefscore/error.h"
#include "prefscore/image_scores.h"
#include "test_utils.h"

using prefscore::Error;
using prefscore::testing::error_of;
using prefscore::ImageScores;
using prefscore::read_score_file;

namespace {

namespace fs = std::filesystem;

std::string write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("read_score_file: logits, conditions, paths matched after normalising",
          "[image_scores]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("image_scores_read");
  const std::string a = (dir / "a.png").string();
  const std::string file = write(
      dir / "s.jsonl",
      "{\"image\": \"" + a + "\", \"prompt\": \"cat\", \"model\": \"mps\", \"condition\": "
      "\"overall\", \"score\": 2.5, \"logit\": 2.5, \"prob\": 0.7}\n"
      "{\"image\": \"" + a + "\", \"prompt\": \"cat\", \"model\": \"mps\", \"condition\": "
      "\"detail\", \"score\": 1.5, \"logit\": 1.5, \"prob\": 0.3}\n"
      "\n"
      "{\"image\": \"" + (dir / "b.png").string() + "\", \"prompt\": \"cat\", \"model\": "
      "\"mps\", \"score\": 0.25}\n");
  const ImageScores s = read_score_file(file, "", /*logit_scale=*/100.0);
  CHECK(s.at((dir / "./a.png").string(), "cat", "detail").score == 1.5);
  CHECK(s.at(a, "cat", "overall").logit == 2.5);
  // No logit in the row: score times --logit-scale.
  CHECK(s.at((dir / "sub/../b.png").string(), "cat", "").logit == 25.0);
  // A row without a condition answers for every condition.
  CHECK(s.at((dir / "b.png").string(), "cat", "semantic").score == 0.25);
  CHECK(error_of([&] { s.at(a, "dog", ""); }) ==
        a + ": no score for this image with prompt \"dog\" in the score file " + file);
  CHECK(error_of([&] { s.at(a, "cat", "semantic"); }) ==
        a + ": no score for this image with prompt \"cat\" and condition \"semantic\" in the "
            "score file " + file);
  fs::remove_all(dir);
}

TEST_CASE("read_score_file: several models, conflicts and malformed rows are errors",
          "[image_scores]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("image_scores_errors");
  const std::string two = write(dir / "two.jsonl",
                                "{\"image\": \"a.png\", \"prompt\": \"p\", \"model\": \"x\", "
                                "\"score\": 1}\n{\"image\": \"a.png\", \"prompt\": \"p\", "
                                "\"model\": \"y\", \"score\": 2}\n");
  CHECK(error_of([&] { read_score_file(two, "", 1.0); }) ==
        two + ": has scores of several models (x, y); pick one with --score-model");
  CHECK(read_score_file(two, "y", 1.0).at("a.png", "p", "").score == 2.0);
  CHECK(error_of([&] { read_score_file(two, "z", 1.0); }) ==
        two + ": has no rows of model \"z\"");

  const std::string conflict = write(dir / "conflict.jsonl",
                                     "{\"image\": \"a.png\", \"prompt\": \"p\", \"model\": \"x\", "
                                     "\"score\": 1}\n{\"image\": \"./a.png\", \"prompt\": \"p\", "
                                     "\"model\": \"x\", \"score\": 2}\n");
  CHECK(error_of([&] { read_score_file(conflict, "", 1.0); }) ==
        conflict + ":2: scores ./a.png again with a different score than " + conflict + ":1");

  const std::string nan = write(dir / "nan.jsonl",
                                "{\"image\": \"a.png\", \"prompt\": \"p\", \"model\": \"x\", "
                                "\"score\": \"high\"}\n");
  CHECK(error_of([&] { read_score_file(nan, "", 1.0); }) ==
        nan + ":1: \"score\" must be a finite number, got \"high\"");
  const std::string no_image = write(dir / "noimage.jsonl", "{\"prompt\": \"p\"}\n");
  CHECK(error_of([&] { read_score_file(no_image, "", 1.0); }) ==
        no_image + ":1: needs a string field \"image\" (a `prefscore score` JSONL row)");
  const std::string empty = write(dir / "empty.jsonl", "\n");
  CHECK(error_of([&] { read_score_file(empty, "", 1.0); }) == empty + ": score file has no rows");
  // Regression (issue 10): a row nested 100,000 levels deep is refused while parsing, before any
  // recursive dump() could overflow the stack.
  const std::string deep = write(dir / "deep.jsonl", std::string(100000, '[') + std::string(100000, ']') + "\n");
  CHECK(error_of([&] { read_score_file(deep, "", 1.0); }) == deep + ":1: JSON nests deeper than 64 levels");
  fs::remove_all(dir);
}

TEST_CASE("image_scores_from_report: skipped items keep the scorer's reason", "[image_scores]") {
  prefscore::ScoreReport report;
  report.items = {{"a.png", "p", ""}};
  report.rows = {{0, "tiny", "pickscore", "score", 0.5, 1.0, 3.0}};
  report.columns = {{"tiny", "score"}};
  report.skipped = {"b.png: not an image (unknown format)"};
  const ImageScores s = prefscore::image_scores_from_report(
      {{"a.png", "p", ""}, {"b.png", "p", ""}}, report);
  CHECK(s.at("a.png", "p", "").logit == 3.0);
  CHECK(s.at("a.png", "p", "").score == 0.5);
  CHECK(error_of([&] { s.at("b.png", "p", ""); }) == "b.png: not an image (unknown format)");
  CHECK(s.source == "model tiny");
}
