// What to score, shared by score and rank: image files/folders with --prompt, a --manifest, or a
// preprocessed --pixels batch with --prompt; and how the images are read: --decode-threads and the
// image-embedding --cache.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "prefscore/checkpointed_scoring.h"
#include "prefscore/scoring.h"
#include "prefscore/text_lines.h"

namespace prefscore::cli {

struct InputFlags {
  std::string prompt;
  std::vector<std::string> paths;
  std::string manifest;
  std::string pixels;
  int decode_threads = -1;  // -1: default_decode_threads()
  std::string cache;        // image-embedding cache folder; empty = none
  std::size_t max_line_bytes = kDefaultMaxLineBytes;  // manifest lines
};

// 1 worker on machines with up to 4 cores (the model keeps them busy), 2 above.
int default_decode_threads();

void add_input_flags(CLI::App& command, InputFlags& flags);
// --decode-threads and --cache alone (part of add_input_flags), for commands with other inputs.
void add_decode_flags(CLI::App& command, InputFlags& flags);
// Scores `items` with the flags' decode threads and cache; progress, warnings and the cache
// summary on stderr.
ScoreReport score_listed_items(const InputFlags& flags, const std::vector<Scorer*>& scorers,
                               int batch_size, const std::vector<ScoreItem>& items,
                               const CheckpointOptions* checkpoint = nullptr);
// The work list the flags name: image files with --prompt, or a manifest's rows (not --pixels).
// Listing warnings (e.g. a symlink loop) go to stderr; what could not be listed (an unreadable
// folder, a dangling link) is appended to `unlisted` as "path: reason", for the caller to report
// as skipped.
std::vector<ScoreItem> list_items(const InputFlags& flags, std::vector<std::string>* unlisted);
// Runs every scorer over the inputs; a progress line on a terminal; cache warnings and, with
// --cache, one summary line on stderr. With `checkpoint` (an output file), image inputs are
// scored with checkpoints into its partial file (checkpointed_scoring.h).
ScoreReport run_scoring(const InputFlags& flags, const std::vector<Scorer*>& scorers,
                        int batch_size, const CheckpointOptions* checkpoint = nullptr);

}  // namespace prefscore::cli
