// `prefscore embed`: image and text embeddings (projected, not normalised) and logit_scale of any
// CLIP checkpoint, written to one safetensors file. Each stage can be checked on its own:
// `--pixels` takes an already preprocessed batch (e.g. from `prefscore preprocess`). Outputs:
// image_embeds [N, E], text_embeds [M, E] (+ input_ids), logit_scale; metadata names the inputs.
#include <torch/torch.h>

#include <memory>

#include <nlohmann/json.hpp>
#include <optional>

#include "commands.h"
#include "output.h"
#include "prefscore/image.h"
#include "prefscore/image_torch.h"
#include "prefscore/tokenizer.h"
#include "prefscore/clip_loader.h"
#include "prefscore/scorer.h"
#include "prefscore/error.h"
#include "prefscore/safetensors_torch.h"
#include "run_flags.h"
#include "verify_flags.h"

namespace prefscore::cli {
namespace {

struct EmbedOptions {
  ClipSource source;
  std::string model_card;
  std::string pixels;
  std::vector<std::string> images;
  std::vector<std::string> texts;
  std::string output;
  bool no_verify = false;
  RunFlags run;
};

void embed(const EmbedOptions& opts, Context& context) {
  const RunOptions run = apply_run_flags(opts.run);
  ClipSource source = opts.source;
  if (!opts.model_card.empty()) source.model = opts.model_card;
  source.verify = verify_options(opts.no_verify, context);
  if (opts.pixels.empty() && opts.images.empty() && opts.texts.empty()) {
    throw Error("", "nothing to embed: pass --image IMG, --pixels PX.safetensors or --text STR");
  }
  if (!opts.pixels.empty() && !opts.images.empty()) {
    throw Error("--pixels", "give --pixels or --image, not both");
  }
  torch::InferenceMode inference;
  LoadedClip clip = load_clip(source, context.card_dirs, context.weights_home, run);
  report_verification(clip.verification, opts.no_verify);
  clip.weights->ignore_prefix("cross_model.");  // an MPS head's weights: not needed for embeddings
  clip.weights->finish();
  const EncoderFrontEnd front = encoder_front_end(clip);

  SafetensorsWriter writer;
  nlohmann::json image_names = nlohmann::json::array();
  if (!opts.pixels.empty() || !opts.images.empty()) {
    at::Tensor pixels;
    std::optional<SafetensorsFile> px_file;
    if (!opts.pixels.empty()) {
      px_file = SafetensorsFile::open(opts.pixels);
      pixels = tensor_view(*px_file, "pixel_values");
    } else {
      PreprocessOptions preprocess;
      preprocess.pipeline = front.pipeline;
      preprocess.image_size = static_cast<int>(clip.architecture.image_size);
      const PreprocessedBatch batch = preprocess_files(opts.images, preprocess);
      report_skipped(batch.skipped, context);
      if (batch.images.empty()) throw Error("--image", "no image could be read");
      pixels = stack_pixel_values(batch.images);
      for (const std::string& f : batch.files) image_names.push_back(f);
    }
    add_tensor(writer, "image_embeds", clip.model->encode_image(pixels).embeds.to(torch::kFloat32));
  }
  if (!opts.texts.empty()) {
    const ClipTokenizer tokenizer(context.vocab_path);
    std::vector<int64_t> ids;
    for (std::size_t i = 0; i < opts.texts.size(); ++i) {
      const TokenizedText t = tokenizer.encode(opts.texts[i], front.tokenizer, "--text " + std::to_string(i + 1));
      ids.insert(ids.end(), t.ids.begin(), t.ids.end());
    }
    const at::Tensor input_ids = torch::tensor(ids, torch::kInt64).view({static_cast<int64_t>(opts.texts.size()), -1});
    add_tensor(writer, "text_embeds", clip.model->encode_text(input_ids).embeds.to(torch::kFloat32));
    add_tensor(writer, "input_ids", input_ids);
    writer.set_metadata("texts", nlohmann::json(opts.texts).dump());
  }
  if (!image_names.empty()) {
    // File names need not be UTF-8: invalid bytes become U+FFFD.
    writer.set_metadata("images",
                        image_names.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  add_tensor(writer, "logit_scale", torch::tensor(static_cast<float>(clip.model->logit_scale())));
  writer.set_metadata("model", clip.card ? clip.card->name : "");
  writer.set_metadata("layout", clip.layout);
  writer.set_metadata("weights", clip.weights_file);
  writer.set_metadata("precision", precision_name(run));
  writer.set_metadata("pipeline", std::string(pipeline_name(front.pipeline)));
  writer.set_metadata("tokenizer", front.tokenizer.mode == TokenizerMode::kOpenClip ? "openclip"
                                   : front.tokenizer.pad == PadToken::kBang         ? "hf, pad !"
                                                                                    : "hf, pad <|endoftext|>");
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
  cmd->add_option("--image", opts->images,
                  "Image file to embed (repeatable), preprocessed as the card says (card-less: "
                  "hf for transformers checkpoints, openclip for open_clip ones)");
  cmd->add_option("--pixels", opts->pixels,
                  "Preprocessed batch: a safetensors file with pixel_values [N,3,H,W]");
  cmd->add_option("--text", opts->texts, "Text to embed (repeatable), tokenized as the card says");
  cmd->add_option("-o,--output", opts->output, "Output .safetensors file (written atomically)")
      ->required();
  add_verify_flag(*cmd, opts->no_verify);
  add_run_flags(*cmd, opts->run);
  cmd->callback([opts, &context] { embed(*opts, context); });
}

}  // namespace prefscore::cli
