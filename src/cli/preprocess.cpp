// `prefscore preprocess`: images -> pixel_values [N, 3, 224, 224] float32 in a safetensors file,
// exactly as one of the official pipelines computes them (see include/prefscore/image.h). The
// debugging entry to the image half of every metric: `prefscore embed --pixels` takes its output.
#include <iostream>
#include <memory>

#include "commands.h"
#include "output.h"
#include "prefscore/error.h"
#include "prefscore/image.h"

namespace prefscore::cli {
namespace {

struct PreprocessCliOptions {
  std::vector<std::string> images;
  std::string output;
  std::string pipeline;
  int image_size = 224;
  uint64_t max_pixels = 100'000'000;
  bool exif_transpose = false;
};

void preprocess(const PreprocessCliOptions& opts, Context& context) {
  PreprocessOptions options;
  if (!parse_pipeline(opts.pipeline, &options.pipeline)) {
    throw Error("--pipeline",
                "unknown pipeline '" + opts.pipeline + "', expected openclip, hf or hpsv2");
  }
  options.image_size = opts.image_size;
  options.decode.max_pixels = opts.max_pixels;
  options.decode.exif_transpose = opts.exif_transpose;
  const PreprocessedBatch batch = preprocess_files(opts.images, options);
  report_skipped(batch.skipped, context);
  write_pixel_values(opts.output, batch, options);
  if (!batch.skipped.empty()) {
    std::cerr << "prefscore: " << batch.skipped.size() << " image(s) skipped, "
              << batch.images.size() << " written to " << opts.output << "\n";
  }
}

}  // namespace

void add_preprocess(CLI::App& app, Context& context) {
  auto opts = std::make_shared<PreprocessCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess",
      "Decode, resize, crop and normalize images exactly as an official pipeline does; write "
      "pixel_values [N,3,S,S] float32 to safetensors");
  cmd->add_option("images", opts->images, "Image files (PNG, JPEG, WebP, BMP), kept in order")
      ->required();
  cmd->add_option("--pipeline", opts->pipeline,
                  "openclip (open_clip/torchvision), hf (transformers CLIPImageProcessor: "
                  "PickScore, MPS) or hpsv2 (HPS v2 letterbox) [required, no default]")
      ->required()
      ->check(CLI::IsMember({"openclip", "hf", "hpsv2"}));
  cmd->add_option("-o,--output", opts->output,
                  "Output .safetensors file (written atomically) [required]")
      ->required();
  cmd->add_option("--image-size", opts->image_size,
                  "Output height and width in pixels [default: 224]")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-pixels", opts->max_pixels,
                  "Refuse images with more pixels than this, before decoding them "
                  "[default: 100000000]");
  cmd->add_flag("--exif-transpose", opts->exif_transpose,
                "Rotate/flip by the EXIF orientation first (the official pipelines do not) "
                "[default: off]");
  cmd->callback([opts, &context] { preprocess(*opts, context); });
}

}  // namespace prefscore::cli
