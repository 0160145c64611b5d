// Issue 10: a `score -o` run killed at random points (SIGKILL) and resumed gives, row for row,
// the output of an uninterrupted run; SIGTERM stops at a checkpoint with exit 143; a partial
// output is never mistaken for another run's.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "pipeline_fixture.h"
#include "test_utils.h"

using prefscore::testing::copied_image_folder;
using prefscore::testing::data_path;
using prefscore::testing::read_text;
using prefscore::testing::run_command;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

std::size_t lines_in(const fs::path& path) {
  const std::string text = read_text(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

const std::string kModel = "--model-card '" + data_path("cards/tiny-hf.json") + "' --weights '" +
                           data_path("models/hf") + "'";

std::string score_args(const fs::path& dir, const fs::path& out, int batch_size = 2) {
  return "score " + kModel + " -p 'a photo of an astronaut riding a horse on the moon' '" +
         (dir / "images").string() + "' -o '" + out.string() + "' --batch-size " +
         std::to_string(batch_size) + " --checkpoint-every 2 --threads 1";
}

}  // namespace

TEST_CASE("issue 10: score killed with SIGKILL at random points resumes to the same output",
          "[resume]") {
  const fs::path dir = copied_image_folder("resume_kill", 10, "5_broken.png");
  const fs::path reference = dir / "reference.jsonl";
  const auto ref = run_prefscore(score_args(dir, reference));
  REQUIRE(ref.exit_code == 3);  // the broken image is skipped
  CHECK_FALSE(fs::exists(reference.string() + ".partial"));
  REQUIRE(lines_in(reference) == 40);

  std::mt19937 rng(20261123);
  std::uniform_real_distribution<double> delay(0.05, 1.0);
  int interrupted_mid_run = 0;
  for (int trial = 0; trial < 6; ++trial) {
    const fs::path out = dir / ("out" + std::to_string(trial) + ".jsonl");
    const fs::path partial = out.string() + ".partial";
    // The first run is killed after a random time; each resume too, until one finishes.
    double wait = delay(rng);
    int runs = 0, last_exit = -1;
    for (; runs < 50 && !fs::exists(out); ++runs) {
      const std::string resume = runs == 0 ? "" : " --resume";
      char timeout[64];
      std::snprintf(timeout, sizeof timeout, "timeout -s KILL %.3f ", wait);
      const auto r = run_command(timeout + std::string(PREFSCORE_BINARY) + " " +
                                 score_args(dir, out) + resume);
      if (!fs::exists(out)) {
        CHECK(r.exit_code == 137);  // killed, not failed
        if (fs::exists(partial) && lines_in(partial) > 1) ++interrupted_mid_run;
      } else {
        // Done; or killed after the output was renamed into place (the stale partial is then
        // left behind, harmless: every row is in the output).
        CHECK((r.exit_code == 3 || r.exit_code == 137));
      }
      last_exit = r.exit_code;
      wait += delay(rng);
    }
    INFO("trial " << trial << " took " << runs << " runs");
    REQUIRE(fs::exists(out));
    if (last_exit == 3) CHECK_FALSE(fs::exists(partial));
    CHECK(read_text(out) == read_text(reference));
  }
  // The kills really landed between checkpoints (else the test would prove nothing).
  CHECK(interrupted_mid_run > 0);
  fs::remove_all(dir);
}

TEST_CASE("issue 10: SIGTERM stops at a checkpoint with exit 143; --resume finishes",
          "[resume]") {
  const fs::path dir = copied_image_folder("resume_term", 10, "5_broken.png");
  const fs::path out = dir / "out.jsonl";
  const fs::path partial = out.string() + ".partial";
  // SIGTERM right after the header is written: the run stops at its next checkpoint.
  const auto stopped = run_command(
      std::string(PREFSCORE_BINARY) + " " + score_args(dir, out) + " & pid=$!; while [ ! -s '" +
      partial.string() + "' ]; do sleep 0.01; done; kill -TERM $pid; wait $pid");
  CHECK(stopped.exit_code == 143);
  CHECK_THAT(stopped.err, Catch::Contains("prefscore: interrupted: " + partial.string() +
                                          ": stopped; the finished items are saved here"));
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(partial));
  const std::size_t saved = lines_in(partial) - 1;
  CHECK(saved < 41);

  // Without --resume the partial output is not overwritten.
  const auto refused = run_prefscore(score_args(dir, out));
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains(partial.string() + ": exists (an interrupted run?); "
                                                              "pass --resume"));
  // Another batch size would change which images share a model call: refused.
  const auto other = run_prefscore(score_args(dir, out, /*batch_size=*/4) + " --resume");
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.err, Catch::Contains("was written with --batch-size 2"));

  const auto resumed = run_prefscore(score_args(dir, out) + " --resume");
  CHECK(resumed.exit_code == 3);
  CHECK(lines_in(out) == 40);
  CHECK_FALSE(fs::exists(partial));

  // A partial output of other inputs is refused.
  const fs::path other_out = dir / "other.jsonl";
  std::ofstream(other_out.string() + ".partial") << read_text(out);
  const auto wrong = run_prefscore(score_args(dir, other_out) + " --resume");
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.err, Catch::Contains("is not a prefscore partial output"));
  fs::remove_all(dir);
}
