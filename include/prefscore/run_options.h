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
  // --precision int8 (CPU): the image tower's linear layers as int8 GEMMs (weights per output
  // channel, inputs quantised per call), everything else in `dtype` (BFloat16). The text tower
  // runs once per prompt and stays bf16.
  bool int8_image_linears = false;
};

// "fp32", "bf16", "fp16" or "int8": the --precision name of `options`.
std::string precision_name(const RunOptions& options);

}  // namespace prefscore
