// --shard I/N and --shard-count for the commands whose work can be split over processes (score,
// rank, eval): which shard this process runs (from the flag or the scheduler's environment), and
// scoring that shard's part of a work list into a shard file for `prefscore merge`.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "commands.h"
#include "input_flags.h"
#include "prefscore/sharding.h"

namespace prefscore::cli {

struct ShardFlags {
  std::string shard;            // "I/N"
  std::size_t shard_count = 0;  // with JOB_COMPLETION_INDEX (Kubernetes Indexed Job)
};

void add_shard_flags(CLI::App& command, ShardFlags& flags);

// The shard to run; when it is one of several, says so on stderr ("prefscore: shard 3/8 (from
// SLURM_ARRAY_TASK_ID=3 ...)") so that the job's log shows which part ran.
Shard resolve_shard(const ShardFlags& flags, const Context& context);

// A shard writes a shard file (JSON lines, for merge): refuses another --format, a .csv -o and
// --pixels, before any model is loaded.
void check_shard_output(const std::string& format, const std::string& output,
                        const InputFlags& input);
// A shard holds part of the images, so its --report page would mislead: refused (Error) when
// `report` is given.
void check_no_shard_report(const std::string& report);

// Scores this shard's part of `items` (the whole work list) and returns the shard file's text;
// the shard's skipped items are reported on stderr (exit 3). `command` and `top` go in its header.
std::string score_shard(const std::string& command, const Shard& shard, const InputFlags& input,
                        const std::vector<Scorer*>& scorers, int batch_size,
                        const std::vector<ScoreItem>& items, std::size_t top,
                        const CheckpointOptions* checkpoint, Context& context);

}  // namespace prefscore::cli
