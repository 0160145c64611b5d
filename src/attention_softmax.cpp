#include "attention_softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bf16_bits.h"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 intrinsics start from a self-initialised "undefined" vector, which
// -Wmaybe-uninitialized reports wherever they inline (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define PREFSCORE_SOFTMAX_AVX512 1
#endif

namespace prefscore {

namespace {

// Any CPU: the same steps with std::exp.
void softmax_rows_portable(float* scores, uint16_t* probs, int64_t rows, int64_t cols,
                           bool causal) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = scores + r * cols;
    uint16_t* out = probs + r * cols;
    const int64_t n = causal ? std::min(r + 1, cols) : cols;
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) max = std::max(max, row[j]);
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) {
      row[j] = std::exp(row[j] - max);
      sum += row[j];
    }
    const float inv_sum = 1.f / sum;
    for (int64_t j = 0; j < n; ++j) out[j] = to_bf16(row[j] * inv_sum);
    std::fill(out + n, out + cols, uint16_t{0});
  }
}

#if PREFSCORE_SOFTMAX_AVX512

#define PREFSCORE_AVX512 __attribute__((target("avx512f")))

// exp(x) for x ≤ 0 (scores minus their row's max), float32 to ~1 ulp: Cephes' expf. x = n·ln2 + r
// with |r| ≤ ln2/2 (ln2 in two parts, so that n·ln2 is exact), a degree-7 polynomial for e^r, and
// vscalefps for the 2^n, which also gives the subnormal results. Below −104 the true value rounds
// to 0 in float32, and 0 is returned (also for −inf); NaN stays NaN.
PREFSCORE_AVX512 inline __m512 exp_nonpositive(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-104.f), _CMP_LT_OQ);
  return _mm512_maskz_scalef_ps(static_cast<__mmask16>(~underflow), p, n);
}

// 16 floats -> bf16 bits, round to nearest even, NaN kept NaN (as to_bf16), in 32-bit lanes.
PREFSCORE_AVX512 inline __m512i to_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
}

PREFSCORE_AVX512 inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff)
                 : static_cast<__mmask16>((1u << std::max<int64_t>(n, 0)) - 1u);
}

PREFSCORE_AVX512 void softmax_rows_avx512(float* scores, uint16_t* probs, int64_t rows,
                                          int64_t cols, bool causal) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = scores + r * cols;
    uint16_t* out = probs + r * cols;
    const int64_t n = causal ? std::min(r + 1, cols) : cols;
    __m512 max = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = first_lanes(n - j);
      max = _mm512_mask_max_ps(max, m, max, _mm512_maskz_loadu_ps(m, row + j));
    }
    const __m512 row_max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 m = first_lanes(n - j);
      const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), row_max));
      _mm512_mask_storeu_ps(row + j, m, e);
      sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    const __m512 inv_sum = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(sum));
    for (int64_t j = 0; j < cols; j += 16) {
      const __m512 p = _mm512_maskz_mul_ps(first_lanes(n - j),
                                           _mm512_maskz_loadu_ps(first_lanes(n - j), row + j),
                                           inv_sum);
      _mm512_mask_cvtepi32_storeu_epi16(out + j, first_lanes(cols - j), to_bf16(p));
    }
  }
}

#endif  // PREFSCORE_SOFTMAX_AVX512

}  // namespace

void softmax_rows_to_bf16(float* scores, uint16_t* probs, int64_t rows, int64_t cols,
                          bool causal) {
#if PREFSCORE_SOFTMAX_AVX512
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) return softmax_rows_avx512(scores, probs, rows, cols, causal);
#endif
  softmax_rows_portable(scores, probs, rows, cols, causal);
}

}  // namespace prefscore
