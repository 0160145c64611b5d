// The LibTorch side of safetensors.h: zero-copy at::Tensor views of a mapped file (they keep the
// mapping alive) and adding at::Tensors to a writer.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

#include "prefscore/safetensors.h"

namespace prefscore {

c10::ScalarType to_scalar_type(DType dtype);
// Throws Error(name, ...) for a torch dtype safetensors cannot hold (complex, quantized, ...).
DType from_scalar_type(c10::ScalarType type, const std::string& name);

// A read-only CPU view of one tensor's bytes. The view holds a reference to the mapping, so it
// stays valid after `file` is gone. The mapping is read-only: write to a .clone(), never the view.
// Data that is not aligned for its dtype (a writer that did not pad its header) is copied.
at::Tensor tensor_view(const SafetensorsFile& file, const TensorInfo& info);
// Throws Error(file, "no tensor named ...") when absent.
at::Tensor tensor_view(const SafetensorsFile& file, std::string_view name);

// Copies `tensor` (any device, made contiguous) into `writer` under `name`.
void add_tensor(SafetensorsWriter& writer, std::string name, const at::Tensor& tensor);

}  // namespace prefscore
