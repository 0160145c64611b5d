// Where and in what precision a model runs. Passed explicitly to every model constructor: the
// library has no default device or dtype (../shared/STYLE.md section 5).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace prefscore {

struct RunOptions {
  c10::Device device;
  c10::ScalarType dtype;  // compute dtype of the weights and activations: Float, BFloat16 or Half
};

// "fp32", "bf16" or "fp16": the --precision name of `options`.
std::string precision_name(const RunOptions& options);

}  // namespace prefscore
