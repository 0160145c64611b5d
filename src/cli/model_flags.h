// The flags that choose what scores (shared by score, rank and compare): --model (a card, or a
// comma-separated list for score), --model-card, --weights/--head/--layout/--config for a
// card-less official checkpoint, --condition for MPS, --batch-size, and --no-verify.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "prefscore/scorer.h"
#include "run_flags.h"

namespace prefscore::cli {

struct ModelFlags {
  std::string models;  // comma-separated card names
  std::string model_card;
  std::string weights;
  std::string head;
  std::string layout;
  std::string config;
  std::string condition = "overall";
  int batch_size = 0;  // 0 = not given; read it with images_per_call()
  uint64_t max_pixels = 100'000'000;
  std::size_t max_prompt_bytes = kDefaultMaxTextBytes;
  uint64_t max_header_bytes = SafetensorsLimits{}.max_header_bytes;
  bool exif_transpose = false;
  bool no_verify = false;
  // eval: the conditions come from the input rows, and a model without conditions ignores them.
  bool conditions_optional = false;
  RunFlags run;
};

void add_model_flags(CLI::App& command, ModelFlags& flags, bool allow_several_models);
// Builds one Scorer per model named (in order); the thread count is set here.
std::vector<std::unique_ptr<Scorer>> open_scorers(const ModelFlags& flags, const Context& context);
// --batch-size, or the device's default when it was not given (run_flags.h).
int images_per_call(const ModelFlags& flags);
std::vector<Scorer*> raw_pointers(const std::vector<std::unique_ptr<Scorer>>& scorers);

}  // namespace prefscore::cli
