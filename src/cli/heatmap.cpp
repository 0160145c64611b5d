// `prefscore heatmap`: annotators' click points (JSONL) to per-image human heatmaps, written as
// safetensors + PNG, and/or compared with model maps (Pearson r, AUC). The formats and formulas
// are in click_heatmap.h, heatmap_io.h and map_agreement.h.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "output.h"
#include "prefscore/click_heatmap_run.h"
#include "prefscore/error.h"
#include "prefscore/io.h"

namespace prefscore::cli {
namespace {

struct HeatmapOptions {
  std::string clicks;
  std::size_t max_line_bytes = kDefaultMaxLineBytes;
  ClickHeatmapOptions run;
  std::string format;
};

nlohmann::json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

std::string optional_text(const std::optional<double>& v) { return v ? format_score(*v) : "-"; }

void heatmap(const HeatmapOptions& opts, Context& context) {
  const ClickSet clicks = read_clicks(opts.clicks, opts.max_line_bytes);
  const ClickHeatmapReport report = run_click_heatmaps(clicks, opts.run);
  if (report.rows.empty()) {
    print_skipped(report.skipped);
    throw Error(opts.clicks, "no heatmap could be made (each problem reported above)");
  }
  const bool compared = !opts.run.compare_dir.empty();
  std::string text;
  if (resolve_format(opts.format, "") == "table") {
    std::vector<std::vector<std::string>> rows = {{"IMAGE", "SIZE", "CLICKS", "SIGMA_PX"}};
    if (compared) rows[0].insert(rows[0].end(), {"PEARSON", "AUC"});
    for (const ClickHeatmapRow& r : report.rows) {
      rows.push_back({r.image, std::to_string(r.width) + "x" + std::to_string(r.height),
                      std::to_string(r.clicks), format_score(r.sigma_pixels)});
      if (compared) {
        rows.back().push_back(optional_text(r.agreement->pearson));
        rows.back().push_back(optional_text(r.agreement->auc));
      }
    }
    if (compared) {
      rows.push_back(
          {"mean", "", "", "", optional_text(report.mean_pearson), optional_text(report.mean_auc)});
    }
    text = format_table(rows);
  } else {
    for (const ClickHeatmapRow& r : report.rows) {
      nlohmann::ordered_json j;
      j["image"] = r.image;
      j["width"] = r.width;
      j["height"] = r.height;
      j["clicks"] = r.clicks;
      j["annotations"] = r.annotations;
      j["sigma_px"] = r.sigma_pixels;
      if (!r.safetensors.empty()) {
        j["safetensors"] = r.safetensors;
        j["png"] = r.png;
      }
      if (compared) {
        j["model_map"] = r.model_map;
        j["pearson"] = optional_number(r.agreement->pearson);
        j["auc"] = optional_number(r.agreement->auc);
        j["positives"] = r.agreement->positives;
        j["pixels"] = r.agreement->pixels;
      }
      text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
  }
  emit(text, "");
  if (compared) {
    std::cerr << "prefscore: compared " << report.rows.size() << " images: mean pearson "
              << optional_text(report.mean_pearson) << ", mean auc "
              << optional_text(report.mean_auc) << "\n";
  }
  report_skipped(report.skipped, context);
}

}  // namespace

void add_heatmap(CLI::App& app, Context& context) {
  auto opts = std::make_shared<HeatmapOptions>();
  CLI::App* cmd = app.add_subcommand(
      "heatmap", "Human click points (JSONL) to per-image heatmaps; compare model maps with them");
  cmd->add_option("--clicks", opts->clicks,
                  "JSONL, one object per line: {\"image\": PATH, \"clicks\": [[x, y], ...]} with "
                  "optional \"width\" and \"height\" (else read from the image header); x, y in "
                  "pixels from the top-left; lines naming the same image are pooled")
      ->required();
  cmd->add_option("-o,--output", opts->run.output_dir,
                  "Write <stem>.clicks.safetensors (float32 [H,W] \"heatmap\", max = 1) and "
                  "<stem>.clicks.png (grayscale) per image into this folder [default: none]");
  cmd->add_option("--compare", opts->run.compare_dir,
                  "Folder of model maps <stem><suffix> (e.g. from `prefscore explain -o`): print "
                  "per-image Pearson r and AUC against the human map [default: none]");
  cmd->add_option(
      "--compare-suffix", opts->run.compare_suffix,
      "File name after the image stem of a model map [default: .occlusion.safetensors]");
  cmd->add_option("--compare-tensor", opts->run.compare_tensor,
                  "Tensor holding the model map, float32 [H,W] at the image's size "
                  "[default: heatmap]");
  cmd->add_option("--sigma-fraction", opts->run.sigma_fraction,
                  "Gaussian sigma per click, as a fraction of the image's short side "
                  "[default: 0.05]")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--positive-threshold", opts->run.positive_threshold,
                  "AUC positives: pixels whose human map value (max = 1) is at least this "
                  "[default: 0.5]")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-line-bytes", opts->max_line_bytes,
                  "Refuse a clicks file with a longer line, in bytes [default: 1048576 (1 MiB)]")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--format", opts->format,
                  "table or jsonl [default: table on a terminal, else jsonl]")
      ->check(CLI::IsMember({"table", "jsonl"}));
  cmd->callback([opts, &context] { heatmap(*opts, context); });
}

}  // namespace prefscore::cli
