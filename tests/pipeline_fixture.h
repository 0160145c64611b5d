// The whole-path golden fixture (tests/data/pipeline: four images, five prompts, the official
// scores of every head) as the end-to-end tests use it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "prefscore/safetensors.h"
#include "test_utils.h"

namespace prefscore::testing {

inline const std::vector<std::string>& pipeline_images() {
  static const std::vector<std::string> names = {"img0_rgb_300x200.png", "img1_gray_180x260.png",
                                                 "img2_rgba_512x512.png",
                                                 "img3_astronaut_512x512.jpg"};
  return names;
}

// The four images copied into a fresh temporary folder named after `name` (plus whatever a test
// adds); returns its path.
inline std::string fixture_image_dir(const std::string& name) {
  const std::filesystem::path dir = fresh_temp_dir("cli_" + name);
  for (const std::string& f : pipeline_images()) {
    std::filesystem::copy_file(data_path("pipeline/inputs/" + f), dir / f);
  }
  return dir.string();
}

// Element `flat_index` of the float32 tensor `name` of pipeline/expected.safetensors.
// A fresh temp folder `name` with images/ holding the fixture's four images under `copies`
// prefixes each (<copy>_<name>), plus images/<broken> (when given), a .png that is not an image.
inline std::filesystem::path copied_image_folder(const std::string& name, int copies,
                                                 const std::string& broken = "") {
  const std::filesystem::path dir = fresh_temp_dir(name);
  std::filesystem::create_directory(dir / "images");
  for (int copy = 0; copy < copies; ++copy) {
    for (const std::string& f : pipeline_images()) {
      std::filesystem::copy_file(data_path("pipeline/inputs/" + f),
                                 dir / "images" / (std::to_string(copy) + "_" + f));
    }
  }
  if (!broken.empty()) std::ofstream(dir / "images" / broken) << "not a png";
  return dir;
}

inline float pipeline_expected(const std::string& name, int64_t flat_index) {
  static const auto file = SafetensorsFile::open(data_path("pipeline/expected.safetensors"));
  const auto& info = file.at(name);
  return copy_values<float>(file.data(info) + flat_index * sizeof(float), 1)[0];
}

}  // namespace prefscore::testing
