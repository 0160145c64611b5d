// Model cards: one JSON file per supported model under models/ (models/README.md documents every
// field). A card is data: the architecture dims, the checkpoint layout and files, the head, the
// preprocessing pipeline and tokenizer mode, where the weights come from and how to convert them.
// Adding a model that reuses an existing architecture, layout and head is a new card, no C++.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "prefscore/clip_config.h"

namespace prefscore {

struct WeightFile {
  std::string name;                   // file name inside the weights folder
  std::optional<std::string> sha256;  // lowercase hex; absent when not published
};

struct ModelCard {
  std::string name;          // CLI name, e.g. "pickscore"; also the folder under PREFSCORE_HOME
  std::string display_name;  // e.g. "PickScore v1"
  std::string description;
  std::string head;          // "pickscore" | "hpsv2" | "mps" | "clip"
  ClipArchitecture architecture;
  std::string layout;        // checkpoint layout: "huggingface" | "open_clip" | "mps"
  std::vector<WeightFile> weight_files;
  std::string preprocess;      // image pipeline: "openclip" | "hf" | "hpsv2"
  std::string tokenizer_mode;  // "openclip" | "hf"
  std::string tokenizer_pad;   // "eot" (49407) | "bang" (0)
  std::string source_url;
  std::string license;
  std::string citation;
  std::string obtain;          // how to download the official weights
  std::string convert;         // how to turn them into the files above ("" when none needed)
  std::string card_path;       // the file the card was read from
};

// Parses and validates one card; throws Error(path, reason) naming the bad field.
ModelCard load_model_card(const std::string& path);

// All cards (*.json) in `dirs`, first folder wins on a name clash, sorted by name.
std::vector<ModelCard> load_model_cards(const std::vector<std::string>& dirs);

// The card called `name` (or read from `name` when it is a path to a .json file); the error lists
// the known names.
ModelCard find_model_card(const std::vector<std::string>& dirs, const std::string& name);

}  // namespace prefscore
