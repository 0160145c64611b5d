// Pillow 9.4's per-pixel mode conversions to RGB (libImaging/Convert.c) and the geometry the
// pipelines use: crop, and the transpositions of PIL.ImageOps.exif_transpose.
#include <algorithm>

#include "image_internal.h"
#include "prefscore/image.h"

namespace prefscore {

std::string_view pil_mode_name(PilMode mode) {
  switch (mode) {
    case PilMode::k1:
      return "1";
    case PilMode::kL:
      return "L";
    case PilMode::kLA:
      return "LA";
    case PilMode::kP:
      return "P";
    case PilMode::kI:
      return "I";
    case PilMode::kRGB:
      return "RGB";
    case PilMode::kRGBA:
      return "RGBA";
    case PilMode::kCMYK:
      return "CMYK";
  }
  return "?";
}

PilImage convert_to_rgb(const PilImage& image) {
  PilImage rgb = make_image(PilMode::kRGB, image.width, image.height, /*bands=*/3);
  const std::size_t pixels = static_cast<std::size_t>(image.width) * image.height;
  uint8_t* out = rgb.pixels_u8.data();
  const uint8_t* in = image.pixels_u8.data();
  switch (image.mode) {
    case PilMode::kRGB:
    case PilMode::kP:
      std::copy(in, in + pixels * 3, out);
      break;
    case PilMode::k1:  // bit2rgb: stored as 0/255
    case PilMode::kL:
    case PilMode::kLA:  // la2rgb: the L band, alpha dropped
      for (std::size_t i = 0; i < pixels; ++i) {
        out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = in[i * image.bands];
      }
      break;
    case PilMode::kI:  // i2rgb: clipped to [0, 255], no scaling
      for (std::size_t i = 0; i < pixels; ++i) {
        const int32_t v = image.pixels_i32[i];
        out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = clip8(v);
      }
      break;
    case PilMode::kRGBA:  // rgba2rgb: alpha dropped, stored colours kept
      for (std::size_t i = 0; i < pixels; ++i) {
        out[3 * i] = in[4 * i];
        out[3 * i + 1] = in[4 * i + 1];
        out[3 * i + 2] = in[4 * i + 2];
      }
      break;
    case PilMode::kCMYK:  // cmyk2rgb
      for (std::size_t i = 0; i < pixels; ++i) {
        const uint32_t nk = 255 - in[4 * i + 3];
        for (int c = 0; c < 3; ++c) {
          out[3 * i + c] =
              clip8(static_cast<int>(nk) - static_cast<int>(muldiv255(in[4 * i + c], nk)));
        }
      }
      break;
  }
  return rgb;
}

PilImage crop_image(const PilImage& image, int left, int top, int width, int height) {
  PilImage out = make_image(image.mode, width, height, image.bands);
  for (int y = 0; y < height; ++y) {
    const std::size_t from = (static_cast<std::size_t>(top + y) * image.width + left);
    const std::size_t to = static_cast<std::size_t>(y) * width;
    if (image.mode == PilMode::kI) {
      std::copy_n(image.pixels_i32.begin() + from, width, out.pixels_i32.begin() + to);
    } else {
      std::copy_n(image.pixels_u8.begin() + from * image.bands,
                  static_cast<std::size_t>(width) * image.bands,
                  out.pixels_u8.begin() + to * image.bands);
    }
  }
  return out;
}

PilImage apply_exif_orientation(const PilImage& image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width;
  const int h = image.height;
  const bool swaps = orientation >= 5;
  PilImage out = make_image(image.mode, swaps ? h : w, swaps ? w : h, image.bands);
  const bool is_i = image.mode == PilMode::kI;
  const int bands = image.bands;
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x;
      int sy = y;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          break;  // FLIP_LEFT_RIGHT
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;  // ROTATE_180
        case 4:
          sy = h - 1 - y;
          break;  // FLIP_TOP_BOTTOM
        case 5:
          sx = y;
          sy = x;
          break;  // TRANSPOSE
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // ROTATE_270 (90 clockwise)
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // TRANSVERSE
        case 8:
          sx = w - 1 - y;
          sy = x;
          break;  // ROTATE_90 (counter-clockwise)
      }
      const std::size_t from = static_cast<std::size_t>(sy) * w + sx;
      const std::size_t to = static_cast<std::size_t>(y) * out.width + x;
      if (is_i) {
        out.pixels_i32[to] = image.pixels_i32[from];
      } else {
        std::copy_n(image.pixels_u8.begin() + from * bands, bands,
                    out.pixels_u8.begin() + to * bands);
      }
    }
  }
  return out;
}

}  // namespace prefscore
