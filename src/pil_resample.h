// Port of Pillow 9.4's resampling (src/libImaging/Resample.c: precompute_coeffs,
// normalize_coeffs_8bpc, ImagingResample{Horizontal,Vertical}_{8bpc,32bpc}, ImagingResampleInner;
// src/libImaging/Geometry.c ImagingScaleAffine for NEAREST), bit-exact:
// - BICUBIC kernel with a = -0.5 and support 2, stretched by the downscale factor (antialiasing);
// - the horizontal pass first (only if the width changes), then the vertical pass (only if the
//   height changes);
// - 8-bit images: weights in 22-bit fixed point, accumulator starting at 2^21, result clipped to
//   [0, 255]; the intermediate image is 8-bit;
// - 32-bit "I" images: double weights and sums, rounded half away from zero per pass.
// Unlike Pillow, only a window of the output is computed (each output pixel depends only on the
// coefficients of its row and column, so the window equals the same region of Pillow's full
// output): the pipelines crop right after resizing.
#pragma once

#include <cstdint>
#include <vector>

namespace prefscore::pil {

// A region of the full out_width x out_height resize result.
struct Window {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// Coefficients of one axis for the outputs [begin, begin + count) of a resize from in_size to
// out_size: output i reads inputs first[i] .. first[i] + taps[i] - 1 with weights[i * ksize + t].
struct AxisCoeffs {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> taps;
  std::vector<double> weights;         // normalized to sum 1 (Pillow's double coefficients)
  std::vector<int32_t> fixed_weights;  // normalize_coeffs_8bpc: round(w * 2^22), half away from 0
};
AxisCoeffs bicubic_coeffs(int in_size, int out_size, int begin, int count);

// Bicubic resize of an 8-bit image with `bands` interleaved bands (1 to 4) to out_width x
// out_height, writing `window` (window.width * window.height * bands bytes) to `out`.
void resample_u8(const uint8_t* in, int in_width, int in_height, int bands, int out_width,
                 int out_height, const Window& window, uint8_t* out);
// The same for a one-band int32 image (Pillow mode "I").
void resample_i32(const int32_t* in, int in_width, int in_height, int out_width, int out_height,
                  const Window& window, int32_t* out);
// Pillow's NEAREST resize (used for modes "1" and "P"), pixels of `pixel_bytes` bytes.
void resize_nearest(const uint8_t* in, int in_width, int in_height, int pixel_bytes, int out_width,
                    int out_height, const Window& window, uint8_t* out);

}  // namespace prefscore::pil
