// The LibTorch side of image.h: batching preprocessed images into the model's input tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "prefscore/image.h"

namespace prefscore {

// Stacks images of equal shape [C, H, W] into a float32 CPU tensor [N, C, H, W] (a copy).
// Throws Error("pixel_values", ...) when the list is empty or the shapes differ.
at::Tensor stack_pixel_values(const std::vector<PixelValues>& images);

}  // namespace prefscore
