// Tensor comparison for numeric ports: reports the first bad index and the measured max error.
#pragma once

#include <torch/torch.h>

#include <string>

#include "test_utils.h"

namespace prefscore::testing {

inline double require_allclose(const at::Tensor& got, const at::Tensor& want, double atol,
                               double rtol, const std::string& what = "") {
  INFO(what << ": got shape " << got.sizes() << ", want shape " << want.sizes());
  REQUIRE(got.sizes() == want.sizes());
  const at::Tensor g = got.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const at::Tensor w = want.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return require_allclose(g.data_ptr<double>(), w.data_ptr<double>(),
                          static_cast<std::size_t>(g.numel()), atol, rtol, what);
}

}  // namespace prefscore::testing
