// Builds a ClipModel from what a user names on the command line: a model card (`--model NAME`,
// `--model-card FILE`) or an official checkpoint without a card (`--weights DIR|FILE`, with
// `--layout` and `--config` where they cannot be inferred). Official formats need no card: a
// transformers directory (config.json + model.safetensors) takes its dims from config.json, an
// open_clip file from an open_clip model config JSON.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "prefscore/clip.h"
#include "prefscore/model_card.h"
#include "prefscore/run_options.h"
#include "prefscore/safetensors.h"
#include "prefscore/weights.h"
#include "prefscore/weights_verification.h"

namespace prefscore {

struct ClipSource {
  std::string model;    // card name, or a path to a card .json; empty for a card-less checkpoint
  std::string weights;  // folder or .safetensors file; empty = $PREFSCORE_HOME/<model>/
  std::string layout;   // huggingface | open_clip | mps; empty = from the card or the tensor names
  std::string config;   // transformers config.json or open_clip model config; empty = inferred
  SafetensorsLimits limits;  // the weights file's header size limit
  VerifyOptions verify;      // sha256 of the card's files (--no-verify, where digests are kept)
  PackedWeightsCache packed_weights;  // CPU bf16/int8: where packed weights are kept (clip.h)
};

struct LoadedClip {
  std::optional<ModelCard> card;
  std::string layout;
  std::string weights_file;
  // The card's files checked against its digests (empty without a card), and weights_file's
  // digest when it was verified.
  std::vector<FileVerification> verification;
  std::optional<std::string> verified_sha256;
  ClipArchitecture architecture;
  std::unique_ptr<Weights> weights;  // still open: a head may take more tensors, then finish()
  std::unique_ptr<ClipModel> model;
};

// Throws Error naming the file and the problem (missing weights say where they are expected and
// how to get them; a card's file whose sha256 differs from the card's is refused before it is
// opened, unless source.verify.verify is false).
LoadedClip load_clip(const ClipSource& source, const std::vector<std::string>& card_dirs,
                     const std::string& weights_home, const RunOptions& options);

}  // namespace prefscore
