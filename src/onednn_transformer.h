// The residual blocks of a CLIP tower (pre-LN: x + attn(ln_1(x)), x + mlp(ln_2(x)); open_clip
// transformer.py ResidualAttentionBlock) for CPU bf16, on oneDNN primitives called directly
// rather than through ATen ops, because that is where bf16 time went (bench/bench_clip.cpp,
// docs-notes/h-perf.md): ATen adds linear biases in a separate pass, runs bf16 layer norm, GELU and
// adds without AVX-512, and copies q/k/v per head before its batched matmuls.
//
// Here each linear layer is one GEMM with weights reordered once at load into oneDNN's blocked
// layout, its bias, GELU and residual add fused as post-ops; attention reads q, k and v in place
// from the q/k/v GEMM output through strided descriptors, one (image, head) pair at a time per
// thread so that its scores stay in the core's L2 cache through the softmax (attention_softmax.h),
// and writes its output straight in the [tokens, heads × head_dim] layout the output projection
// reads. Numerically sensitive steps stay in fp32: the residual stream, layer-norm statistics, the
// attention scores and their softmax; only GEMM inputs are rounded to bf16.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "packed_weights_file.h"

namespace prefscore {

struct TransformerBlockWeights {
  at::Tensor ln1_w, ln1_b, in_w, in_b, out_w, out_b, ln2_w, ln2_b, fc_w, fc_b, proj_w, proj_b;
};

enum class MlpActivation { kGelu, kQuickGelu };



// What the blocks' four linear layers (q/k/v, output, MLP fc and proj) multiply in. kInt8: weights
// symmetric int8 with one scale per output channel (max|w| / 127), each layer's input quantised on
// every call with one scale per image (max|x| / 127 over its tokens), int32 accumulation
// (AVX512-VNNI), the scales, bias, GELU and residual add applied in the same GEMM. Attention, layer
// norms and the residual stream stay as in kBf16.
enum class LinearPrecision { kBf16, kInt8 };

class OnednnTransformer {
 public:
  // True when this build has oneDNN and its GEMM of that precision has a native (non-reference)
  // kernel on this CPU; otherwise the caller keeps its ATen path (bf16) or refuses (int8).
  static bool available(LinearPrecision precision = LinearPrecision::kBf16);

  // `tokens` is the sequence length every call uses (the model's fixed image tokens or context).
  // Weights in any float dtype, linear weights [out, in]. Each block's tensors are released as
  // soon as they are packed, so that loading never holds two copies of the tower; each linear
  // weight is also passed to `packed_hook` (when given) once its packed copy exists, for a caller
  // whose tensors are views of a mapped file to drop those pages.
  //
  // `packed`, a file of packed_layout()'s entries: when complete() (a cached file can_use()
  // accepted), each block's four linear weights (and int8 scales) are read from it in place and
  // those of `blocks` may be undefined; when not (just created), they are packed into it.
  OnednnTransformer(std::vector<TransformerBlockWeights> blocks, int64_t tokens, int64_t heads,
                    double layer_norm_eps, MlpActivation activation, bool causal,
                    LinearPrecision precision = LinearPrecision::kBf16,
                    const std::function<void(const at::Tensor&)>& packed_hook = nullptr,
                    std::shared_ptr<PackedWeightsFile> packed = nullptr);
  ~OnednnTransformer();

  // The entries (layouts and sizes, no data) of a packed-weights file for `layers` blocks of these
  // dims, as this build packs them on this CPU: per block the four linear weights in oneDNN's
  // layout, then (int8) their four weight-scale vectors.
  static std::vector<PackedWeightsFile::Entry> packed_layout(int64_t layers, int64_t tokens,
                                                              int64_t width, int64_t mlp_width,
                                                              MlpActivation activation,
                                                              LinearPrecision precision);
  // Whether `file` holds exactly packed_layout()'s entries; the reason when not.
  static bool can_use(const PackedWeightsFile& file, int64_t layers, int64_t tokens, int64_t width,
                      int64_t mlp_width, MlpActivation activation, LinearPrecision precision,
                      std::string* why);
  // The oneDNN version and the instruction set its kernels use here: what packed layouts depend
  // on besides the dims (part of a packed-weights file's key).
  static std::string packing_build();

  // x: [N, tokens, width] float32, contiguous: the residual stream, updated in place through every
  // block. When `hidden` is given, the output of each block is appended to it as bf16.
  void run(at::Tensor& x, std::vector<at::Tensor>* hidden) const;

 private:
  struct Layer;
  struct Plan;
  struct Workspace;
  const Plan& plan_for(int64_t batch) const;

  std::vector<Layer> layers_;
  int64_t tokens_, width_, mlp_width_, heads_;
  double eps_;
  MlpActivation activation_;
  bool causal_;
  LinearPrecision precision_;
  std::shared_ptr<const PackedWeightsFile> packed_file_;  // the mapping `layers_` point into
  mutable std::mutex plans_mutex_;
  mutable std::map<int64_t, std::unique_ptr<Plan>> plans_;  // primitives per batch size
  // run()'s buffers, kept from one call to the next (a call that finds none makes its own).
  mutable std::mutex workspace_mutex_;
  mutable std::unique_ptr<Workspace> idle_workspace_;
};

// One GEMM [m, k] x [k, n] on weights packed once, with the kernel the blocks use (bf16, or int8
// with runtime per-channel scales) and no other post-ops: the benchmark's reference for what a
// matrix multiplication of that precision can reach on this CPU.
class OnednnGemm {
 public:
  OnednnGemm(int64_t m, int64_t k, int64_t n, LinearPrecision precision = LinearPrecision::kBf16);
  ~OnednnGemm();
  void run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace prefscore
