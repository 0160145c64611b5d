// Pillow 9.4 resampling, bit-exact (see pil_resample.h for what is reproduced and the source).
// The 8-bit passes are written so that the compiler can vectorize them: the vertical pass
// accumulates whole rows, and the horizontal pass first transposes a batch of rows so that it,
// too, accumulates contiguous vectors. Integer arithmetic keeps this exact in any order; the
// AVX2 clones are picked at run time where the CPU has AVX2.
#include "pil_resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// Pillow computes its coefficients in double without fused multiply-adds; keep it that way under
// any -march (GCC contracts a * b + c in C++ wherever the target has FMA).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace prefscore::pil {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c PRECISION_BITS
constexpr int32_t kRoundingBias = 1 << (kPrecisionBits - 1);
// Rows transposed together by the horizontal pass: kBatchRows * bands accumulators per output.
constexpr int kBatchRows = 16;

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define PREFSCORE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PREFSCORE_VECTOR_CLONES
#endif

// Resample.c bicubic_filter.
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Resample.c ROUND_UP: half away from zero.
int32_t round_half_away(double value) {
  return static_cast<int32_t>(value >= 0.0 ? value + 0.5F : value - 0.5F);
}

uint8_t clip8(int32_t accumulator) {
  const int32_t value = accumulator >> kPrecisionBits;
  return static_cast<uint8_t>(value < 0 ? 0 : (value > 255 ? 255 : value));
}

// Adds `taps` rows of `n` bytes, `src` rows `src_stride` apart, weighted by `weights`, to the
// accumulators `acc`, then stores the clipped results to `out`.
PREFSCORE_VECTOR_CLONES
void weighted_rows_u8(const uint8_t* src, std::size_t src_stride, int taps, const int32_t* weights,
                      std::size_t n, int32_t* acc, uint8_t* out) {
  for (std::size_t i = 0; i < n; ++i) acc[i] = kRoundingBias;
  for (int t = 0; t < taps; ++t) {
    const uint8_t* row = src + t * src_stride;
    const int32_t w = weights[t];
    for (std::size_t i = 0; i < n; ++i) acc[i] += static_cast<int32_t>(row[i]) * w;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = clip8(acc[i]);
}

// ImagingResampleVertical_8bpc for output rows of `row_bytes` bytes; `src` points at the column
// the window starts in, of the input row `src_row0`.
void vertical_u8(const uint8_t* src, std::size_t src_stride, int src_row0, std::size_t row_bytes,
                 const AxisCoeffs& coeffs, uint8_t* out) {
  std::vector<int32_t> acc(row_bytes);
  const int rows = static_cast<int>(coeffs.first.size());
  for (int j = 0; j < rows; ++j) {
    const uint8_t* first_row = src + (coeffs.first[j] - src_row0) * src_stride;
    weighted_rows_u8(first_row, src_stride, coeffs.taps[j], &coeffs.fixed_weights[j * coeffs.ksize],
                     row_bytes, acc.data(), out + j * row_bytes);
  }
}

// ImagingResampleHorizontal_8bpc for `rows` rows of `Bands` bands. Each batch of kBatchRows rows
// is transposed to column-major (column x holds kBatchRows * Bands bytes), so that one output
// column is a weighted sum of contiguous input columns, like a vertical pass.
template <int Bands>
void horizontal_u8(const uint8_t* in, std::size_t in_stride, int rows, const AxisCoeffs& coeffs,
                   uint8_t* out) {
  const int out_columns = static_cast<int>(coeffs.first.size());
  const int column_begin = coeffs.first.front();
  const int columns_used = coeffs.first.back() + coeffs.taps.back() - column_begin;
  constexpr std::size_t kColumnBytes = static_cast<std::size_t>(kBatchRows) * Bands;
  std::vector<uint8_t> columns(static_cast<std::size_t>(columns_used) * kColumnBytes);
  int32_t acc[kColumnBytes];
  uint8_t result[kColumnBytes];
  const std::size_t out_stride = static_cast<std::size_t>(out_columns) * Bands;
  for (int row0 = 0; row0 < rows; row0 += kBatchRows) {
    const int batch = std::min(kBatchRows, rows - row0);
    for (int r = 0; r < batch; ++r) {
      const uint8_t* src =
          in + (row0 + r) * in_stride + static_cast<std::size_t>(column_begin) * Bands;
      uint8_t* dst = columns.data() + static_cast<std::size_t>(r) * Bands;
      for (int x = 0; x < columns_used; ++x) {
        std::memcpy(dst + x * kColumnBytes, src + x * Bands, Bands);
      }
    }
    for (int i = 0; i < out_columns; ++i) {
      const uint8_t* first = columns.data() + (coeffs.first[i] - column_begin) * kColumnBytes;
      weighted_rows_u8(first, kColumnBytes, coeffs.taps[i], &coeffs.fixed_weights[i * coeffs.ksize],
                       static_cast<std::size_t>(batch) * Bands, acc, result);
      uint8_t* dst = out + row0 * out_stride + static_cast<std::size_t>(i) * Bands;
      for (int r = 0; r < batch; ++r) std::memcpy(dst + r * out_stride, result + r * Bands, Bands);
    }
  }
}

void horizontal_u8(const uint8_t* in, std::size_t in_stride, int rows, int bands,
                   const AxisCoeffs& coeffs, uint8_t* out) {
  switch (bands) {
    case 1:
      return horizontal_u8<1>(in, in_stride, rows, coeffs, out);
    case 2:
      return horizontal_u8<2>(in, in_stride, rows, coeffs, out);
    case 3:
      return horizontal_u8<3>(in, in_stride, rows, coeffs, out);
    default:
      return horizontal_u8<4>(in, in_stride, rows, coeffs, out);
  }
}

// The input rows the vertical pass reads for `window` (all of them when the height is kept).
struct RowRange {
  int first = 0;
  int end = 0;
};

}  // namespace

