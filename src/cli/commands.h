// The subcommands of the `prefscore` CLI. Each src/cli/<command>.cpp adds one subcommand: it
// parses flags into an options struct, calls one library function and prints the result. No
// maths here (../shared/STYLE.md section 6).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "prefscore/sharding.h"

namespace prefscore::cli {

// Exit codes, documented in README.md ("Exit status") and in `prefscore --help`.
constexpr int kExitOk = 0;
constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSkipped = 3;      // finished, but some inputs were reported and skipped
constexpr int kExitGateMissed = 4;   // a --fail-under quality gate was missed
// 128 + the signal (130 SIGINT, 143 SIGTERM): stopped at a checkpoint, resumable.

// What main() resolved from the environment once, so that no command reads it itself.
struct Context {
  std::vector<std::string> card_dirs;  // folders with model cards (*.json), searched in order
  std::string weights_home;            // $PREFSCORE_HOME or ~/.cache/prefscore
  std::string vocab_path;              // <models dir>/vocab/bpe_simple_vocab_16e6.txt.gz
  ShardEnvironment shard_environment;  // SLURM_ARRAY_TASK_*, JOB_COMPLETION_INDEX
  // $PREFSCORE_CACHE_DIR, else $XDG_CACHE_HOME/prefscore, else ~/.cache/prefscore: remembered
  // weights digests (weights-sha256/).
  std::string cache_dir;
  int exit_code = kExitOk;             // set by a command that finishes with a non-zero status
  std::string command_line;            // argv joined by spaces, shown in --report pages
};

void add_models(CLI::App& app, Context& context);
void add_inspect(CLI::App& app, Context& context);
void add_embed(CLI::App& app, Context& context);
void add_tokenize(CLI::App& app, Context& context);
void add_preprocess(CLI::App& app, Context& context);
void add_score(CLI::App& app, Context& context);
void add_rank(CLI::App& app, Context& context);
void add_compare(CLI::App& app, Context& context);
void add_eval(CLI::App& app, Context& context);
void add_bench(CLI::App& app, Context& context);
void add_merge(CLI::App& app, Context& context);
void add_heatmap(CLI::App& app, Context& context);
void add_audit(CLI::App& app, Context& context);
void add_explain(CLI::App& app, Context& context);

}  // namespace prefscore::cli
