#include "prefscore/sharding.h"

#include <array>
#include <cstdint>

#include "prefscore/error.h"
#include "prefscore/sha256.h"

namespace prefscore {
namespace {

// A non-negative decimal integer with nothing around it; nullopt otherwise.
std::optional<std::size_t> parse_count(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

std::size_t env_number(const std::string& name, const std::string& value) {
  const std::optional<std::size_t> n = parse_count(value);
  if (!n) throw Error(name, "expected a non-negative integer, got \"" + value + "\"");
  return *n;
}

Shard slurm_shard(const ShardEnvironment& env) {
  const std::size_t id = env_number("SLURM_ARRAY_TASK_ID", env.slurm_array_task_id);
  if (env.slurm_array_task_count.empty()) {
    throw Error("SLURM_ARRAY_TASK_COUNT", "not set (an old Slurm?): pass --shard I/N");
  }
  const std::size_t count = env_number("SLURM_ARRAY_TASK_COUNT", env.slurm_array_task_count);
  const std::size_t min = env.slurm_array_task_min.empty()
                              ? 0
                              : env_number("SLURM_ARRAY_TASK_MIN", env.slurm_array_task_min);
  const std::size_t step = env.slurm_array_task_step.empty()
                               ? 1
                               : env_number("SLURM_ARRAY_TASK_STEP", env.slurm_array_task_step);
  std::string origin = "SLURM_ARRAY_TASK_ID=" + env.slurm_array_task_id +
                       " of SLURM_ARRAY_TASK_COUNT=" + env.slurm_array_task_count;
  if (min != 0) origin += ", SLURM_ARRAY_TASK_MIN=" + env.slurm_array_task_min;
  if (step != 1) origin += ", SLURM_ARRAY_TASK_STEP=" + env.slurm_array_task_step;
  // A list such as --array=1,4,9 has no constant step: its task ids cannot be numbered here.
  if (count == 0 || step == 0 || id < min || (id - min) % step != 0 ||
      (id - min) / step >= count) {
    throw Error("SLURM_ARRAY_TASK_ID",
                "cannot number this task as a shard (" + origin +
                    "); use an array range such as --array=0-" +
                    std::to_string(count == 0 ? 0 : count - 1) + ", or pass --shard I/N");
  }
  return Shard{(id - min) / step, count, origin};
}

}  // namespace

std::string Shard::name() const { return std::to_string(index) + "/" + std::to_string(count); }

Shard parse_shard(const std::string& text) {
  const std::size_t slash = text.find('/');
  const auto index = parse_count(slash == std::string::npos ? "" : text.substr(0, slash));
  const auto count = parse_count(slash == std::string::npos ? "" : text.substr(slash + 1));
  if (!index || !count) {
    throw Error("--shard", "expected I/N (shard I of N, counting from 0), got \"" + text + "\"");
  }
  if (*count == 0 || *index >= *count) {
    throw Error("--shard", "shard index must be in 0.." +
                               std::to_string(*count == 0 ? 0 : *count - 1) + ", got \"" + text +
                               "\"");
  }
  return Shard{*index, *count, "--shard"};
}

Shard resolve_shard(const std::string& shard_flag, std::size_t shard_count,
                    const ShardEnvironment& env) {
  if (!shard_flag.empty()) {
    if (shard_count != 0) throw Error("--shard-count", "give --shard I/N or --shard-count, not both");
    return parse_shard(shard_flag);
  }
  if (!env.slurm_array_task_id.empty()) {
    if (shard_count != 0) {
      throw Error("--shard-count", "a Slurm array gives its own count (SLURM_ARRAY_TASK_COUNT)");
    }
    return slurm_shard(env);
  }
  if (shard_count != 0) {
    if (env.job_completion_index.empty()) {
      throw Error("--shard-count", "needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); "
                                   "elsewhere pass --shard I/N");
    }
    const std::size_t index = env_number("JOB_COMPLETION_INDEX", env.job_completion_index);
    if (index >= shard_count) {
      throw Error("JOB_COMPLETION_INDEX", env.job_completion_index + " is not below --shard-count " +
                                              std::to_string(shard_count));
    }
    return Shard{index, shard_count,
                 "JOB_COMPLETION_INDEX=" + env.job_completion_index + " of --shard-count " +
                     std::to_string(shard_count)};
  }
  return Shard{0, 1, ""};
}

std::size_t shard_of(const ScoreItem& item, std::size_t count) {
  Sha256 hash;
  hash.update(item.image);
  hash.update(std::string_view("\0", 1));
  hash.update(item.prompt);
  hash.update(std::string_view("\0", 1));
  hash.update(item.group);
  const std::array<uint8_t, 32> digest = hash.finish();
  uint64_t head = 0;
  for (int i = 0; i < 8; ++i) head = (head << 8) | digest[static_cast<std::size_t>(i)];
  return static_cast<std::size_t>(head % count);
}

std::vector<std::size_t> shard_positions(const std::vector<ScoreItem>& items, const Shard& shard) {
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!shard.active() || shard_of(items[i], shard.count) == shard.index) positions.push_back(i);
  }
  return positions;
}

std::string work_list_sha256(const std::vector<ScoreItem>& items) {
  Sha256 hash;
  for (const ScoreItem& item : items) {
    for (const std::string* field : {&item.image, &item.prompt, &item.group}) {
      // Length-prefixed, so that no two different lists hash the same text.
      hash.update(std::to_string(field->size()) + ":");
      hash.update(*field);
    }
  }
  return hash.finish_hex();
}

}  // namespace prefscore
