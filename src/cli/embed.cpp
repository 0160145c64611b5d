// `prefscore embed`: image and text embeddings (projected, not normalised) and logit_scale of any
// CLIP checkpoint, written to one safetensors file. Each stage can be checked on its own:
// `--pixels` takes an already preprocessed batch (e.g. from `prefscore preprocess`). Outputs:
// image_embeds [N, E], text_embeds [M, E] (+ input_ids), logit_scale; metadata names the inputs.
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
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
#include "prefscore/embedding_cache.h"
#include "prefscore/embedding_shards.h"
#include "prefscore/inputs.h"
#include "prefscore/file_digest_memo.h"
#include "prefscore/weights_verification.h"
#include "prefscore/sharding.h"
#include "run_flags.h"
#include "shard_flags.h"
#include "verify_flags.h"

namespace prefscore::cli {
namespace {

struct EmbedOptions {
  ClipSource source;
  std::string model_card;
  std::string pixels;
  std::vector<std::string> images;
  std::vector<std::string> paths;
  std::vector<std::string> texts;
  int batch_size = 0;  // 0 = not given; read it with images_per_call()
  ShardFlags shard;
  std::string output;
  bool no_verify = false;
  RunFlags run;
};

// What a shard header records of the model: the weights' digest (the verified card's, else the
// file's own, remembered) and the fingerprint of everything that decides the image features.
ShardModel shard_model_of(const LoadedClip& clip, const PreprocessOptions& preprocess,
                          const RunOptions& run, const Context& context) {
  const std::string digest =
      clip.verified_sha256
          ? *clip.verified_sha256
          : FileDigestMemo(verification_memo_dir(context.cache_dir)).sha256(clip.weights_file).sha256;
  const EmbeddingKeyParts parts{digest, clip.architecture, /*image_tokens=*/false, preprocess, run};
  return ShardModel{clip.card ? clip.card->name : clip.layout, "clip", {"embeds"}, digest,
                    make_embedding_key(parts).digest};
}

void embed(const EmbedOptions& opts, Context& context) {
  const RunOptions run = apply_run_flags(opts.run);
  ClipSource source = opts.source;
  if (!opts.model_card.empty()) source.model = opts.model_card;
  source.verify = verify_options(opts.no_verify, context);
  source.packed_weights = packed_weights_cache(opts.run, context.cache_dir);
  std::vector<std::string> images = opts.images;
  if (!opts.paths.empty()) {
    const ImageListing listing = collect_image_files(opts.paths);
    for (const std::string& w : listing.warnings) std::cerr << "prefscore: warning: " << w << "\n";
    report_skipped(listing.skipped, context);
    if (listing.files.empty()) throw Error(opts.paths.front(), "no image files found");
    images.insert(images.end(), listing.files.begin(), listing.files.end());
  }
  if (opts.pixels.empty() && images.empty() && opts.texts.empty()) {
    throw Error("", "nothing to embed: pass image files or folders, --image IMG, --pixels "
                    "PX.safetensors or --text STR");
  }
  if (!opts.pixels.empty() && !images.empty()) {
    throw Error("--pixels", "give --pixels or image files, not both");
  }
  Shard shard;
  if (!images.empty()) {
    shard = resolve_shard(opts.shard, context);
  } else if (!opts.shard.shard.empty() || opts.shard.shard_count != 0) {
    throw Error("--shard", "splits the image files to embed; give image files or folders");
  }
  torch::InferenceMode inference;
  LoadedClip clip = load_clip(source, context.card_dirs, context.weights_home, run);
  report_verification(clip.verification, opts.no_verify);
  report_packed_weights(clip.model->packed_weights_report());
  clip.weights->ignore_prefix("cross_model.");  // an MPS head's weights: not needed for embeddings
  clip.weights->finish();
  const EncoderFrontEnd front = encoder_front_end(clip);

  SafetensorsWriter writer;
  nlohmann::json image_names = nlohmann::json::array();
  if (!opts.pixels.empty()) {
    const SafetensorsFile px_file = SafetensorsFile::open(opts.pixels);
    add_tensor(writer, "image_embeds",
               clip.model->encode_image(tensor_view(px_file, "pixel_values")).embeds.to(torch::kFloat32));
  } else if (!images.empty()) {
    PreprocessOptions preprocess;
    preprocess.pipeline = front.pipeline;
    preprocess.image_size = static_cast<int>(clip.architecture.image_size);
    std::vector<ScoreItem> items;
    for (const std::string& f : images) items.push_back(ScoreItem{f, "", ""});
    const std::vector<std::size_t> positions = shard_positions(items, shard);
    if (shard.active()) {
      std::cerr << "prefscore: shard " << shard.name() << ": " << positions.size() << " of "
                << items.size() << " images\n";
    }
    std::vector<at::Tensor> embeds;
    std::vector<std::size_t> embedded;
    std::vector<SkippedImage> skipped;
    const std::size_t batch_size =
        static_cast<std::size_t>(images_per_call(opts.batch_size, opts.run));
    for (std::size_t start = 0; start < positions.size(); start += batch_size) {
      std::vector<std::string> files;
      for (std::size_t k = start; k < std::min(positions.size(), start + batch_size); ++k) {
        files.push_back(images[positions[k]]);
      }
      const PreprocessedBatch batch = preprocess_files(files, preprocess);
      // batch.files is `files` without the skipped ones, in order.
      for (std::size_t k = 0, done = 0, failed = 0; k < files.size(); ++k) {
        if (done < batch.files.size() && batch.files[done] == files[k]) {
          embedded.push_back(positions[start + k]);
          image_names.push_back(files[k]);
          ++done;
        } else {
          skipped.push_back(SkippedImage{
              positions[start + k], files[k],
              failed < batch.skipped.size() ? batch.skipped[failed++] : files[k] + ": not read"});
        }
      }
      if (!batch.images.empty()) {
        embeds.push_back(
            clip.model->encode_image(stack_pixel_values(batch.images)).embeds.to(torch::kFloat32));
      }
    }
    std::vector<std::string> messages;
    for (const SkippedImage& k : skipped) messages.push_back(k.message);
    report_skipped(messages, context);
    if (embeds.empty() && !shard.active()) throw Error("--image", "no image could be read");
    add_tensor(writer, "image_embeds",
               embeds.empty() ? torch::zeros({0, clip.architecture.embed_dim}, torch::kFloat32)
                              : torch::cat(embeds));
    if (shard.active()) {
      ShardHeader header;
      header.command = "embed";
      header.shard = shard;
      header.items = positions.size();
      header.total_items = items.size();
      header.work_list_sha256 = work_list_sha256(items);
      header.models.push_back(shard_model_of(clip, preprocess, run, context));
      header.version = PREFSCORE_VERSION;
      set_embedding_shard_metadata(writer, header, embedded, skipped);
    }
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
  if (!images.empty()) {
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
  cmd->add_option("paths", opts->paths,
                  "Image files and folders to embed (folders searched recursively for .png .jpg "
                  ".jpeg .webp .bmp, sorted), after the --image files");
  cmd->add_option("--batch-size", opts->batch_size,
                  "Images per forward pass [default: 8 on the CPU, 32 on CUDA]")
      ->check(CLI::PositiveNumber);
  add_shard_flags(*cmd, opts->shard);
  cmd->add_option("--image", opts->images,
                  "Image file to embed (repeatable), preprocessed as the card says (card-less: "
                  "hf for transformers checkpoints, openclip for open_clip ones)")
      ->allow_extra_args(false);  // one value each time, so that image paths may follow
  cmd->add_option("--pixels", opts->pixels,
                  "Preprocessed batch: a safetensors file with pixel_values [N,3,H,W]");
  cmd->add_option("--text", opts->texts, "Text to embed (repeatable), tokenized as the card says")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", opts->output, "Output .safetensors file (written atomically)")
      ->required();
  add_verify_flag(*cmd, opts->no_verify);
  add_run_flags(*cmd, opts->run);
  add_packed_cache_flag(*cmd, opts->run);
  cmd->callback([opts, &context] { embed(*opts, context); });
}

}  // namespace prefscore::cli
