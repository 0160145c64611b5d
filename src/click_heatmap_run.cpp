#include "prefscore/click_heatmap_run.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "prefscore/error.h"
#include "prefscore/heatmap_io.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

std::string format_double(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

ClickHeatmapRow one_image(const ClickedImage& item, const ClickHeatmapOptions& options) {
  ClickHeatmapRow row;
  row.image = item.image;
  row.width = item.width;
  row.height = item.height;
  row.clicks = item.clicks.size();
  row.annotations = item.annotations;
  row.sigma_pixels = click_sigma_pixels(item.width, item.height, options.sigma_fraction);
  const Heatmap human{item.width, item.height,
                      click_heatmap(item.width, item.height, item.clicks, options.sigma_fraction)};
  const std::string stem = fs::path(item.image).stem().string();
  std::optional<Heatmap> model;
  if (!options.compare_dir.empty()) {
    row.model_map = (fs::path(options.compare_dir) / (stem + options.compare_suffix)).string();
    model = read_heatmap_safetensors(row.model_map, options.compare_tensor);
    if (model->width != human.width || model->height != human.height) {
      throw Error(row.model_map, "model map is " + std::to_string(model->width) + "x" +
                                     std::to_string(model->height) + " pixels, the image " +
                                     std::to_string(human.width) + "x" +
                                     std::to_string(human.height));
    }
    try {
      row.agreement = compare_maps(model->values.data(), human.values.data(), human.values.size(),
                                   options.positive_threshold);
    } catch (const Error& e) {
      throw Error(row.model_map, e.reason());
    }
  }
  if (!options.output_dir.empty()) {
    const fs::path dir(options.output_dir);
    row.safetensors = (dir / (stem + ".clicks.safetensors")).string();
    row.png = (dir / (stem + ".clicks.png")).string();
    write_heatmap_safetensors(
        row.safetensors, human,
        {{"image", item.image},
         {"clicks", std::to_string(row.clicks)},
         {"annotations", std::to_string(row.annotations)},
         {"sigma_pixels", format_double(row.sigma_pixels)},
         {"values",
          "sum of one Gaussian per click divided by its maximum over the pixels (max = 1)"}});
    write_heatmap_png(row.png, human);
  }
  return row;
}

}  // namespace

ClickHeatmapReport run_click_heatmaps(const ClickSet& clicks, const ClickHeatmapOptions& options) {
  if (options.output_dir.empty() && options.compare_dir.empty()) {
    throw Error("",
                "nothing to do: give an output folder (-o DIR), a comparison (--compare DIR) "
                "or both");
  }
  if (!options.output_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.output_dir, ec);
    if (ec) throw Error(options.output_dir, "cannot create folder: " + ec.message());
  }
  ClickHeatmapReport report;
  report.skipped = clicks.skipped;
  std::map<std::string, std::string> stems;  // output stem -> the image that has it
  for (const ClickedImage& item : clicks.images) {
    const std::string stem = fs::path(item.image).stem().string();
    const auto [it, fresh] = stems.emplace(stem, item.image);
    if (!fresh) {
      report.skipped.push_back(item.image + ": has the file name stem '" + stem + "' of " +
                               it->second + "; its heatmap files would overwrite that image's");
      continue;
    }
    try {
      report.rows.push_back(one_image(item, options));
    } catch (const Error& e) {
      report.skipped.push_back(e.path().empty() ? item.image + ": " + e.reason() : e.what());
    }
  }
  double pearson_sum = 0, auc_sum = 0;
  std::size_t pearsons = 0, aucs = 0;
  for (const ClickHeatmapRow& row : report.rows) {
    if (!row.agreement) continue;
    if (row.agreement->pearson) pearson_sum += *row.agreement->pearson, ++pearsons;
    if (row.agreement->auc) auc_sum += *row.agreement->auc, ++aucs;
  }
  if (pearsons > 0) report.mean_pearson = pearson_sum / static_cast<double>(pearsons);
  if (aucs > 0) report.mean_auc = auc_sum / static_cast<double>(aucs);
  return report;
}

}  // namespace prefscore
