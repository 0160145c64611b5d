#include "run_flags.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "cpu_info.h"
#include "prefscore/error.h"

namespace prefscore::cli {

void add_run_flags(CLI::App& command, RunFlags& flags) {
  command.add_option("--device", flags.device,
                     "Where the model runs: cpu or cuda[:N] [default: cpu]");
  const auto precisions = CLI::IsMember({"auto", "fp32", "bf16", "fp16", "int8"});
  command
      .add_option("--precision", flags.precision,
                  "Compute precision: auto, fp32, bf16, fp16 (CUDA) or int8 (CPU: the image "
                  "tower's linear layers in int8, the rest bf16; see README). auto = fp16 on "
                  "CUDA, bf16 on CPUs with AVX512-BF16 or AMX, else fp32; pass fp32 to reproduce "
                  "the official fp32 scores [default: auto]")
      ->check(precisions);
  // The flag's former name, kept working for existing scripts; not shown in --help.
  command.add_option("--dtype", flags.precision, "")->check(precisions)->group("");
  command
      .add_option("--threads", flags.threads,
                  "CPU threads for the model (intra-op) [default: 0 = one per physical core]")
      ->check(CLI::NonNegativeNumber);
}

void add_packed_cache_flag(CLI::App& command, RunFlags& flags) {
  command.add_flag("--no-packed-cache", flags.no_packed_cache,
                   "Do not keep or use the weights packed for this CPU (CPU bf16 and int8) in "
                   "$PREFSCORE_CACHE_DIR/packed-weights/: later loads then convert and pack the "
                   "checkpoint again (ViT-H: ~5 s more) [default: kept, ~2 GB per ViT-H model "
                   "in bf16, written on first use]");
}

PackedWeightsCache packed_weights_cache(const RunFlags& flags, const std::string& cache_dir) {
  if (flags.no_packed_cache || cache_dir.empty()) return {};
  return {(std::filesystem::path(cache_dir) / "packed-weights").string()};
}

void report_packed_weights(const PackedWeightsReport& report) {
  for (const std::string& problem : report.problems) {
    std::cerr << "prefscore: warning: " << problem << "\n";
  }
}

int images_per_call(int batch_size_flag, const RunFlags& flags) {
  if (batch_size_flag > 0) return batch_size_flag;
  return flags.device.rfind("cuda", 0) == 0 ? 32 : 8;
}

std::string auto_precision(const c10::Device& device) {
  if (device.is_cuda()) return "fp16";
  return cpu_has_fast_bf16() ? "bf16" : "fp32";
}

RunOptions apply_run_flags(const RunFlags& flags) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(flags.device);
  } catch (const std::exception&) {
    throw Error("--device", "\"" + flags.device + "\" is not a device; expected cpu or cuda[:N]");
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw Error("--device", "cuda requested but this LibTorch build or machine has no CUDA device");
  }
  if (!device.is_cpu() && !device.is_cuda()) {
    throw Error("--device", "\"" + flags.device + "\" is not supported; expected cpu or cuda[:N]");
  }
  const std::string precision =
      flags.precision == "auto" ? auto_precision(device) : flags.precision;
  if (precision == "fp16" && device.is_cpu()) {
    throw Error("--precision", "fp16 is for CUDA; on CPU use fp32 or bf16");
  }
  if (precision == "int8" && !device.is_cpu()) {
    throw Error("--precision", "int8 is for the CPU; on CUDA use fp16 or bf16");
  }
  RunOptions run{device, precision == "bf16" || precision == "int8" ? c10::kBFloat16
                         : precision == "fp16"                      ? c10::kHalf
                                                                    : c10::kFloat};
  run.int8_image_linears = precision == "int8";
  // The model's own parallelism is intra-op (GEMMs, element-wise kernels): one thread per
  // physical core, as SMT siblings share the core's matrix units. Nothing here runs independent
  // ops side by side, so the inter-op pool gets one thread; it can only be sized before first use.
  at::set_num_threads(flags.threads > 0 ? flags.threads : physical_cores());
  static const bool interop_set = [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already started by an earlier op: keep its size.
    }
    return true;
  }();
  (void)interop_set;
  return run;
}

}  // namespace prefscore::cli
