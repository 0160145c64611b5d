// The flags every model-running command shares (--device, --precision, --threads) and their
// translation into RunOptions. The CPU is inspected and thread counts are set here, in the CLI,
// never in the library.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "prefscore/clip.h"
#include "prefscore/run_options.h"

namespace prefscore::cli {

struct RunFlags {
  std::string device = "cpu";
  std::string precision = "auto";
  int threads = 0;  // 0 = one per physical core
  bool no_packed_cache = false;
};

void add_run_flags(CLI::App& command, RunFlags& flags);
// --no-packed-cache, for the commands that load a model from a checkpoint (not bench's synthetic
// weights).
void add_packed_cache_flag(CLI::App& command, RunFlags& flags);
// Where packed weights are kept: $PREFSCORE_CACHE_DIR/packed-weights/, none with --no-packed-cache.
PackedWeightsCache packed_weights_cache(const RunFlags& flags, const std::string& cache_dir);
// One stderr warning per packed-weights file a load could not use or keep (the load itself went on).
void report_packed_weights(const PackedWeightsReport& report);
// Validates the flags (e.g. CUDA present), resolves `auto`, sets the intra-op thread count and
// returns the options.
RunOptions apply_run_flags(const RunFlags& flags);
// Images per model call: --batch-size when given (> 0), else 8 on the CPU (larger batches gain
// nothing there: ViT-H bf16 ran batch 8 at the rate of batch 4) and 32 on CUDA, where small
// batches leave the GPU waiting on each launch.
int images_per_call(int batch_size_flag, const RunFlags& flags);
// The precision `auto` picks on this machine for `device`: fp16 on CUDA; bf16 on a CPU with
// AVX512-BF16 or AMX; fp32 on other CPUs.
std::string auto_precision(const c10::Device& device);

}  // namespace prefscore::cli
