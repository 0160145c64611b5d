#include "prefscore/run_options.h"

namespace prefscore {

std::string precision_name(const RunOptions& options) {
  if (options.int8_image_linears) return "int8";
  switch (options.dtype) {
    case c10::kBFloat16:
      return "bf16";
    case c10::kHalf:
      return "fp16";
    default:
      return "fp32";
  }
}

}  // namespace prefscore
