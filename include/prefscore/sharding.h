// Splitting one run's work list over N independent processes (a Slurm job array, a Kubernetes
// Indexed Job, or N shells): shard I of N takes the items whose stable hash falls in it. The hash
// is of the item's content (image path as listed, prompt, group), not of its position, so shards
// are balanced, need no coordination, and do not change when a listing is reordered. Shard
// outputs are joined by `prefscore merge` (shard_file.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "prefscore/inputs.h"

namespace prefscore {

struct Shard {
  std::size_t index = 0;  // 0-based
  std::size_t count = 1;
  std::string origin;     // how it was chosen, for the log line: "--shard", "SLURM_ARRAY_TASK_ID=7 ..."
  bool active() const { return count > 1; }
  std::string name() const;  // "I/N"
};

// "I/N" with 0 <= I < N; "0/1" means the whole list. Throws Error("--shard", why).
Shard parse_shard(const std::string& text);

// The scheduler's view of this process, as the environment gave it (main() reads it; empty
// strings for unset variables).
struct ShardEnvironment {
  std::string slurm_array_task_id;     // SLURM_ARRAY_TASK_ID
  std::string slurm_array_task_count;  // SLURM_ARRAY_TASK_COUNT
  std::string slurm_array_task_min;    // SLURM_ARRAY_TASK_MIN
  std::string slurm_array_task_step;   // SLURM_ARRAY_TASK_STEP
  std::string job_completion_index;    // JOB_COMPLETION_INDEX (Kubernetes Indexed Job)
};

// The shard this process runs: `--shard I/N` when given; else a Slurm job array's task
// ((ID - MIN) / STEP of COUNT); else a Kubernetes Indexed Job's JOB_COMPLETION_INDEX of
// `shard_count` (the Job's `completions`: Kubernetes does not export it, so it must be passed);
// else the whole list. `--shard 0/1` turns the environment off. Throws Error naming the
// variable when it is malformed or inconsistent.
Shard resolve_shard(const std::string& shard_flag, std::size_t shard_count,
                    const ShardEnvironment& env);

// The shard (0..count-1) an item belongs to: the first 8 bytes of sha256(image "\0" prompt "\0"
// group), big-endian, modulo `count`.
std::size_t shard_of(const ScoreItem& item, std::size_t count);

// The positions in `items` of the items that belong to `shard`, ascending.
std::vector<std::size_t> shard_positions(const std::vector<ScoreItem>& items, const Shard& shard);

// sha256 of the whole work list (each item's image, prompt and group, in order): shards merged
// together must come from the same list.
std::string work_list_sha256(const std::vector<ScoreItem>& items);

}  // namespace prefscore
