// What to score, shared by score and rank: image files/folders with --prompt, a --manifest, or a
// preprocessed --pixels batch with --prompt.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "prefscore/scoring.h"
#include "prefscore/text_lines.h"

namespace prefscore::cli {

struct InputFlags {
  std::string prompt;
  std::vector<std::string> paths;
  std::string manifest;
  std::string pixels;
  std::size_t max_line_bytes = kDefaultMaxLineBytes;  // manifest lines
};

void add_input_flags(CLI::App& command, InputFlags& flags);
// Runs every scorer over the inputs; a progress line on a terminal.
ScoreReport run_scoring(const InputFlags& flags, const std::vector<Scorer*>& scorers,
                        int batch_size);

}  // namespace prefscore::cli
