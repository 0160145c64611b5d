#include "input_flags.h"

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "output.h"
#include "prefscore/embedding_cache.h"
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
  add_decode_flags(command, flags);
}

void add_decode_flags(CLI::App& command, InputFlags& flags) {
  command.add_option("--decode-threads", flags.decode_threads,
                     "Threads that read, decode and preprocess images while the model runs; 0 = "
                     "between batches, on the main thread [default: 1; 2 on more than 4 cores]")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--cache", flags.cache,
                     "Image-embedding cache folder: images seen before with the same model and "
                     "settings skip the image tower (created when needed) [default: none]");
}

int default_decode_threads() { return std::thread::hardware_concurrency() > 4 ? 2 : 1; }

ScoreReport score_listed_items(const InputFlags& flags, const std::vector<Scorer*>& scorers,
                               int batch_size, const std::vector<ScoreItem>& items,
                               const CheckpointOptions* checkpoint) {
  Progress progress("scoring");
  ScoreRunOptions options;
  options.batch_size = batch_size;
  options.progress = [&progress](std::size_t done, std::size_t total) { progress(done, total); };
  options.decode_threads =
      flags.decode_threads >= 0 ? flags.decode_threads : default_decode_threads();
  std::optional<EmbeddingCache> cache;
  if (!flags.cache.empty()) {
    cache.emplace(flags.cache);
    options.cache = &*cache;
  }
  ScoreReport report = checkpoint != nullptr
                           ? score_items_checkpointed(scorers, items, options, *checkpoint)
                           : score_items(scorers, items, options);
  progress.finish();
  for (const std::string& w : report.warnings) std::cerr << "prefscore: warning: " << w << "\n";
  if (cache) {
    std::cerr << "prefscore: cache " << flags.cache << ": " << report.cache_hits
              << " image features read, " << report.images_encoded << " computed\n";
  }
  return report;
}

std::vector<ScoreItem> list_items(const InputFlags& flags, std::vector<std::string>* unlisted) {
  const int sources = !flags.paths.empty() + !flags.manifest.empty() + !flags.pixels.empty();
  if (sources != 1) {
    throw Error("", "give exactly one of: image paths, --manifest FILE, --pixels FILE");
  }
  if (!flags.pixels.empty()) throw Error("--pixels", "not with this option; give image files");
  if (!flags.manifest.empty()) {
    if (!flags.prompt.empty()) throw Error("--prompt", "a manifest carries its own prompts");
    return read_manifest(flags.manifest, ManifestOptions{flags.max_line_bytes});
  }
  if (flags.prompt.empty()) throw Error("--prompt", "required with image paths or --pixels");
  const ImageListing listing = collect_image_files(flags.paths);
  for (const std::string& w : listing.warnings) std::cerr << "prefscore: warning: " << w << "\n";
  std::vector<ScoreItem> items;
  for (const std::string& f : listing.files) items.push_back(ScoreItem{f, flags.prompt, ""});
  if (items.empty()) {
    print_skipped(listing.skipped);
    throw Error(flags.paths.front(), "no image files found");
  }
  unlisted->insert(unlisted->end(), listing.skipped.begin(), listing.skipped.end());
  return items;
}

ScoreReport run_scoring(const InputFlags& flags, const std::vector<Scorer*>& scorers,
                        int batch_size, const CheckpointOptions* checkpoint) {
  ScoreReport report;
  if (flags.pixels.empty()) {
    std::vector<std::string> unlisted;
    const std::vector<ScoreItem> items = list_items(flags, &unlisted);
    report = score_listed_items(flags, scorers, batch_size, items, checkpoint);
    // Folders that could not be listed count as skipped inputs (exit status 3).
    report.skipped.insert(report.skipped.begin(), unlisted.begin(), unlisted.end());
  } else {
    if (!flags.paths.empty() || !flags.manifest.empty()) {
      throw Error("", "give exactly one of: image paths, --manifest FILE, --pixels FILE");
    }
    if (flags.prompt.empty()) throw Error("--prompt", "required with image paths or --pixels");
    if (!flags.cache.empty()) throw Error("--cache", "caches image files; not for --pixels");
    const SafetensorsFile file = SafetensorsFile::open(flags.pixels);
    const at::Tensor pixels = tensor_view(file, "pixel_values");
    std::vector<ScoreItem> items;
    for (int64_t i = 0; i < (pixels.dim() > 0 ? pixels.size(0) : 0); ++i) {
      items.push_back(ScoreItem{"#" + std::to_string(i), flags.prompt, ""});
    }
    ScoreRunOptions options;
    options.batch_size = batch_size;
    report = score_pixel_batch(scorers, pixels, items, options);
  }
  if (report.items.empty()) {
    print_skipped(report.skipped);
    throw Error("", "none of the " + std::to_string(report.skipped.size()) +
                        " images could be scored (each reported above)");
  }
  return report;
}

}  // namespace prefscore::cli
