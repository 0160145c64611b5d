// A scoring run that survives being killed: items are scored in chunks and each chunk's raw
// results (score and logit per column, or why the item was skipped) are appended to a partial
// file and fsync'ed before the next chunk starts. A run that is killed (SIGKILL, power loss) or
// stopped (SIGINT/SIGTERM, between chunks) leaves that file; `resume` continues from it, scoring
// only the items it lacks. Probabilities (softmax over each group) are computed at the end from
// the logits of all items, so a resumed run's report equals an uninterrupted one's, row for row.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "prefscore/error.h"
#include "prefscore/scoring.h"

namespace prefscore {

struct CheckpointOptions {
  std::string partial_path;           // e.g. "OUT.partial"
  bool resume = false;                // continue from partial_path instead of refusing it
  std::size_t items_per_checkpoint = 64;
  std::function<bool()> stop_requested;  // polled after each checkpoint (signals)
};

// Thrown when stop_requested() said so: the partial file holds every finished chunk.
class ScoringStopped : public Error {
 public:
  explicit ScoringStopped(const std::string& partial_path)
      : Error(partial_path, "stopped; the finished items are saved here, --resume continues") {}
};

// score_items with checkpoints. Errors: the partial file exists and `resume` is false; it was
// written for other items or models (its header records both); it cannot be written. A torn last
// line (a kill during a write) is dropped and that item scored again. The partial file is left in
// place: the caller removes it once the final output is written.
ScoreReport score_items_checkpointed(const std::vector<Scorer*>& scorers,
                                     const std::vector<ScoreItem>& items,
                                     const ScoreRunOptions& options,
                                     const CheckpointOptions& checkpoint);

}  // namespace prefscore
