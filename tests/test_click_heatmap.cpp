// Human click heatmaps: the map against a Gaussian sum computed here pixel by pixel (no
// separability, no shared code), hand values at σ, and the clicks JSONL reader with each
// malformed line it skips.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "prefscore/click_heatmap.h"
#include "prefscore/error.h"
#include "test_utils.h"

using prefscore::ClickPoint;
using prefscore::testing::data_path;

namespace {

// Σ_k exp(-((c - x_k)² + (r - y_k)²) / (2σ²)) per pixel, divided by its maximum.
std::vector<double> reference_map(int width, int height, const std::vector<ClickPoint>& clicks,
                                  double sigma) {
  std::vector<double> map(static_cast<std::size_t>(width) * height, 0.0);
  double peak = 0;
  for (int r = 0; r < height; ++r) {
    for (int c = 0; c < width; ++c) {
      double sum = 0;
      for (const ClickPoint& p : clicks) {
        const double d2 = (c - p.x) * (c - p.x) + (r - p.y) * (r - p.y);
        sum += std::exp(-d2 / (2 * sigma * sigma));
      }
      map[static_cast<std::size_t>(r) * width + c] = sum;
      peak = std::max(peak, sum);
    }
  }
  for (double& v : map) v /= peak;
  return map;
}

std::string write_text(const std::string& dir_name, const std::string& file,
                       const std::string& text) {
  const auto dir = prefscore::testing::fresh_temp_dir(dir_name);
  const std::string path = (dir / file).string();
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("click heatmap equals an independent Gaussian sum within 1e-6", "[click_heatmap]") {
  const int width = 123, height = 77;  // σ = 0.05 · 77 = 3.85 px
  const std::vector<ClickPoint> clicks = {{10, 12}, {14.5, 15.25}, {122, 0}, {60, 76.9}, {61, 70}};
  const std::vector<float> got = prefscore::click_heatmap(width, height, clicks);
  const std::vector<double> want = reference_map(width, height, clicks, 0.05 * 77);
  REQUIRE(got.size() == want.size());
  prefscore::testing::require_allclose(got.data(), want.data(), got.size(), /*atol=*/1e-6,
                                       /*rtol=*/0, "click heatmap");

  const std::vector<float> wide = prefscore::click_heatmap(width, height, clicks, 0.2);
  const std::vector<double> wide_want = reference_map(width, height, clicks, 0.2 * 77);
  prefscore::testing::require_allclose(wide.data(), wide_want.data(), wide.size(), /*atol=*/1e-6,
                                       /*rtol=*/0, "sigma fraction 0.2");
}

TEST_CASE("one click: 1 at the click, exp(-1/2) one sigma away", "[click_heatmap]") {
  // 100x60: σ = 3 px exactly.
  REQUIRE(prefscore::click_sigma_pixels(100, 60) == Approx(3.0).epsilon(0));
  const std::vector<float> map = prefscore::click_heatmap(100, 60, {{10, 5}});
  REQUIRE(map[5 * 100 + 10] == 1.0f);
  REQUIRE(map[5 * 100 + 13] == Approx(0.6065306597126334).margin(1e-7));   // column + σ
  REQUIRE(map[8 * 100 + 10] == Approx(0.6065306597126334).margin(1e-7));   // row + σ
  REQUIRE(map[5 * 100 + 16] == Approx(0.1353352832366127).margin(1e-7));   // column + 2σ: e^-2
  REQUIRE(map[11 * 100 + 16] == Approx(0.0183156388887342).margin(1e-7));  // (2σ, 2σ): e^-4
}

TEST_CASE("two clicks on one pixel still peak at 1; no clicks is all zeros", "[click_heatmap]") {
  const std::vector<float> doubled = prefscore::click_heatmap(40, 40, {{20, 20}, {20, 20}});
  const std::vector<float> single = prefscore::click_heatmap(40, 40, {{20, 20}});
  prefscore::testing::require_allclose(doubled.data(), single.data(), single.size(), 0, 0, "x2");
  const std::vector<float> empty = prefscore::click_heatmap(8, 4, {});
  REQUIRE(empty == std::vector<float>(32, 0.0f));
}

TEST_CASE("click heatmap refuses an empty size and sigma <= 0", "[click_heatmap]") {
  REQUIRE_THROWS_WITH(prefscore::click_heatmap(0, 5, {}),
                      "heatmap size must be at least 1x1, got 0x5");
  REQUIRE_THROWS_WITH(prefscore::click_heatmap(5, 5, {}, 0.0),
                      Catch::Contains("sigma fraction must be > 0"));
}

TEST_CASE("read_clicks pools annotators, reads sizes from headers, skips bad lines",
          "[click_heatmap]") {
  const auto dir = prefscore::testing::fresh_temp_dir("clicks_read");
  std::filesystem::copy_file(data_path("pipeline/inputs/img0_rgb_300x200.png"), dir / "a.png");
  const std::string path = (dir / "clicks.jsonl").string();
  std::ofstream(path) << "{\"image\": \"a.png\", \"clicks\": [[1, 2], [3.5, 4]]}\n"
                         "\n"
                         "{\"image\": \"b.png\", \"width\": 64, \"height\": 32, \"clicks\": []}\n"
                         "{\"image\": \"a.png\", \"clicks\": [[300, 200]]}\n"
                         "{\"image\": \"a.png\", \"clicks\": [[301, 0]]}\n"
                         "{\"image\": \"c.png\", \"width\": 64, \"clicks\": []}\n"
                         "{\"image\": \"missing.png\", \"clicks\": []}\n"
                         "{\"image\": \"b.png\", \"width\": 64, \"height\": 33, \"clicks\": []}\n"
                         "{\"image\": \"d.png\", \"width\": 8, \"height\": 8, \"clicks\": [[1]]}\n"
                         "{\"image\": \"e.png\", \"width\": 0, \"height\": 8, \"clicks\": []}\n"
                         "{\"clicks\": []}\n"
                         "not json\n";
  const prefscore::ClickSet set = prefscore::read_clicks(path);
  REQUIRE(set.images.size() == 2);
  REQUIRE(set.images[0].image == (dir / "a.png").string());
  REQUIRE(set.images[0].width == 300);
  REQUIRE(set.images[0].height == 200);
  REQUIRE(set.images[0].annotations == 2);
  REQUIRE(set.images[0].clicks.size() == 3);
  REQUIRE(set.images[0].clicks[1].x == 3.5);
  REQUIRE(set.images[0].clicks[2].y == 200);
  REQUIRE(set.images[1].width == 64);
  REQUIRE(set.images[1].height == 32);
  REQUIRE(set.images[1].clicks.empty());

  REQUIRE(set.skipped.size() == 8);
  REQUIRE(set.skipped[0] == path + ":5: click [301,0] is outside the 300x200 image");
  REQUIRE(set.skipped[1] == path + ":6: give both \"width\" and \"height\", or neither");
  REQUIRE_THAT(set.skipped[2], Catch::StartsWith(path + ":7: " + (dir / "missing.png").string() +
                                                 ": cannot open for reading"));
  REQUIRE_THAT(set.skipped[3], Catch::StartsWith(path + ":8: size 64x33 differs from the 64x32"));
  REQUIRE(set.skipped[4] == path + ":9: each click must be [x, y] (numbers), got [1]");
  REQUIRE(set.skipped[5] == path + ":10: \"width\" must be an integer in [1, 1000000], got 0");
  REQUIRE_THAT(set.skipped[6], Catch::Contains(":11: needs a non-empty string \"image\""));
  REQUIRE_THAT(set.skipped[7], Catch::StartsWith(path + ":12: "));
}

TEST_CASE("read_clicks: a missing file and an over-long line are errors", "[click_heatmap]") {
  REQUIRE_THROWS_WITH(prefscore::read_clicks("/nonexistent/clicks.jsonl"),
                      "/nonexistent/clicks.jsonl: cannot open clicks file");
  const std::string path = write_text("clicks_long", "c.jsonl", std::string(100, ' ') + "\n");
  REQUIRE_THROWS_WITH(prefscore::read_clicks(path, 10),
                      Catch::StartsWith(path + ":1: line is longer than the limit of 10 bytes"));
}
