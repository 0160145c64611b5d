// The flags every model-running command shares (--device, --dtype, --threads) and their
// translation into RunOptions. Thread counts are set here, in the CLI, never in the library.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "prefscore/run_options.h"

namespace prefscore::cli {

struct RunFlags {
  std::string device = "cpu";
  std::string dtype = "fp32";
  int threads = 0;  // 0 = all cores
};

void add_run_flags(CLI::App& command, RunFlags& flags);
// Validates the flags (e.g. CUDA present), sets the intra-op thread count, returns the options.
RunOptions apply_run_flags(const RunFlags& flags);

}  // namespace prefscore::cli
