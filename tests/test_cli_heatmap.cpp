// `prefscore heatmap` end to end: files at the image's size holding the Gaussian sum computed
// here, --compare against a planted model map, bad lines reported with exit status 3.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "prefscore/heatmap_io.h"
#include "prefscore/image.h"
#include "test_utils.h"

using prefscore::testing::data_path;
using prefscore::testing::run_prefscore;

namespace {

namespace fs = std::filesystem;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// The pipeline's 300x200 and 180x260 images and a clicks file for them (two annotators on the
// first, sizes from the headers), plus one bad line.
fs::path clicks_fixture(const std::string& name) {
  const fs::path dir = prefscore::testing::fresh_temp_dir("cli_heatmap_" + name);
  fs::copy_file(data_path("pipeline/inputs/img0_rgb_300x200.png"), dir / "img0.png");
  fs::copy_file(data_path("pipeline/inputs/img1_gray_180x260.png"), dir / "img1.png");
  std::ofstream(dir / "clicks.jsonl") << "{\"image\": \"img0.png\", \"clicks\": [[20, 30]]}\n"
                                         "{\"image\": \"img0.png\", \"clicks\": [[250, 150]]}\n"
                                         "{\"image\": \"img1.png\", \"clicks\": [[90, 10]]}\n"
                                         "{\"image\": \"img1.png\", \"clicks\": [[900, 10]]}\n";
  return dir;
}

}  // namespace

TEST_CASE("heatmap -o writes maps at the image size equal to the Gaussian sum", "[cli][heatmap]") {
  const fs::path dir = clicks_fixture("write");
  const auto result = run_prefscore("heatmap --clicks " + (dir / "clicks.jsonl").string() + " -o " +
                                    (dir / "out").string() + " --format jsonl");
  INFO(result.err);
  REQUIRE(result.exit_code == 3);  // the click at x = 900 is outside img1
  REQUIRE_THAT(result.err,
               Catch::Contains("prefscore: skipped: " + (dir / "clicks.jsonl").string() +
                               ":4: click [900,10] is outside the 180x260 image"));
  const auto rows = json_lines(result.out);
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0]["width"] == 300);
  REQUIRE(rows[0]["height"] == 200);
  REQUIRE(rows[0]["clicks"] == 2);
  REQUIRE(rows[0]["annotations"] == 2);
  REQUIRE(rows[0]["sigma_px"].get<double>() == 10.0);
  REQUIRE(rows[0]["png"] == (dir / "out" / "img0.clicks.png").string());

  const prefscore::PilImage png = prefscore::load_image((dir / "out" / "img0.clicks.png").string());
  REQUIRE(png.width == 300);
  REQUIRE(png.height == 200);
  const prefscore::Heatmap map =
      prefscore::read_heatmap_safetensors((dir / "out" / "img0.clicks.safetensors").string());
  REQUIRE(map.width == 300);
  REQUIRE(map.height == 200);
  // Two clicks 264 px apart with σ = 10 px: each peak is 1 (the other's tail is below 1e-300).
  std::vector<double> want(300 * 200);
  for (int r = 0; r < 200; ++r) {
    for (int c = 0; c < 300; ++c) {
      want[r * 300 + c] =
          std::exp(-((c - 20.0) * (c - 20.0) + (r - 30.0) * (r - 30.0)) / 200.0) +
          std::exp(-((c - 250.0) * (c - 250.0) + (r - 150.0) * (r - 150.0)) / 200.0);
    }
  }
  prefscore::testing::require_allclose(map.values.data(), want.data(), want.size(), 1e-6, 0,
                                       "img0 click map");
  const prefscore::PilImage png1 =
      prefscore::load_image((dir / "out" / "img1.clicks.png").string());
  REQUIRE(png1.width == 180);
  REQUIRE(png1.height == 260);
}

TEST_CASE("heatmap --compare: the human map itself scores r = 1, AUC = 1; its negation 0",
          "[cli][heatmap]") {
  const fs::path dir = clicks_fixture("compare");
  const std::string clicks = "--clicks " + (dir / "clicks.jsonl").string();
  REQUIRE(run_prefscore("heatmap " + clicks + " -o " + (dir / "human").string()).exit_code == 3);
  fs::create_directories(dir / "model");
  for (const std::string stem : {"img0", "img1"}) {
    prefscore::Heatmap m = prefscore::read_heatmap_safetensors(
        (dir / "human" / (stem + ".clicks.safetensors")).string());
    if (stem == "img1") {
      for (float& v : m.values) v = -v;
    }
    prefscore::write_heatmap_safetensors(
        (dir / "model" / (stem + ".occlusion.safetensors")).string(), m, {});
  }
  const auto result = run_prefscore("heatmap " + clicks + " --compare " + (dir / "model").string() +
                                    " --format jsonl");
  INFO(result.err);
  REQUIRE(result.exit_code == 3);
  const auto rows = json_lines(result.out);
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0]["pearson"].get<double>() == Approx(1.0).margin(1e-12));
  REQUIRE(rows[0]["auc"].get<double>() == 1.0);
  REQUIRE(rows[1]["pearson"].get<double>() == Approx(-1.0).margin(1e-12));
  REQUIRE(rows[1]["auc"].get<double>() == 0.0);
  REQUIRE(rows[0]["pixels"] == 60000);
  REQUIRE(rows[0].count("png") == 0);
  REQUIRE_THAT(result.err,
               Catch::Contains("compared 2 images: mean pearson 0.000000, mean auc 0.500000"));

  fs::remove(dir / "model" / "img1.occlusion.safetensors");
  const auto missing = run_prefscore("heatmap " + clicks + " --compare " +
                                     (dir / "model").string() + " --format jsonl");
  REQUIRE(json_lines(missing.out).size() == 1);
  REQUIRE_THAT(
      missing.err,
      Catch::Contains("skipped: " + (dir / "model" / "img1.occlusion.safetensors").string()));
}

TEST_CASE("heatmap without -o or --compare is an error", "[cli][heatmap]") {
  const fs::path dir = clicks_fixture("nothing");
  const auto result = run_prefscore("heatmap --clicks " + (dir / "clicks.jsonl").string());
  REQUIRE(result.exit_code == 1);
  REQUIRE_THAT(result.err, Catch::Contains("nothing to do: give an output folder (-o DIR)"));
}
