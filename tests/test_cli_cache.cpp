// `score` and `rank` with --cache and --decode-threads, end to end: the output does not depend on
// either; a second `rank --cache` with a new prompt reads every image's features from the cache
// (the summary line counts what went through the image tower); a damaged entry is one warning
// line and is repaired.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

const std::string kTinyPick = "--model-card " + data_path("cards/tiny-hf.json") + " --weights " +
                              data_path("models/hf");

// The pipeline fixture's four images and a corrupt one in a fresh folder.
std::string image_dir(const std::string& name) {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_cache_" + name);
  fs::create_directories(dir / "images");
  for (const char* f : {"img0_rgb_300x200.png", "img1_gray_180x260.png", "img2_rgba_512x512.png",
                        "img3_astronaut_512x512.jpg"}) {
    fs::copy_file(data_path(std::string("pipeline/inputs/") + f), dir / "images" / f);
  }
  std::ofstream(dir / "images" / "broken.png") << "not a png";
  return dir.string();
}

}  // namespace

TEST_CASE("score: the same output and skipped lines with 0 or 3 decode threads", "[cli][cache]") {
  const std::string dir = image_dir("threads");
  const std::string args = "score " + kTinyPick + " -p 'a cat' " + dir + "/images --format jsonl " +
                           "--batch-size 2 --decode-threads ";
  const auto serial = run_prefscore(args + "0");
  const auto threaded = run_prefscore(args + "3");
  CHECK(serial.exit_code == 3);
  CHECK(threaded.exit_code == 3);
  CHECK_THAT(serial.err, Catch::StartsWith("prefscore: skipped: " + dir + "/images/broken.png: "));
  CHECK(serial.out == threaded.out);
  CHECK(serial.err == threaded.err);
  CHECK(std::count(serial.out.begin(), serial.out.end(), '\n') == 4);
  const auto bad = run_prefscore(args + "-1");
  CHECK(bad.exit_code == 2);
  fs::remove_all(dir);
}

TEST_CASE("rank --cache: a new prompt runs no image tower and ranks as without a cache",
          "[cli][cache]") {
  const std::string dir = image_dir("rank");
  const std::string cache = dir + "/cache";
  auto rank = [&](const std::string& prompt, const std::string& extra) {
    return run_prefscore("rank " + kTinyPick + " -p '" + prompt + "' " + dir +
                         "/images --format jsonl " + extra);
  };
  const auto first = rank("a photo of an astronaut", "--cache " + cache);
  CHECK(first.exit_code == 3);  // broken.png
  CHECK_THAT(first.err, Catch::Contains("prefscore: cache " + cache +
                                        ": 0 image features read, 4 computed\n"));
  CHECK(first.out == rank("a photo of an astronaut", "").out);

  const auto second = rank("a red square on a table", "--cache " + cache);
  CHECK(second.exit_code == 3);
  CHECK_THAT(second.err, Catch::Contains("prefscore: cache " + cache +
                                         ": 4 image features read, 0 computed\n"));
  CHECK(second.out == rank("a red square on a table", "").out);

  // score shares the cache (same model and settings); other settings do not hit it.
  const auto score = run_prefscore("score " + kTinyPick + " -p x " + dir + "/images/img0_rgb_300x200.png"
                                   " --format jsonl --cache " + cache);
  CHECK_THAT(score.err, Catch::Contains(": 1 image features read, 0 computed"));
  const auto exif = run_prefscore("score " + kTinyPick + " -p x " + dir + "/images/img0_rgb_300x200.png"
                                  " --format jsonl --exif-transpose --cache " + cache);
  CHECK_THAT(exif.err, Catch::Contains(": 0 image features read, 1 computed"));

  const auto pixels = run_prefscore("score " + kTinyPick + " -p x --pixels " + dir + "/x --cache " + cache);
  CHECK(pixels.exit_code == 1);
  CHECK_THAT(pixels.err, Catch::Contains("--cache: caches image files; not for --pixels"));
  fs::remove_all(dir);
}

TEST_CASE("score --cache: a damaged entry is one warning line, then repaired", "[cli][cache]") {
  const std::string dir = image_dir("damaged");
  const std::string cache = dir + "/cache";
  const std::string args = "score " + kTinyPick + " -p 'a cat' " + dir +
                           "/images/img3_astronaut_512x512.jpg --format jsonl --cache " + cache;
  const auto first = run_prefscore(args);
  REQUIRE(first.exit_code == 0);
  std::vector<fs::path> entries;
  for (const auto& e : fs::recursive_directory_iterator(cache + "/images")) {
    if (e.is_regular_file()) entries.push_back(e.path());
  }
  REQUIRE(entries.size() == 1);
  fs::resize_file(entries[0], fs::file_size(entries[0]) / 2);
  const auto damaged = run_prefscore(args);
  CHECK(damaged.exit_code == 0);
  CHECK_THAT(damaged.err, Catch::StartsWith("prefscore: warning: " + entries[0].string() + ": ") &&
                              Catch::Contains("; recomputing it\n"));
  CHECK_THAT(damaged.err, Catch::Contains(": 0 image features read, 1 computed"));
  CHECK(damaged.out == first.out);
  const auto repaired = run_prefscore(args);
  CHECK(repaired.err.find("warning") == std::string::npos);
  CHECK_THAT(repaired.err, Catch::Contains(": 1 image features read, 0 computed"));
  CHECK(repaired.out == first.out);
  fs::remove_all(dir);
}
