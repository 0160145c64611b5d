// `prefscore embed`: image and text embeddings (projected, not normalised) and logit_scale of any
// CLIP checkpoint, written to one safetensors file. Each stage can be checked on its own:
// `--pixels` takes an already preprocessed batch (e.g. from `prefscore preprocess`).
#include <torch/torch.h>

#include <memory>

#include "commands.h"
#include "prefscore/clip_loader.h"
#include "prefscore/error.h"
#include "prefscore/safetensors_torch.h"
#include "run_flags.h"

namespace prefscore::cli {
namespace {

struct EmbedOptions {
  ClipSource source;
  std::string model_card;
  std::string pixels;
  std::string output;
  RunFlags run;
};

void embed(const EmbedOptions& opts, const Context& context) {
  const RunOptions run = apply_run_flags(opts.run);
  ClipSource source = opts.source;
  if (!opts.model_card.empty()) source.model = opts.model_card;
  if (opts.pixels.empty()) throw Error("", "nothing to embed: pass --pixels PX.safetensors");
  torch::InferenceMode inference;
  LoadedClip clip = load_clip(source, context.card_dirs, context.weights_home, run);
  clip.weights->ignore_prefix("cross_model.");  // an MPS head's weights: not needed for embeddings
  clip.weights->finish();

  SafetensorsWriter writer;
  const SafetensorsFile px_file = SafetensorsFile::open(opts.pixels);
  const at::Tensor pixels = tensor_view(px_file, "pixel_values");
  const at::Tensor image_embeds = clip.model->encode_image(pixels).embeds.to(torch::kFloat32);
  add_tensor(writer, "image_embeds", image_embeds);
  add_tensor(writer, "logit_scale", torch::tensor(static_cast<float>(clip.model->logit_scale())));
  writer.set_metadata("model", clip.card ? clip.card->name : "");
  writer.set_metadata("layout", clip.layout);
  writer.set_metadata("weights", clip.weights_file);
  writer.set_metadata("dtype", opts.run.dtype);
  writer.write(opts.output);
}

}  // namespace

void add_embed(CLI::App& app, Context& context) {
  auto opts = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand(
      "embed", "Write image (and text) embeddings and logit_scale of a CLIP model to safetensors");
  auto* model = cmd->add_option("--model", opts->source.model,
                                "Model card name (see `prefscore models`) [default: none]");
  cmd->add_option("--model-card", opts->model_card, "Run any model card file (.json)")
      ->excludes(model);
  cmd->add_option("--weights", opts->source.weights,
                  "Weights folder or .safetensors file [default: $PREFSCORE_HOME/<model>/]");
  cmd->add_option("--layout", opts->source.layout,
                  "Checkpoint layout: huggingface, open_clip or mps [default: from the card or "
                  "the tensor names]")
      ->check(CLI::IsMember({"huggingface", "hf", "open_clip", "openclip", "mps"}));
  cmd->add_option("--config", opts->source.config,
                  "transformers config.json or open_clip model config JSON [default: the one "
                  "next to the weights]");
  cmd->add_option("--pixels", opts->pixels,
                  "Preprocessed batch: a safetensors file with pixel_values [N,3,H,W]");
  cmd->add_option("-o,--output", opts->output, "Output .safetensors file (written atomically)")
      ->required();
  add_run_flags(*cmd, opts->run);
  cmd->callback([opts, &context] { embed(*opts, context); });
}

}  // namespace prefscore::cli
