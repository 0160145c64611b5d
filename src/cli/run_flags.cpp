#include "run_flags.h"

#include <torch/torch.h>

#include <thread>

#include "prefscore/error.h"

namespace prefscore::cli {

void add_run_flags(CLI::App& command, RunFlags& flags) {
  command.add_option("--device", flags.device, "Where the model runs: cpu or cuda[:N] [default: cpu]");
  command.add_option("--dtype", flags.dtype,
                     "Compute dtype of weights and activations: fp32, bf16 or fp16 [default: fp32]")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  command.add_option("--threads", flags.threads,
                     "CPU threads for the model (intra-op) [default: 0 = all cores]")
      ->check(CLI::NonNegativeNumber);
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
  const c10::ScalarType dtype = flags.dtype == "bf16"   ? c10::kBFloat16
                                : flags.dtype == "fp16" ? c10::kHalf
                                                        : c10::kFloat;
  if (dtype == c10::kHalf && device.is_cpu()) {
    throw Error("--dtype", "fp16 is for CUDA; on CPU use fp32 or bf16");
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(flags.threads > 0 ? flags.threads : static_cast<int>(cores));
  return RunOptions{device, dtype};
}

}  // namespace prefscore::cli
