#include "prefscore/safetensors_torch.h"

#include <torch/torch.h>

#include <cstdint>

#include "prefscore/error.h"

namespace prefscore {

c10::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF64: return torch::kFloat64;
    case DType::kF32: return torch::kFloat32;
    case DType::kF16: return torch::kFloat16;
    case DType::kBF16: return torch::kBFloat16;
    case DType::kI64: return torch::kInt64;
    case DType::kI32: return torch::kInt32;
    case DType::kI16: return torch::kInt16;
    case DType::kI8: return torch::kInt8;
    case DType::kU8: return torch::kUInt8;
    case DType::kBool: return torch::kBool;
  }
  return torch::kFloat32;
}

DType from_scalar_type(c10::ScalarType type, const std::string& name) {
  switch (type) {
    case torch::kFloat64: return DType::kF64;
    case torch::kFloat32: return DType::kF32;
    case torch::kFloat16: return DType::kF16;
    case torch::kBFloat16: return DType::kBF16;
    case torch::kInt64: return DType::kI64;
    case torch::kInt32: return DType::kI32;
    case torch::kInt16: return DType::kI16;
    case torch::kInt8: return DType::kI8;
    case torch::kUInt8: return DType::kU8;
    case torch::kBool: return DType::kBool;
    default:
      throw Error(name, std::string("dtype ") + c10::toString(type) +
                            " cannot be stored in safetensors");
  }
}

at::Tensor tensor_view(const SafetensorsFile& file, const TensorInfo& info) {
  const auto options = torch::TensorOptions().dtype(to_scalar_type(info.dtype));
  void* data = const_cast<std::byte*>(file.data(info));
  const auto alignment = dtype_size_bytes(info.dtype);
  if (reinterpret_cast<std::uintptr_t>(data) % alignment != 0) {
    return torch::from_blob(data, info.shape, options).clone();
  }
  auto keep_alive = file.mapping();
  return torch::from_blob(
      data, info.shape, [keep_alive](void*) mutable { keep_alive.reset(); }, options);
}

at::Tensor tensor_view(const SafetensorsFile& file, std::string_view name) {
  return tensor_view(file, file.at(name));
}

void add_tensor(SafetensorsWriter& writer, std::string name, const at::Tensor& tensor) {
  const DType dtype = from_scalar_type(tensor.scalar_type(), name);
  const at::Tensor cpu = tensor.to(torch::kCPU).contiguous();
  writer.add(std::move(name), dtype, cpu.sizes().vec(), cpu.data_ptr(),
             static_cast<std::size_t>(cpu.numel()) * cpu.element_size());
}

}  // namespace prefscore
