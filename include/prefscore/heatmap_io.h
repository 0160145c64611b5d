// Heatmap files, shared by `prefscore heatmap` (human click maps) and `prefscore explain` (model
// occlusion maps), so that one command's output is the other's --compare input:
// - safetensors: one float32 tensor "heatmap" [height, width] (row-major, at the image's own size)
//   and string metadata saying what the values are;
// - PNG, 8-bit grayscale at the same size: round(255 · clamp(v, 0, 1)), for maps in [0, 1];
// - PNG overlay: the image blended half and half with the map in OpenCV's JET colours.
// Every file is written atomically (io.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "prefscore/image.h"

namespace prefscore {

struct Heatmap {
  int width = 0;              // pixels
  int height = 0;             // pixels
  std::vector<float> values;  // height * width, row-major
};

// Throws Error(path, ...) when values.size() != width * height or the file cannot be written.
void write_heatmap_safetensors(const std::string& path, const Heatmap& map,
                               const std::map<std::string, std::string>& metadata);
// Reads the float32 2-D tensor `tensor`; throws Error(path, ...) when it is absent, not float32 or
// not 2-D.
Heatmap read_heatmap_safetensors(const std::string& path, const std::string& tensor = "heatmap");

// Grayscale PNG of a map in [0, 1] (values outside are clamped).
void write_heatmap_png(const std::string& path, const Heatmap& map);
// The overlay of a map in [0, 1] on `image` (any PilImage mode; shown as convert("RGB")): each
// channel is the mean of the image's and jet(round(255 · clamp(v, 0, 1)))'s. The map must have the
// image's size; throws Error(path, ...) otherwise. The mean is taken in integers, halves rounded
// up: (image + jet + 1) / 2.
void write_heatmap_overlay_png(const std::string& path, const PilImage& image, const Heatmap& map);
// The PNG bytes write_heatmap_overlay_png writes (e.g. to embed in an HTML report); errors name
// `label`.
std::string heatmap_overlay_png(const PilImage& image, const Heatmap& map,
                                const std::string& label);

// PNG bytes of `image` as convert("RGB") shows it (8-bit RGB); errors name `label`. The one PNG
// encoder of the project: heatmap files and the thumbnails of HTML reports (html_report.h).
std::string encode_png_rgb(const PilImage& image, const std::string& label);

}  // namespace prefscore
