// Heatmap files: safetensors round trip and refusals, grayscale PNG bytes, overlay size.
#include <filesystem>

#include "prefscore/error.h"
#include "prefscore/heatmap_io.h"
#include "prefscore/image.h"
#include "prefscore/safetensors.h"
#include "test_utils.h"

using prefscore::Heatmap;
using prefscore::testing::data_path;

namespace {

Heatmap ramp(int width, int height) {
  Heatmap map{width, height, {}};
  for (int i = 0; i < width * height; ++i)
    map.values.push_back(static_cast<float>(i) / (width * height - 1));
  return map;
}

}  // namespace

TEST_CASE("heatmap safetensors round trip with metadata", "[heatmap_io]") {
  const auto dir = prefscore::testing::fresh_temp_dir("heatmap_io_st");
  const std::string path = (dir / "m.safetensors").string();
  const Heatmap map = ramp(7, 3);
  prefscore::write_heatmap_safetensors(path, map, {{"image", "x.png"}});
  const Heatmap back = prefscore::read_heatmap_safetensors(path);
  REQUIRE(back.width == 7);
  REQUIRE(back.height == 3);
  REQUIRE(back.values == map.values);
  const auto file = prefscore::SafetensorsFile::open(path);
  REQUIRE(file.metadata().at("image") == "x.png");
  REQUIRE(file.at("heatmap").shape == std::vector<int64_t>{3, 7});

  REQUIRE_THROWS_WITH(prefscore::read_heatmap_safetensors(path, "other"),
                      path + ": no tensor named 'other'");
  const std::string bad = (dir / "bad.safetensors").string();
  prefscore::SafetensorsWriter writer;
  const float three[3] = {1, 2, 3};
  writer.add("heatmap", prefscore::DType::kF32, {3}, three, sizeof three);
  writer.write(bad);
  REQUIRE_THROWS_WITH(prefscore::read_heatmap_safetensors(bad),
                      bad + ": tensor 'heatmap' must be F32 [height, width], got F32 [3]");
  REQUIRE_THROWS_WITH(prefscore::write_heatmap_safetensors(path, Heatmap{2, 2, {1, 2, 3}}, {}),
                      path + ": heatmap of 2x2 pixels holds 3 values");
}

TEST_CASE("grayscale PNG: round(255 * clamp(v, 0, 1)) at the map's size", "[heatmap_io]") {
  const auto dir = prefscore::testing::fresh_temp_dir("heatmap_io_png");
  const std::string path = (dir / "m.png").string();
  prefscore::write_heatmap_png(path, Heatmap{3, 2, {-1.0f, 0.0f, 0.5f, 0.2f, 1.0f, 7.0f}});
  const prefscore::PilImage png = prefscore::load_image(path);
  REQUIRE(png.mode == prefscore::PilMode::kL);
  REQUIRE(png.width == 3);
  REQUIRE(png.height == 2);
  // 0.5 · 255 = 127.5 rounds away from zero; 0.2 · 255 = 51.
  REQUIRE(png.pixels_u8 == std::vector<uint8_t>{0, 0, 128, 51, 255, 255});
}

TEST_CASE("overlay PNG has the image's size; another size is refused", "[heatmap_io]") {
  const auto dir = prefscore::testing::fresh_temp_dir("heatmap_io_overlay");
  const prefscore::PilImage image =
      prefscore::load_image(data_path("pipeline/inputs/img1_gray_180x260.png"));
  const std::string path = (dir / "o.png").string();
  prefscore::write_heatmap_overlay_png(path, image, ramp(180, 260));
  const prefscore::PilImage png = prefscore::load_image(path);
  REQUIRE(png.mode == prefscore::PilMode::kRGB);
  REQUIRE(png.width == 180);
  REQUIRE(png.height == 260);
  // A gray image under a map that is 0 at the first pixel: jet(0) is pure blue 128 (OpenCV's JET
  // starts at BGR (128, 0, 0)), so the blend is ((g+0+1)/2, (g+0+1)/2, (g+128+1)/2).
  const int g = image.pixels_u8[0];
  REQUIRE(png.pixels_u8[0] == (g + 1) / 2);
  REQUIRE(png.pixels_u8[1] == (g + 1) / 2);
  REQUIRE(png.pixels_u8[2] == (g + 128 + 1) / 2);
  REQUIRE_THROWS_WITH(prefscore::write_heatmap_overlay_png(path, image, ramp(10, 10)),
                      path + ": heatmap is 10x10 pixels, the image 180x260");
}