AxisCoeffs bicubic_coeffs(int in_size, int out_size, int begin, int count) {
  constexpr double kSupport = 2.0;
  AxisCoeffs coeffs;
  // Pillow passes the box as floats: (double)(in1 - in0) / outSize.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = kSupport * filterscale;
  coeffs.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  coeffs.first.resize(count);
  coeffs.taps.resize(count);
  coeffs.weights.assign(static_cast<std::size_t>(count) * coeffs.ksize, 0.0);
  coeffs.fixed_weights.assign(coeffs.weights.size(), 0);
  const double inverse_filterscale = 1.0 / filterscale;
  for (int i = 0; i < count; ++i) {
    const int xx = begin + i;
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &coeffs.weights[static_cast<std::size_t>(i) * coeffs.ksize];
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * inverse_filterscale);
      k[x] = w;
      total += w;
    }
    int32_t* fixed = &coeffs.fixed_weights[static_cast<std::size_t>(i) * coeffs.ksize];
    for (int x = 0; x < xmax; ++x) {
      if (total != 0.0) k[x] /= total;
      fixed[x] = k[x] < 0 ? static_cast<int32_t>(-0.5 + k[x] * (1 << kPrecisionBits))
                          : static_cast<int32_t>(0.5 + k[x] * (1 << kPrecisionBits));
    }
    coeffs.first[i] = xmin;
    coeffs.taps[i] = xmax;
  }
  return coeffs;
}

void resample_u8(const uint8_t* in, int in_width, int in_height, int bands, int out_width,
                 int out_height, const Window& window, uint8_t* out) {
  const bool need_horizontal = out_width != in_width;
  const bool need_vertical = out_height != in_height;
  const std::size_t in_stride = static_cast<std::size_t>(in_width) * bands;
  const std::size_t row_bytes = static_cast<std::size_t>(window.width) * bands;
  AxisCoeffs vertical;
  RowRange rows{window.y, window.y + window.height};
  if (need_vertical) {
    vertical = bicubic_coeffs(in_height, out_height, window.y, window.height);
    rows = {vertical.first.front(), vertical.first.back() + vertical.taps.back()};
  }
  const uint8_t* src = in + rows.first * in_stride + static_cast<std::size_t>(window.x) * bands;
  std::size_t src_stride = in_stride;
  std::vector<uint8_t> temp;
  if (need_horizontal) {
    const AxisCoeffs horizontal = bicubic_coeffs(in_width, out_width, window.x, window.width);
    temp.resize(static_cast<std::size_t>(rows.end - rows.first) * row_bytes);
    horizontal_u8(in + rows.first * in_stride, in_stride, rows.end - rows.first, bands, horizontal,
                  temp.data());
    src = temp.data();
    src_stride = row_bytes;
  }
  if (need_vertical) {
    vertical_u8(src, src_stride, rows.first, row_bytes, vertical, out);
  } else {
    for (int j = 0; j < window.height; ++j) {
      std::memcpy(out + j * row_bytes, src + j * src_stride, row_bytes);
    }
  }
}

