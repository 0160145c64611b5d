// Scoring runs: the decode workers and shared preprocessing must not change a report. Every
// thread count gives the same rows, bit for bit, and the same skipped lines in input order; a
// run of several scorers gives each scorer's rows exactly as a run of that scorer alone.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "prefscore/scorer.h"
#include "prefscore/scoring.h"
#include "test_utils.h"
#include "tiny_scorer.h"

using prefscore::ScoreItem;
using prefscore::ScoreReport;
using prefscore::Scorer;
using prefscore::testing::data_path;
using prefscore::testing::tiny_scorer;

namespace {

namespace fs = std::filesystem;

const char* const kImages[] = {"img0_rgb_300x200.png", "img1_gray_180x260.png",
                               "img2_rgba_512x512.png", "img3_astronaut_512x512.jpg"};

// 11 items in batches of 3: the four fixture images under two prompts, a corrupt file, a missing
// file and (with bad_prompt) a prompt that is not UTF-8, placed before the corrupt file within
// one batch, so the skipped lines must come in input order, not grouped by kind of problem.
std::vector<ScoreItem> mixed_items(const fs::path& dir, bool bad_prompt) {
  std::ofstream(dir / "broken.png") << "not a png";
  const std::string inputs = data_path("pipeline/inputs/");
  std::vector<ScoreItem> items;
  for (const char* prompt : {"a photo of an astronaut", "a red square"}) {
    for (const char* image : kImages) items.push_back({inputs + image, prompt, ""});
  }
  items.insert(items.begin() + 6, {inputs + kImages[0], bad_prompt ? "bad \xff prompt" : "ok", ""});
  items.insert(items.begin() + 7, {(dir / "broken.png").string(), "a cat", ""});
  items.push_back({(dir / "missing.png").string(), "a cat", ""});
  return items;
}

void require_same(const ScoreReport& a, const ScoreReport& b) {
  REQUIRE(a.skipped == b.skipped);
  REQUIRE(a.warnings == b.warnings);
  REQUIRE(a.items.size() == b.items.size());
  for (std::size_t i = 0; i < a.items.size(); ++i) CHECK(a.items[i].image == b.items[i].image);
  REQUIRE(a.rows.size() == b.rows.size());
  for (std::size_t r = 0; r < a.rows.size(); ++r) {
    INFO("row " << r);
    CHECK(a.rows[r].item == b.rows[r].item);
    CHECK(a.rows[r].model == b.rows[r].model);
    CHECK(a.rows[r].column == b.rows[r].column);
    CHECK(a.rows[r].score == b.rows[r].score);  // exactly
    CHECK(a.rows[r].prob == b.rows[r].prob);
  }
}

}  // namespace

TEST_CASE("score_items: the same report with 0, 1 or 3 decode threads", "[scoring]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("scoring_threads");
  const std::vector<ScoreItem> items = mixed_items(dir, /*bad_prompt=*/true);
  auto hf = tiny_scorer("tiny-hf.json", "models/hf");
  auto mps = tiny_scorer("tiny-mps.json", "models/mps", {"overall", "detail"});
  auto hps = tiny_scorer("tiny-openclip.json", "models/openclip/open_clip_model.safetensors");
  const std::vector<Scorer*> all = {hf.get(), mps.get(), hps.get()};
  prefscore::ScoreRunOptions options;
  options.batch_size = 3;
  options.decode_threads = 0;
  const ScoreReport serial = prefscore::score_items(all, items, options);
  REQUIRE(serial.skipped.size() == 3);
  CHECK_THAT(serial.skipped[0], Catch::StartsWith(items[6].image + ": prompt: "));
  CHECK_THAT(serial.skipped[1], Catch::StartsWith(items[7].image + ": "));
  CHECK_THAT(serial.skipped[2], Catch::StartsWith(items[10].image + ": cannot open for reading"));
  REQUIRE(serial.items.size() == 8);
  CHECK(serial.rows.size() == 8 * 4);  // tiny-hf, tiny-mps:overall, tiny-mps:detail, tiny-openclip
  // The invalid prompt's image went through the first scorer's tower before its prompt failed;
  // the later scorers skip it: 9 + 8 + 8.
  CHECK(serial.images_encoded == 25);
  for (int threads : {1, 3}) {
    INFO(threads << " decode threads");
    options.decode_threads = threads;
    require_same(prefscore::score_items(all, items, options), serial);
  }
  fs::remove_all(dir);
}

// Float results depend on the batch an image was encoded in (the matmul blocking changes with the
// batch size), so this compares runs whose batches hold the same images: no prompt fails here,
// which would drop an image from the later scorers' batches only.
TEST_CASE("score_items: scorers sharing a run score as each does alone", "[scoring]") {
  const fs::path dir = prefscore::testing::fresh_temp_dir("scoring_shared");
  const std::vector<ScoreItem> items = mixed_items(dir, /*bad_prompt=*/false);
  auto hf = tiny_scorer("tiny-hf.json", "models/hf");
  auto mps = tiny_scorer("tiny-mps.json", "models/mps", {"overall", "detail"});
  auto hps = tiny_scorer("tiny-openclip.json", "models/openclip/open_clip_model.safetensors");
  prefscore::ScoreRunOptions options;
  options.batch_size = 3;
  options.decode_threads = 2;
  const ScoreReport together = prefscore::score_items({hf.get(), mps.get(), hps.get()}, items, options);
  const std::size_t per_item = 4;
  std::size_t offset = 0;
  for (Scorer* s : {hf.get(), mps.get(), hps.get()}) {
    const ScoreReport alone = prefscore::score_items({s}, items, options);
    CHECK(alone.skipped == together.skipped);
    const std::size_t columns = s->columns().size();
    REQUIRE(alone.rows.size() == together.items.size() * columns);
    for (std::size_t k = 0; k < together.items.size(); ++k) {
      for (std::size_t c = 0; c < columns; ++c) {
        const auto& want = alone.rows[k * columns + c];
        const auto& got = together.rows[k * per_item + offset + c];
        INFO(s->model_name() << " item " << k << " column " << c);
        CHECK(got.model == want.model);
        CHECK(got.score == want.score);
        CHECK(got.prob == want.prob);
      }
    }
    offset += columns;
  }
  fs::remove_all(dir);
}
