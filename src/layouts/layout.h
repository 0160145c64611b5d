// A checkpoint layout: the official key name(s) of every WeightId (see include/prefscore/weights.h).
#pragma once

#include <string>
#include <vector>

#include "prefscore/weights.h"

namespace prefscore {

struct WeightEntry {
  WeightId id;
  // One key, or several concatenated along dim 0 (transformers' q/k/v into one in-projection).
  // Block entries are relative to the tower's block prefix.
  std::vector<std::string> names;
  bool transpose = false;  // stored [in, out]; transposed to the canonical [out, in]
};

struct WeightLayout {
  std::string name;
  std::string key_prefix;          // prepended to every key ("model." in MPS checkpoints)
  std::string vision_block_prefix; // with "{layer}", e.g. "vision_model.encoder.layers.{layer}."
  std::string text_block_prefix;
  std::vector<WeightEntry> entries;
  std::vector<std::string> ignored_prefixes;  // buffers some exports carry and nobody needs
};

const WeightLayout& huggingface_layout();
const WeightLayout& open_clip_layout();
const WeightLayout& mps_layout();

}  // namespace prefscore
