// HPSv2's evaluation preprocess (HPSv2 commit 866735e, hpsv2/src/open_clip/transform.py
// ResizeMaxSize; img_score.py gets it from create_model_and_transforms(light_augmentation=True)):
// convert("RGB"), ToTensor, then torchvision 0.14 F.resize of the float tensor, i.e. torch 1.13
// upsample_bicubic2d (aten/src/ATen/native/cpu/UpSampleKernel.cpp: HelperInterpCubic,
// cpu_upsample_generic; aten/src/ATen/native/UpSample.h: the coefficients): cubic convolution with
// A = -0.75, 4 taps per axis, no antialiasing, align_corners=False, border indices clamped, float32;
// then F.pad with zeros (left/top = pad // 2) and Normalize.
#include <cmath>

#include "image_internal.h"

#include "prefscore/error.h"
#include "prefscore/image.h"

// The float results depend on which products are fused: only the std::fma calls below are, under
// any -march.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define PREFSCORE_FMA_CLONES __attribute__((target_clones("fma", "default")))
#else
#define PREFSCORE_FMA_CLONES
#endif

namespace prefscore {
namespace {

// UpSample.h cubic_convolution1/2 in float, with the fused multiply-adds the official binaries
// contain: GCC contracted ((A * x - 5A) * x + 8A) into two fmas, and nothing in
// cubic_convolution1 (found by matching LibTorch 1.13's weights, which the fixtures' pip build
// shares bit for bit).
float cubic_convolution1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
float cubic_convolution2(float x, float a) {
  return std::fma(std::fma(a, x, -5 * a), x, 8 * a) * x - 4 * a;
}

struct CubicTaps {
  int index[4];
  float weight[4];
};

// Per output index: the 4 clamped source indices and weights of one axis.
std::vector<CubicTaps> cubic_taps(int in_size, int out_size) {
  constexpr float kA = -0.75f;
  // area_pixel_compute_scale (align_corners=False, no scale given): float(in) / out.
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  std::vector<CubicTaps> taps(out_size);
  for (int i = 0; i < out_size; ++i) {
    // area_pixel_compute_source_index(cubic=true), no clamping of negative positions. The float
    // scale times (i + 0.5) is not rounded to float before the integer part is taken off: the
    // binary keeps the position in double precision (measured against LibTorch).
    const double real_index = static_cast<double>(scale) * (i + 0.5) - 0.5;
    const int64_t input_index = static_cast<int64_t>(std::floor(real_index));
    const float t = static_cast<float>(real_index - static_cast<double>(input_index));
    CubicTaps& tap = taps[i];
    tap.weight[0] = cubic_convolution2(t + 1.0f, kA);
    tap.weight[1] = cubic_convolution1(t, kA);
    tap.weight[2] = cubic_convolution1(1.0f - t, kA);
    tap.weight[3] = cubic_convolution2((1.0f - t) + 1.0f, kA);
    for (int j = 0; j < 4; ++j) {
      const int64_t index = input_index - 1 + j;
      tap.index[j] = static_cast<int>(std::max<int64_t>(std::min<int64_t>(index, in_size - 1), 0));
    }
  }
  return taps;
}

// cpu_upsample_generic's Interpolate<2> / Interpolate<1> sums as compiled: the first two products
// contracted into fma(p0, w0, p1 * w1), then fma(p2, w2, .), fma(p3, w3, .); height taps outside,
// width taps inside. The FMA clone runs the fused multiply-adds in hardware; the default clone
// gets them from libm, with the same results.
PREFSCORE_FMA_CLONES
void bicubic_plane(const uint8_t* pixels, std::size_t stride, int band, const float* to_unit,
                   const std::vector<CubicTaps>& xs, const std::vector<CubicTaps>& ys, float* out,
                   std::size_t out_stride) {
  for (std::size_t y = 0; y < ys.size(); ++y) {
    const CubicTaps& ty = ys[y];
    const uint8_t* rows[4];
    for (int j = 0; j < 4; ++j) rows[j] = pixels + ty.index[j] * stride + band;
    for (std::size_t x = 0; x < xs.size(); ++x) {
      const CubicTaps& tx = xs[x];
      float inner[4];
      for (int j = 0; j < 4; ++j) {
        const uint8_t* row = rows[j];
        float sum = std::fma(to_unit[row[3 * tx.index[0]]], tx.weight[0],
                             to_unit[row[3 * tx.index[1]]] * tx.weight[1]);
        sum = std::fma(to_unit[row[3 * tx.index[2]]], tx.weight[2], sum);
        inner[j] = std::fma(to_unit[row[3 * tx.index[3]]], tx.weight[3], sum);
      }
      float value = std::fma(inner[0], ty.weight[0], inner[1] * ty.weight[1]);
      value = std::fma(inner[2], ty.weight[2], value);
      out[y * out_stride + x] = std::fma(inner[3], ty.weight[3], value);
    }
  }
}

}  // namespace

PixelValues letterbox_hpsv2(const PilImage& image, int image_size) {
  PixelValues out;
  out.channels = 3;
  out.height = image_size;
  out.width = image_size;
  out.chw.resize(3 * static_cast<std::size_t>(image_size) * image_size);
  letterbox_hpsv2_into(image, image_size, out.chw.data());
  return out;
}

void letterbox_hpsv2_into(const PilImage& image, int image_size, float* chw) {
  PilImage converted;
  const bool convert = image.mode != PilMode::kRGB;
  if (convert) converted = convert_to_rgb(image);
  const PilImage& rgb = convert ? converted : image;
  // scale == 1.0 (longest side already image_size): HPSv2 neither resizes nor pads.
  const bool resize = std::max(rgb.width, rgb.height) != image_size;
  const ImageSize size = resize ? longest_side_size(rgb.width, rgb.height, image_size)
                                : ImageSize{rgb.width, rgb.height};
  if (size.width < 1 || size.height < 1 || size.width > image_size || size.height > image_size) {
    throw Error("", "image is " + std::to_string(rgb.width) + "x" + std::to_string(rgb.height) +
                        ": scaling its longest side to " + std::to_string(image_size) + " gives " +
                        std::to_string(size.width) + "x" + std::to_string(size.height) +
                        " pixels, need at least 1x1");
  }
  const int left = (image_size - size.width) / 2;
  const int top = (image_size - size.height) / 2;

  // ToTensor: x / 255 in float32, by table.
  float to_unit[256];
  for (int v = 0; v < 256; ++v) to_unit[v] = static_cast<float>(v) / 255.0f;

  const std::size_t plane = static_cast<std::size_t>(image_size) * image_size;
  for (int c = 0; c < 3; ++c) {
    const float padding = (0.0f - kClipMean[c]) / kClipStd[c];
    std::fill(chw + c * plane, chw + (c + 1) * plane, padding);
  }
  const uint8_t* pixels = rgb.pixels_u8.data();
  const std::size_t stride = static_cast<std::size_t>(rgb.width) * 3;
  auto store = [&](int c, int y, int x, float value) {
    chw[c * plane + static_cast<std::size_t>(top + y) * image_size + left + x] =
        (value - kClipMean[c]) / kClipStd[c];
  };
  if (!resize) {
    for (int y = 0; y < size.height; ++y) {
      for (int x = 0; x < size.width; ++x) {
        for (int c = 0; c < 3; ++c) store(c, y, x, to_unit[pixels[y * stride + 3 * x + c]]);
      }
    }
    return;
  }
  const std::vector<CubicTaps> xs = cubic_taps(rgb.width, size.width);
  const std::vector<CubicTaps> ys = cubic_taps(rgb.height, size.height);
  std::vector<float> resized(static_cast<std::size_t>(size.width) * size.height);
  for (int c = 0; c < 3; ++c) {
    bicubic_plane(pixels, stride, c, to_unit, xs, ys, resized.data(), size.width);
    for (int y = 0; y < size.height; ++y) {
      for (int x = 0; x < size.width; ++x) store(c, y, x, resized[y * size.width + x]);
    }
  }
}

}  // namespace prefscore
