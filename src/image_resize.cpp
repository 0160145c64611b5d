// Pillow 9.4 Image.resize(size, BICUBIC) for every PIL mode the decoder produces
// (src/PIL/Image.py resize): same size -> copy; "1"/"P" -> NEAREST; "LA"/"RGBA" -> convert to the
// premultiplied "La"/"RGBa", resize, convert back (Convert.c lA2la/rgbA2rgba, la2lA/rgba2rgbA);
// "I" -> the 32-bit double path; other 8-bit modes band by band in fixed point.
#include <cstring>

#include "image_internal.h"

namespace prefscore {
namespace {

// rgbA2rgba / lA2la: colour bands times alpha / 255; the last band is alpha.
std::vector<uint8_t> premultiplied(const PilImage& image) {
  std::vector<uint8_t> out(image.pixels_u8);
  const int bands = image.bands;
  for (std::size_t i = 0; i < out.size(); i += bands) {
    const uint8_t alpha = out[i + bands - 1];
    for (int c = 0; c + 1 < bands; ++c) out[i + c] = muldiv255(out[i + c], alpha);
  }
  return out;
}

// rgba2rgbA / la2lA: undo the premultiplication; alpha 0 and 255 keep the stored values.
void unpremultiply(std::vector<uint8_t>& pixels, int bands) {
  for (std::size_t i = 0; i < pixels.size(); i += bands) {
    const uint32_t alpha = pixels[i + bands - 1];
    if (alpha == 0 || alpha == 255) continue;
    for (int c = 0; c + 1 < bands; ++c) {
      const uint32_t value = (255 * static_cast<uint32_t>(pixels[i + c])) / alpha;
      pixels[i + c] = static_cast<uint8_t>(value < 256 ? value : 255);
    }
  }
}

}  // namespace

PilImage pil_resize_window(const PilImage& image, int width, int height,
                           const pil::Window& window) {
  if (width == image.width && height == image.height) {
    return crop_image(image, window.x, window.y, window.width, window.height);
  }
  PilImage out;
  out.mode = image.mode;
  out.width = window.width;
  out.height = window.height;
  out.bands = image.bands;
  const std::size_t pixels = static_cast<std::size_t>(window.width) * window.height;
  switch (image.mode) {
    case PilMode::k1:
    case PilMode::kP:
      out.pixels_u8.resize(pixels * image.bands);
      pil::resize_nearest(image.pixels_u8.data(), image.width, image.height, image.bands, width,
                          height, window, out.pixels_u8.data());
      break;
    case PilMode::kI:
      out.pixels_i32.resize(pixels);
      pil::resample_i32(image.pixels_i32.data(), image.width, image.height, width, height, window,
                        out.pixels_i32.data());
      break;
    case PilMode::kLA:
    case PilMode::kRGBA: {
      const std::vector<uint8_t> premultiplied_pixels = premultiplied(image);
      out.pixels_u8.resize(pixels * image.bands);
      pil::resample_u8(premultiplied_pixels.data(), image.width, image.height, image.bands, width,
                       height, window, out.pixels_u8.data());
      unpremultiply(out.pixels_u8, image.bands);
      break;
    }
    default:
      out.pixels_u8.resize(pixels * image.bands);
      pil::resample_u8(image.pixels_u8.data(), image.width, image.height, image.bands, width,
                       height, window, out.pixels_u8.data());
      break;
  }
  return out;
}

PilImage pil_resize_bicubic(const PilImage& image, int width, int height) {
  return pil_resize_window(image, width, height, pil::Window{/*x=*/0, /*y=*/0, width, height});
}

}  // namespace prefscore
