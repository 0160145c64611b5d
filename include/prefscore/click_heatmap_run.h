// `prefscore heatmap`: every image of a clicks file (click_heatmap.h) to its human heatmap, written
// as files (heatmap_io.h) and/or compared with a model map of the same image (map_agreement.h).
// A bad image (its model map missing or of another size, an output name taken) is reported and
// skipped; the others go on.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "prefscore/click_heatmap.h"
#include "prefscore/map_agreement.h"

namespace prefscore {

struct ClickHeatmapOptions {
  double sigma_fraction = kDefaultClickSigmaFraction;
  // Written here when not empty: <stem>.clicks.safetensors and <stem>.clicks.png per image, <stem>
  // the image's file name without its extension (the folder is created when needed).
  std::string output_dir;
  // Compared when not empty: the model map of image <stem> is the float32 tensor `compare_tensor`
  // of <compare_dir>/<stem><compare_suffix>, at the image's size (what `prefscore explain -o`
  // writes).
  std::string compare_dir;
  std::string compare_suffix = ".occlusion.safetensors";
  std::string compare_tensor = "heatmap";
  double positive_threshold = kDefaultPositiveThreshold;
};

struct ClickHeatmapRow {
  std::string image;
  int width = 0;
  int height = 0;
  std::size_t clicks = 0;
  std::size_t annotations = 0;  // lines pooled
  double sigma_pixels = 0.0;
  std::string safetensors;  // written files; empty without an output folder
  std::string png;
  std::string model_map;  // the map compared; empty without --compare
  std::optional<MapAgreement> agreement;
};

struct ClickHeatmapReport {
  std::vector<ClickHeatmapRow> rows;  // in the clicks file's order
  std::vector<std::string> skipped;   // the clicks file's bad lines, then bad images
  // With a comparison: the means over the rows that have a value (nullopt when none has).
  std::optional<double> mean_pearson;
  std::optional<double> mean_auc;
};

// Throws Error("", ...) when neither an output folder nor a comparison folder is given.
ClickHeatmapReport run_click_heatmaps(const ClickSet& clicks, const ClickHeatmapOptions& options);

}  // namespace prefscore
