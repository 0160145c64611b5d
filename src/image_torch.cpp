// Batching of preprocessed images (see image_torch.h).
#include "prefscore/image_torch.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "prefscore/error.h"

namespace prefscore {

at::Tensor stack_pixel_values(const std::vector<PixelValues>& images) {
  if (images.empty()) throw Error("pixel_values", "no images to stack, need at least one");
  const PixelValues& first = images.front();
  const int64_t n = static_cast<int64_t>(images.size());
  at::Tensor batch = torch::empty({n, first.channels, first.height, first.width}, torch::kFloat32);
  const std::size_t per_image = first.chw.size();
  float* out = batch.data_ptr<float>();
  for (std::size_t i = 0; i < images.size(); ++i) {
    const PixelValues& image = images[i];
    if (image.channels != first.channels || image.height != first.height ||
        image.width != first.width || image.chw.size() != per_image) {
      throw Error("pixel_values",
                  "image " + std::to_string(i) + " is [" + std::to_string(image.channels) + ", " +
                      std::to_string(image.height) + ", " + std::to_string(image.width) +
                      "], expected [" + std::to_string(first.channels) + ", " +
                      std::to_string(first.height) + ", " + std::to_string(first.width) +
                      "] like image 0");
    }
    std::copy(image.chw.begin(), image.chw.end(), out + i * per_image);
  }
  return batch;
}

}  // namespace prefscore
