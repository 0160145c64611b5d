#include "input_flags.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "output.h"
#include "prefscore/error.h"
#include "prefscore/safetensors.h"
#include "prefscore/safetensors_torch.h"

namespace prefscore::cli {

void add_input_flags(CLI::App& command, InputFlags& flags) {
  command.add_option("paths", flags.paths,
                     "Image files and folders (searched recursively for .png .jpg .jpeg .webp "
                     ".bmp, sorted)");
  command.add_option("-p,--prompt", flags.prompt, "The prompt the images were generated from");
  command.add_option("--manifest", flags.manifest,
                     "JSONL or CSV with image, prompt and optional group per row (instead of "
                     "paths and --prompt)");
  command.add_option("--pixels", flags.pixels,
                     "A preprocessed batch (safetensors with pixel_values [N,3,H,W], e.g. from "
                     "`prefscore preprocess`) instead of image files; rows are named by index");
  command.add_option("--max-line-bytes", flags.max_line_bytes,
                     "Refuse a manifest with a longer line, in bytes [default: 1048576 (1 MiB)]")
      ->check(CLI::PositiveNumber);
}

ScoreReport run_scoring(const InputFlags& flags, const std::vector<Scorer*>& scorers,
                        int batch_size) {
  Progress progress("scoring");
  ScoreRunOptions options;
  options.batch_size = batch_size;
  options.progress = [&progress](std::size_t done, std::size_t total) { progress(done, total); };
  const int sources = !flags.paths.empty() + !flags.manifest.empty() + !flags.pixels.empty();
  if (sources != 1) {
    throw Error("", "give exactly one of: image paths, --manifest FILE, --pixels FILE");
  }
  ScoreReport report;
  if (!flags.manifest.empty()) {
    if (!flags.prompt.empty()) throw Error("--prompt", "a manifest carries its own prompts");
    report = score_items(scorers, read_manifest(flags.manifest, ManifestOptions{flags.max_line_bytes}), options);
  } else {
    if (flags.prompt.empty()) throw Error("--prompt", "required with image paths or --pixels");
    if (!flags.pixels.empty()) {
      const SafetensorsFile file = SafetensorsFile::open(flags.pixels);
      const at::Tensor pixels = tensor_view(file, "pixel_values");
      std::vector<ScoreItem> items;
      for (int64_t i = 0; i < (pixels.dim() > 0 ? pixels.size(0) : 0); ++i) {
        items.push_back(ScoreItem{"#" + std::to_string(i), flags.prompt, ""});
      }
      report = score_pixel_batch(scorers, pixels, items, options);
    } else {
      std::vector<ScoreItem> items;
      for (const std::string& f : collect_image_files(flags.paths)) {
        items.push_back(ScoreItem{f, flags.prompt, ""});
      }
      if (items.empty()) throw Error(flags.paths.front(), "no image files found");
      report = score_items(scorers, items, options);
    }
  }
  progress.finish();
  if (report.items.empty()) {
    print_skipped(report.skipped);
    throw Error("", "none of the " + std::to_string(report.skipped.size()) +
                        " images could be scored (each reported above)");
  }
  return report;
}

}  // namespace prefscore::cli