void resample_i32(const int32_t* in, int in_width, int in_height, int out_width, int out_height,
                  const Window& window, int32_t* out) {
  const bool need_horizontal = out_width != in_width;
  const bool need_vertical = out_height != in_height;
  AxisCoeffs vertical;
  RowRange rows{window.y, window.y + window.height};
  if (need_vertical) {
    vertical = bicubic_coeffs(in_height, out_height, window.y, window.height);
    rows = {vertical.first.front(), vertical.first.back() + vertical.taps.back()};
  }
  const int32_t* src = in + static_cast<std::size_t>(rows.first) * in_width + window.x;
  std::size_t src_stride = in_width;
  std::vector<int32_t> temp;
  if (need_horizontal) {
    const AxisCoeffs h = bicubic_coeffs(in_width, out_width, window.x, window.width);
    temp.resize(static_cast<std::size_t>(rows.end - rows.first) * window.width);
    for (int y = rows.first; y < rows.end; ++y) {
      const int32_t* row = in + static_cast<std::size_t>(y) * in_width;
      for (int i = 0; i < window.width; ++i) {
        const double* k = &h.weights[static_cast<std::size_t>(i) * h.ksize];
        double sum = 0.0;
        for (int t = 0; t < h.taps[i]; ++t) sum += row[h.first[i] + t] * k[t];
        temp[static_cast<std::size_t>(y - rows.first) * window.width + i] = round_half_away(sum);
      }
    }
    src = temp.data();
    src_stride = window.width;
  }
  for (int j = 0; j < window.height; ++j) {
    int32_t* dst = out + static_cast<std::size_t>(j) * window.width;
    if (!need_vertical) {
      std::memcpy(dst, src + j * src_stride, window.width * sizeof(int32_t));
      continue;
    }
    const double* k = &vertical.weights[static_cast<std::size_t>(j) * vertical.ksize];
    const int32_t* first = src + (vertical.first[j] - rows.first) * src_stride;
    for (int i = 0; i < window.width; ++i) {
      double sum = 0.0;
      for (int t = 0; t < vertical.taps[j]; ++t) sum += first[t * src_stride + i] * k[t];
      dst[i] = round_half_away(sum);
    }
  }
}

void resize_nearest(const uint8_t* in, int in_width, int in_height, int pixel_bytes, int out_width,
                    int out_height, const Window& window, uint8_t* out) {
  // Geometry.c ImagingScaleAffine with a[0] = in/out (from float box sides), positions
  // accumulated from a[0] * 0.5 in steps of a[0]; COORD truncates, negatives become -1.
  // The positions are sums of all earlier steps, so they are accumulated from 0 even where only
  // the window's are kept.
  auto source_indices = [](int in_size, int out_size, int begin, int count) {
    const double step = static_cast<double>(static_cast<float>(in_size)) / out_size;
    std::vector<int> index(count);
    double position = step * 0.5;
    for (int i = 0; i < begin + count; ++i) {
      if (i >= begin) {
        const int source = position < 0.0 ? -1 : static_cast<int>(position);
        index[i - begin] = source < in_size ? source : -1;
      }
      position += step;
    }
    return index;
  };
  const std::vector<int> xs = source_indices(in_width, out_width, window.x, window.width);
  const std::vector<int> ys = source_indices(in_height, out_height, window.y, window.height);
  const std::size_t in_stride = static_cast<std::size_t>(in_width) * pixel_bytes;
  for (int j = 0; j < window.height; ++j) {
    uint8_t* dst = out + static_cast<std::size_t>(j) * window.width * pixel_bytes;
    const int y = ys[j];
    for (int i = 0; i < window.width; ++i) {
      const int x = xs[i];
      if (y < 0 || x < 0) {
        std::memset(dst + i * pixel_bytes, 0, pixel_bytes);
      } else {
        std::memcpy(dst + i * pixel_bytes, in + y * in_stride + x * pixel_bytes, pixel_bytes);
      }
    }
  }
}

}  // namespace prefscore::pil
