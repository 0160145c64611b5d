// Human click heatmaps: annotators' click points on an image (where it looks implausible or
// misaligned) turned into one dense map per image, the recipe of RichHF-18K (Liang et al., CVPR
// 2024, "Rich Human Feedback for Text-to-Image Generation", section 3) and Rapidata's annotation
// sets: a Gaussian per click, σ = 5% of the image's short side, summed and normalised. Model maps
// (`prefscore explain`) are compared against these (map_agreement.h).
//
// Input, JSON lines (`prefscore heatmap --clicks FILE.jsonl`), one object per line:
//   {"image": "a.png", "clicks": [[x, y], ...], "width": W, "height": H}
// - image: path, resolved against the JSONL file's folder when relative;
// - clicks: [x, y] pairs in pixels of the image as stored (no EXIF rotation), x = column, y = row,
//   origin at the top-left pixel, 0 <= x <= W and 0 <= y <= H; an empty list is allowed;
// - width, height: optional, both or neither; when absent they are read from the image header
//   (the file must then exist; its pixels are not decoded).
// Several lines may name the same image (one per annotator): their clicks are pooled into one
// map; they must agree on the size. A bad line is reported and skipped (ClickSet::skipped).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "prefscore/text_lines.h"

namespace prefscore {

struct ClickPoint {
  double x = 0.0;  // column, pixels
  double y = 0.0;  // row, pixels
};

struct ClickedImage {
  std::string image;               // resolved path
  int width = 0;                   // pixels
  int height = 0;                  // pixels
  std::vector<ClickPoint> clicks;  // pooled over every line naming the image, in file order
  std::size_t annotations = 0;     // lines pooled
};

struct ClickSet {
  std::vector<ClickedImage> images;  // in order of first appearance
  std::vector<std::string> skipped;  // "file:line: reason" of each bad line
};

// The default σ of a click's Gaussian, as a fraction of the image's short side.
constexpr double kDefaultClickSigmaFraction = 0.05;

// Reads the JSONL described above. A file that cannot be opened, or a line over `max_line_bytes`,
// throws Error(path[:line], reason); any other bad line is skipped and listed.
ClickSet read_clicks(const std::string& path, std::size_t max_line_bytes = kDefaultMaxLineBytes);

// σ in pixels: sigma_fraction * min(width, height).
double click_sigma_pixels(int width, int height,
                          double sigma_fraction = kDefaultClickSigmaFraction);

// The map, height x width, row-major float32:
//   m(c, r) = Σ_k exp(-((c - x_k)² + (r - y_k)²) / (2σ²)),   heatmap = m / max_{c,r} m,
// evaluated at each pixel's integer coordinates (column c, row r), summed in double precision, so
// the brightest pixel is exactly 1 and every value is in [0, 1] (far tails underflow to 0 in
// float32). No clicks: all zeros (nobody marked anything). Throws Error("", ...) for a size below
// 1x1 or sigma_fraction <= 0.
std::vector<float> click_heatmap(int width, int height, const std::vector<ClickPoint>& clicks,
                                 double sigma_fraction = kDefaultClickSigmaFraction);

}  // namespace prefscore
