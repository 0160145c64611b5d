// The openclip and hf pipelines (resize the short side, center crop, ToTensor + Normalize), the
// size and crop rules they use, and the entry points for all three pipelines. References:
// torchvision 0.14 transforms/functional.py (_compute_resized_output_size, center_crop),
// transformers 4.39 image_transforms.py (get_resize_output_image_size, center_crop) and
// CLIPImageProcessor.preprocess, open_clip transform.py image_transform.
#include <cmath>
#include <limits>

#include "image_internal.h"
#include "prefscore/error.h"
#include "prefscore/image.h"

namespace prefscore {

ImageSize shortest_side_size(int width, int height, int shortest) {
  const bool portrait = width <= height;
  const int64_t short_side = portrait ? width : height;
  const int64_t long_side = portrait ? height : width;
  // Python: int(shortest * long / short), a true division of exact integers, truncated.
  const double new_long =
      std::trunc(static_cast<double>(shortest * long_side) / static_cast<double>(short_side));
  if (new_long > std::numeric_limits<int>::max()) {
    throw Error("", "image is " + std::to_string(width) + "x" + std::to_string(height) +
                        ": resizing its short side to " + std::to_string(shortest) +
                        " makes the long side " + std::to_string(static_cast<int64_t>(new_long)) +
                        " pixels, more than PIL can resize to");
  }
  const int long_pixels = static_cast<int>(new_long);
  return portrait ? ImageSize{shortest, long_pixels} : ImageSize{long_pixels, shortest};
}

ImageSize longest_side_size(int width, int height, int longest) {
  const double scale = longest / static_cast<double>(std::max(width, height));
  // Python round() of a float: nearest, ties to even (std::nearbyint in the default rounding mode).
  return ImageSize{static_cast<int>(std::nearbyint(width * scale)),
                   static_cast<int>(std::nearbyint(height * scale))};
}

int center_crop_offset_torchvision(int size, int crop) {
  return static_cast<int>(std::nearbyint((size - crop) / 2.0));
}

int center_crop_offset_floor(int size, int crop) {
  const int excess = size - crop;
  return excess >= 0 ? excess / 2 : -((1 - excess) / 2);
}

std::string_view pipeline_name(Pipeline pipeline) {
  switch (pipeline) {
    case Pipeline::kOpenClip:
      return "openclip";
    case Pipeline::kHf:
      return "hf";
    case Pipeline::kHpsv2:
      return "hpsv2";
  }
  return "?";
}

bool parse_pipeline(std::string_view name, Pipeline* pipeline) {
  for (Pipeline p : {Pipeline::kOpenClip, Pipeline::kHf, Pipeline::kHpsv2}) {
    if (name == pipeline_name(p)) {
      *pipeline = p;
      return true;
    }
  }
  return false;
}

PilImage resize_and_crop(const PilImage& image, Pipeline pipeline, int image_size) {
  if (pipeline == Pipeline::kHpsv2) {
    throw Error("", "the hpsv2 pipeline letterboxes instead of cropping; use letterbox_hpsv2");
  }
  // transformers converts to RGB before resizing; open_clip resizes in the image's own mode.
  PilImage converted;
  const bool convert_first = pipeline == Pipeline::kHf && image.mode != PilMode::kRGB;
  if (convert_first) converted = convert_to_rgb(image);
  const PilImage& source = convert_first ? converted : image;
  const ImageSize resized = shortest_side_size(source.width, source.height, image_size);
  const bool torchvision = pipeline == Pipeline::kOpenClip;
  pil::Window window;
  window.x = torchvision ? center_crop_offset_torchvision(resized.width, image_size)
                         : center_crop_offset_floor(resized.width, image_size);
  window.y = torchvision ? center_crop_offset_torchvision(resized.height, image_size)
                         : center_crop_offset_floor(resized.height, image_size);
  window.width = image_size;
  window.height = image_size;
  PilImage cropped = pil_resize_window(source, resized.width, resized.height, window);
  return cropped.mode == PilMode::kRGB ? cropped : convert_to_rgb(cropped);
}

void normalize_clip_into(const PilImage& rgb, float* chw) {
  // torchvision: uint8 -> float32 / 255, then (x - mean) / std in float32. transformers computes
  // x * (1/255) in float64 and casts to float32: the same 256 values (checked in the tests).
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      table[c][v] = (static_cast<float>(v) / 255.0f - kClipMean[c]) / kClipStd[c];
    }
  }
  const std::size_t plane = static_cast<std::size_t>(rgb.width) * rgb.height;
  const uint8_t* in = rgb.pixels_u8.data();
  for (std::size_t i = 0; i < plane; ++i) {
    chw[i] = table[0][in[3 * i]];
    chw[plane + i] = table[1][in[3 * i + 1]];
    chw[2 * plane + i] = table[2][in[3 * i + 2]];
  }
}

PixelValues normalize_clip(const PilImage& rgb) {
  PixelValues out;
  out.channels = 3;
  out.height = rgb.height;
  out.width = rgb.width;
  out.chw.resize(3 * static_cast<std::size_t>(rgb.width) * rgb.height);
  normalize_clip_into(rgb, out.chw.data());
  return out;
}

PixelValues preprocess_image(const PilImage& image, const PreprocessOptions& options) {
  if (options.pipeline == Pipeline::kHpsv2) return letterbox_hpsv2(image, options.image_size);
  return normalize_clip(resize_and_crop(image, options.pipeline, options.image_size));
}

namespace {

// Errors of the pipeline itself (e.g. a size PIL cannot resize to) name no file; name it.
template <typename F>
auto naming_path(const std::string& path, F&& run) {
  try {
    return run();
  } catch (const Error& e) {
    if (!e.path().empty()) throw;
    throw Error(path, e.reason());
  }
}

}  // namespace

PixelValues preprocess_file(const std::string& path, const PreprocessOptions& options) {
  const PilImage image = load_image(path, options.decode);
  return naming_path(path, [&] { return preprocess_image(image, options); });
}

void preprocess_image_into(const PilImage& image, const PreprocessOptions& options,
                           const std::string& path, float* chw) {
  naming_path(path, [&] {
    if (options.pipeline == Pipeline::kHpsv2) {
      letterbox_hpsv2_into(image, options.image_size, chw);
    } else {
      normalize_clip_into(resize_and_crop(image, options.pipeline, options.image_size), chw);
    }
  });
}

}  // namespace prefscore
