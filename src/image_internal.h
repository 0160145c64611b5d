// Internal to the image module: small Pillow helpers and the windowed resize the pipelines share.
#pragma once

#include "pil_resample.h"
#include "prefscore/image.h"

namespace prefscore {

// Pillow ImagingUtils.h MULDIV255: round(a * b / 255) with integers.
inline uint8_t muldiv255(uint32_t a, uint32_t b) {
  const uint32_t tmp = a * b + 128;
  return static_cast<uint8_t>(((tmp >> 8) + tmp) >> 8);
}

// Pillow's CLIP8: clamp to [0, 255].
inline uint8_t clip8(int value) {
  return static_cast<uint8_t>(value <= 0 ? 0 : (value < 256 ? value : 255));
}

// A zero-filled image of `bands` bands (int32 pixels for mode "I").
inline PilImage make_image(PilMode mode, int width, int height, int bands) {
  PilImage image;
  image.mode = mode;
  image.width = width;
  image.height = height;
  image.bands = bands;
  const std::size_t pixels = static_cast<std::size_t>(width) * height;
  if (mode == PilMode::kI) {
    image.pixels_i32.resize(pixels);
  } else {
    image.pixels_u8.resize(pixels * bands);
  }
  return image;
}

// Pillow's Image.resize((width, height), BICUBIC) followed by crop(window): only the window is
// computed. Mode rules as pil_resize_bicubic.
PilImage pil_resize_window(const PilImage& image, int width, int height, const pil::Window& window);

// The CLIP normalization constants (OPENAI_DATASET_MEAN / _STD), as float32 like torchvision's
// Normalize and transformers' normalize use them.
constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

// normalize_clip and letterbox_hpsv2 writing into `chw` (3 x height x width floats).
void normalize_clip_into(const PilImage& rgb, float* chw);
void letterbox_hpsv2_into(const PilImage& image, int image_size, float* chw);

}  // namespace prefscore
