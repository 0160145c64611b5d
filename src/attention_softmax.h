// The softmax of one attention head's scores, written as the bf16 probabilities its context GEMM
// reads. oneDNN 2.6's softmax took ~40 µs per ViT-H head (257 × 257) inside the model on this CPU,
// about as long as either of the head's GEMMs; this one (AVX-512 where the CPU has it, std::exp
// elsewhere, the two within 1 bf16 ulp) takes ~28 µs there and ~25 µs alone, and it applies the
// text tower's causal mask itself (masked entries come out exactly 0).
#pragma once

#include <cstdint>

namespace prefscore {

// scores: [rows, cols] float32, row-major, already scaled by 1/√d; overwritten with exp(s − max).
// probs: [rows, cols] bf16 bits (round to nearest even): softmax of each row, in float32 then
// rounded. causal: row i sees columns 0..i only; the rest of its probabilities are 0 whatever the
// scores there hold. Any finite scores; a row with a NaN gives NaNs.
void softmax_rows_to_bf16(float* scores, uint16_t* probs, int64_t rows, int64_t cols, bool causal);

}  // namespace prefscore
