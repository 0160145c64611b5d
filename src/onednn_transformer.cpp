#include "onednn_transformer.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "attention_softmax.h"
#include "bf16_bits.h"
#include "packed_weights_file.h"
#include "prefscore/error.h"

#if PREFSCORE_HAVE_ONEDNN
#include <dnnl.hpp>
#endif

namespace prefscore {

// The buffers of one run() call, reused by later calls instead of allocated on each: buffers of
// 1 MiB and more come from mmap (src/cli/main.cpp), so each call's q/k/v, MLP and other buffers
// (24 MB for 4 ViT-H images) were fresh pages, and on a VM every first touch of a page is a costly
// fault (reusing them took a call's minor faults from ~15,300 to ~9,300). The CLI's
// reuse_cpu_buffers() now keeps such blocks for every tensor; the workspace came first and stays,
// as it does not depend on that process-wide allocator being installed (a library user may not).
struct OnednnTransformer::Workspace {
  std::vector<at::Tensor> buffers;  // bytes, in the order run() asks for them; grown as needed
  size_t next = 0;

  // A contiguous tensor of that shape and type on the next buffer, valid until the next call.
  at::Tensor take(at::IntArrayRef shape, c10::ScalarType type) {
    int64_t bytes = static_cast<int64_t>(c10::elementSize(type));
    for (int64_t d : shape) bytes *= d;
    if (next == buffers.size()) buffers.emplace_back();
    at::Tensor& buffer = buffers[next++];
    if (!buffer.defined() || buffer.numel() < bytes) {
      buffer = torch::empty({std::max<int64_t>(bytes, 1)}, torch::kByte);
    }
    return torch::from_blob(buffer.data_ptr(), shape, torch::TensorOptions().dtype(type));
  }
};

#if PREFSCORE_HAVE_ONEDNN

namespace {

using dnnl::memory;
using Dims = memory::dims;
using DataType = memory::data_type;
using Tag = memory::format_tag;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

bool is_reference_impl(const dnnl::primitive_desc& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

// Layer norm of each row of x (float32) with float32 statistics, written as bf16: the GEMM input.
// Compiled for AVX-512 and AVX2 besides the baseline, picked at load time (GCC target_clones).
__attribute__((target_clones("avx512f", "avx2", "default"))) void layer_norm_rows_to_bf16(
    const float* x, const float* gamma, const float* beta, uint16_t* out, int64_t rows,
    int64_t width, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * width;
    // 16 partial sums, so that the compiler vectorises the reductions without -ffast-math.
    constexpr int kLanes = 16;
    float sum[kLanes] = {}, sq[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= width; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) sum[l] += row[i + l];
    }
    for (; i < width; ++i) sum[0] += row[i];
    float total = 0.f;
    for (int l = 0; l < kLanes; ++l) total += sum[l];
    const float mean = total / static_cast<float>(width);
    for (i = 0; i + kLanes <= width; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) sq[l] += (row[i + l] - mean) * (row[i + l] - mean);
    }
    for (; i < width; ++i) sq[0] += (row[i] - mean) * (row[i] - mean);
    float total_sq = 0.f;
    for (int l = 0; l < kLanes; ++l) total_sq += sq[l];
    const float inv_std = 1.f / std::sqrt(total_sq / static_cast<float>(width) + eps);
    uint16_t* o = out + r * width;
    for (i = 0; i < width; ++i) o[i] = to_bf16((row[i] - mean) * inv_std * gamma[i] + beta[i]);
  }
}

void layer_norm_to_bf16(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
                        float eps, at::Tensor& out) {
  const int64_t rows = x.numel() / x.size(-1), width = x.size(-1);
  const float* xp = x.data_ptr<float>();
  uint16_t* op = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  at::parallel_for(0, rows, /*grain_size=*/16, [&](int64_t begin, int64_t end) {
    layer_norm_rows_to_bf16(xp + begin * width, gamma.data_ptr<float>(), beta.data_ptr<float>(),
                            op + begin * width, end - begin, width, eps);
  });
}

// max |x| over n bf16 values; NaN when any value is NaN (std::max alone would skip NaNs, and
// quantising would then turn them into numbers).
__attribute__((target_clones("avx512f", "avx2", "default"))) float abs_max_bf16(const uint16_t* x,
                                                                               int64_t n) {
  constexpr int kLanes = 16;
  float m[kLanes] = {};
  int nan[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float v = std::fabs(from_bf16(x[i + l]));
      m[l] = std::max(m[l], v);
      nan[l] |= v != v;
    }
  }
  for (; i < n; ++i) {
    const float v = std::fabs(from_bf16(x[i]));
    m[0] = std::max(m[0], v);
    nan[0] |= v != v;
  }
  float out = 0.f;
  for (int l = 0; l < kLanes; ++l) {
    if (nan[l]) return std::numeric_limits<float>::quiet_NaN();
    out = std::max(out, m[l]);
  }
  return out;
}

// round(x · inv_scale) to the nearest (halves away from zero), clamped to the symmetric int8
// range [-127, 127] the per-channel weight scales assume.
__attribute__((target_clones("avx512f", "avx2", "default"))) void quantize_bf16_to_s8(
    const uint16_t* x, int8_t* out, int64_t n, float inv_scale) {
  for (int64_t i = 0; i < n; ++i) {
    float v = from_bf16(x[i]) * inv_scale;
    v = std::min(127.f, std::max(-127.f, v));
    out[i] = static_cast<int8_t>(static_cast<int>(v + (v >= 0.f ? 0.5f : -0.5f)));
  }
}

// The scale that maps [-max_abs, max_abs] onto the symmetric int8 range; 1 when all are zero.
float symmetric_int8_scale(float max_abs) { return max_abs > 0.f ? max_abs / 127.f : 1.f; }

// Dynamic symmetric quantisation of n bf16 values: writes int8 into `op` and returns the scale
// (max|x| / 127; 1 when all are zero), so that x ≈ scale · out.
float quantize_block(const uint16_t* xp, int8_t* op, int64_t n) {
  constexpr int64_t kGrain = 1 << 16;
  std::vector<float> chunk_max((n + kGrain - 1) / kGrain, 0.f);
  at::parallel_for(0, static_cast<int64_t>(chunk_max.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      chunk_max[c] = abs_max_bf16(xp + c * kGrain, std::min(kGrain, n - c * kGrain));
    }
  });
  float max_abs = 0.f;
  for (float m : chunk_max) max_abs = std::isnan(m) ? m : std::max(max_abs, m);
  if (!std::isfinite(max_abs)) {
    throw Error("OnednnTransformer", "int8: a layer input is not finite; use --precision bf16");
  }
  const float scale = symmetric_int8_scale(max_abs);
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    quantize_bf16_to_s8(xp + begin, op + begin, end - begin, 1.f / scale);
  });
  return scale;
}

// Symmetric int8 per output channel: row n of the bf16 [N, K] matrix `w` becomes q[n, :] with
// w[n, :] ≈ scale[n] · q[n, :], scale[n] = max|w[n, :]| / 127.
void quantize_weight_rows(const at::Tensor& w, at::Tensor& q, at::Tensor& scale) {
  const int64_t rows = w.size(0), cols = w.size(1);
  q = torch::empty({rows, cols}, torch::kChar);
  scale = torch::empty({rows}, torch::kFloat32);
  const auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr<at::BFloat16>());
  auto* qp = q.data_ptr<int8_t>();
  float* sp = scale.data_ptr<float>();
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float max_abs = abs_max_bf16(wp + r * cols, cols);
      if (!std::isfinite(max_abs)) {
        throw Error("--precision int8", "a linear weight is not finite (NaN or infinity)");
      }
      sp[r] = symmetric_int8_scale(max_abs);
      quantize_bf16_to_s8(wp + r * cols, qp + r * cols, cols, 1.f / sp[r]);
    }
  });
}

memory::desc matrix(int64_t rows, int64_t cols, DataType type) {
  return memory::desc({rows, cols}, type, Tag::ab);
}

DataType gemm_type(LinearPrecision precision) {
  return precision == LinearPrecision::kInt8 ? DataType::s8 : DataType::bf16;
}

// Post-op arguments of an int8 linear layer: the per-column scale (input scale × that channel's
// weight scale, known only per call) and then the bias, each a [1, N] float32 row.
constexpr int kInt8ScaleArg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1;
constexpr int kInt8BiasArg = DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1;

// A linear layer's GEMM: src [M, K] and weights [K, N] of the precision's type (bf16 or s8),
// weights in `weights` layout (Tag::any to let oneDNN choose), post-ops in order, dst [M, N] of
// `dst_type`. bf16 takes an f32 bias. int8 has no bias argument: its integer products are scaled
// and then biased by two binary post-ops, because oneDNN 2.6's fast int8 kernel (brgemm) takes
// output scales only when they are fixed at creation, and the input's scale changes every call.
dnnl::matmul::primitive_desc linear_pd(int64_t m, int64_t k, int64_t n, const memory::desc& weights,
                                       DataType dst_type, const dnnl::post_ops& ops,
                                       LinearPrecision precision) {
  dnnl::primitive_attr attr;
  const memory::desc src = matrix(m, k, gemm_type(precision)), dst = matrix(m, n, dst_type);
  if (precision == LinearPrecision::kInt8) {
    dnnl::post_ops int8_ops;
    int8_ops.append_binary(dnnl::algorithm::binary_mul, matrix(1, n, DataType::f32));
    int8_ops.append_binary(dnnl::algorithm::binary_add, matrix(1, n, DataType::f32));
    for (int i = 0; i < ops.len(); ++i) {
      if (ops.kind(i) == dnnl::primitive::kind::sum) {
        float scale;
        ops.get_params_sum(i, scale);
        int8_ops.append_sum(scale);
      } else {
        float scale, alpha, beta;
        dnnl::algorithm alg;
        ops.get_params_eltwise(i, scale, alg, alpha, beta);
        int8_ops.append_eltwise(scale, alg, alpha, beta);
      }
    }
    attr.set_post_ops(int8_ops);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, cpu_engine());
  }
  attr.set_post_ops(ops);
  return dnnl::matmul::primitive_desc(
      dnnl::matmul::desc(src, weights, matrix(1, n, DataType::f32), dst), attr, cpu_engine());
}

enum LinearKind { kQkv, kOut, kFc, kProj, kLinearKinds };

}  // namespace

struct OnednnTransformer::Layer {
  at::Tensor ln1_w, ln1_b, ln2_w, ln2_b;  // float32
  memory weights[kLinearKinds];           // packed bf16, or packed int8
  at::Tensor bias[kLinearKinds];          // float32 [N]
  at::Tensor weight_scale[kLinearKinds];  // int8 only: float32 [N], w ≈ scale[n] · q[n, :]
};

struct OnednnTransformer::Plan {
  dnnl::matmul linear[kLinearKinds];
  // Attention for one head of one image, each run on one thread: the threads share the batch's
  // (image, head) pairs (see run()).
  dnnl::matmul scores, context;
  memory::desc q, k, v, scores_md, probs_md, context_md;
  size_t attention_scratchpad_bytes = 0;  // the more either of the two needs (user-managed)
};

namespace {

struct LinearShape {
  int64_t k, n;
  DataType dst;
};

dnnl::post_ops linear_post_ops(LinearKind kind, MlpActivation activation) {
  dnnl::post_ops ops;
  if (kind == kFc) {
    // quick_gelu(x) = x·sigmoid(1.702x) is oneDNN's swish with alpha 1.702.
    if (activation == MlpActivation::kGelu) {
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    } else {
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.702f, 0.f);
    }
  }
  // The output and MLP projections add into the float32 residual stream (x += layer(h)).
  if (kind == kOut || kind == kProj) ops.append_sum(1.f);
  return ops;
}

}  // namespace

bool OnednnTransformer::available(LinearPrecision precision) {
  const auto probe = [](LinearPrecision p) {
    try {
      const auto pd = linear_pd(64, 64, 64, memory::desc({64, 64}, gemm_type(p), Tag::any),
                                DataType::bf16, dnnl::post_ops(), p);
      return !is_reference_impl(pd);
    } catch (const dnnl::error&) {
      return false;
    }
  };
  // Each probed on first use only: bf16 runs never create an int8 primitive.
  if (precision == LinearPrecision::kInt8) {
    static const bool int8 = probe(LinearPrecision::kInt8);
    return int8;
  }
  static const bool bf16 = probe(LinearPrecision::kBf16);
  return bf16;
}

namespace {

std::array<LinearShape, kLinearKinds> linear_shapes(int64_t width, int64_t mlp_width) {
  return {{{width, 3 * width, DataType::bf16},
           {width, width, DataType::f32},
           {width, mlp_width, DataType::bf16},
           {mlp_width, width, DataType::f32}}};
}

// The packed layout oneDNN picks for each linear layer's weights, for one batch of images;
// plan_for() asks every batch size's GEMM to read this same layout.
std::array<memory::desc, kLinearKinds> packed_weight_descs(int64_t tokens, int64_t width,
                                                           int64_t mlp_width,
                                                           MlpActivation activation,
                                                           LinearPrecision precision) {
  const auto shapes = linear_shapes(width, mlp_width);
  std::array<memory::desc, kLinearKinds> packed;
  for (int kind = 0; kind < kLinearKinds; ++kind) {
    const LinearShape& s = shapes[kind];
    packed[kind] = linear_pd(tokens, s.k, s.n,
                             memory::desc({s.k, s.n}, gemm_type(precision), Tag::any), s.dst,
                             linear_post_ops(LinearKind(kind), activation), precision)
                       .weights_desc();
  }
  return packed;
}

// What a packed-weights file entry holds, as its layout bytes: a oneDNN memory descriptor as this
// oneDNN version lays it out (the file's key names the version).
std::string layout_bytes(const memory::desc& d) {
  return std::string(reinterpret_cast<const char*>(&d.data), sizeof d.data);
}

// Compared as descriptors (oneDNN's own equality), not as bytes: the struct has padding.
bool same_layout(const std::string& a, const std::string& b) {
  if (a.size() != sizeof(dnnl_memory_desc_t) || b.size() != sizeof(dnnl_memory_desc_t)) {
    return false;
  }
  dnnl_memory_desc_t da, db;
  std::memcpy(&da, a.data(), sizeof da);
  std::memcpy(&db, b.data(), sizeof db);
  return memory::desc(da) == memory::desc(db);
}

// Entries of a packed-weights file, per block: the four packed weights, then (int8) the four
// weight-scale vectors, float32 [N].
int entries_per_layer(LinearPrecision precision) {
  return precision == LinearPrecision::kInt8 ? 2 * kLinearKinds : kLinearKinds;
}

memory::desc scale_desc(const LinearShape& s) { return memory::desc({s.n}, DataType::f32, Tag::a); }

}  // namespace

std::vector<PackedWeightsFile::Entry> OnednnTransformer::packed_layout(
    int64_t layers, int64_t tokens, int64_t width, int64_t mlp_width, MlpActivation activation,
    LinearPrecision precision) {
  const auto packed = packed_weight_descs(tokens, width, mlp_width, activation, precision);
  const auto shapes = linear_shapes(width, mlp_width);
  std::vector<PackedWeightsFile::Entry> entries;
  for (int64_t l = 0; l < layers; ++l) {
    for (int kind = 0; kind < kLinearKinds; ++kind) {
      entries.push_back({layout_bytes(packed[kind]), nullptr, packed[kind].get_size()});
    }
    if (precision == LinearPrecision::kInt8) {
      for (int kind = 0; kind < kLinearKinds; ++kind) {
        const memory::desc d = scale_desc(shapes[kind]);
        entries.push_back({layout_bytes(d), nullptr, d.get_size()});
      }
    }
  }
  return entries;
}

bool OnednnTransformer::can_use(const PackedWeightsFile& file, int64_t layers, int64_t tokens,
                                int64_t width, int64_t mlp_width, MlpActivation activation,
                                LinearPrecision precision, std::string* why) {
  const std::vector<PackedWeightsFile::Entry> expected =
      packed_layout(layers, tokens, width, mlp_width, activation, precision);
  const std::vector<PackedWeightsFile::Entry>& entries = file.entries();
  if (entries.size() != expected.size()) {
    if (why != nullptr) {
      *why = "holds " + std::to_string(entries.size()) + " tensors, expected " +
             std::to_string(expected.size());
    }
    return false;
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!same_layout(entries[i].layout, expected[i].layout) ||
        entries[i].size != expected[i].size) {
      if (why != nullptr) *why = "packed in another layout (another CPU or oneDNN build)";
      return false;
    }
  }
  return true;
}

std::string OnednnTransformer::packing_build() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + " " + v->hash + " isa " +
         std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa()));
}

OnednnTransformer::OnednnTransformer(std::vector<TransformerBlockWeights> blocks, int64_t tokens,
                                     int64_t heads, double layer_norm_eps, MlpActivation activation,
                                     bool causal, LinearPrecision precision,
                                     const std::function<void(const at::Tensor&)>& packed_hook,
                                     std::shared_ptr<PackedWeightsFile> packed_file)
    : tokens_(tokens),
      width_(blocks.empty() ? 0 : blocks[0].ln1_w.size(0)),
      mlp_width_(blocks.empty() ? 0 : blocks[0].fc_b.size(0)),
      heads_(heads),
      eps_(layer_norm_eps),
      activation_(activation),
      causal_(causal),
      precision_(precision),
      packed_file_(packed_file) {
  const auto shapes = linear_shapes(width_, mlp_width_);
  const auto packed = packed_weight_descs(tokens_, width_, mlp_width_, activation_, precision_);
  // Either read (complete) or filled here: the same entries in both cases.
  const bool read_packed = packed_file && packed_file->complete();
  if (packed_file) {
    std::string why;
    if (!can_use(*packed_file, static_cast<int64_t>(blocks.size()), tokens_, width_, mlp_width_,
                 activation_, precision_, &why)) {
      throw Error("packed weights", why);
    }
  }
  dnnl::stream stream(cpu_engine());
  const auto f32 = [](const at::Tensor& t) {
    return t.to(torch::kCPU, torch::kFloat32).contiguous();
  };
  for (TransformerBlockWeights& b : blocks) {
    Layer layer;
    layer.ln1_w = f32(b.ln1_w);
    layer.ln1_b = f32(b.ln1_b);
    layer.ln2_w = f32(b.ln2_w);
    layer.ln2_b = f32(b.ln2_b);
    const at::Tensor* w[kLinearKinds] = {&b.in_w, &b.out_w, &b.fc_w, &b.proj_w};
    const at::Tensor* bias[kLinearKinds] = {&b.in_b, &b.out_b, &b.fc_b, &b.proj_b};
    const std::size_t first_entry = layers_.size() * entries_per_layer(precision_);
    for (int kind = 0; kind < kLinearKinds; ++kind) {
      layer.bias[kind] = f32(*bias[kind]);
      if (packed_file) {
        // In place in the file's mapping: the GEMMs only read their weights.
        layer.weights[kind] =
            memory(packed[kind], cpu_engine(), packed_file->writable(first_entry + kind));
        if (precision_ == LinearPrecision::kInt8) {
          layer.weight_scale[kind] =
              torch::from_blob(packed_file->writable(first_entry + kLinearKinds + kind),
                               {shapes[kind].n}, torch::kFloat32);
        }
      } else {
        layer.weights[kind] = memory(packed[kind], cpu_engine());
      }
      if (read_packed) continue;
      // [out, in] row-major is the [K, N] matrix in column-major ("ba") order.
      at::Tensor plain, scale;
      if (precision_ == LinearPrecision::kInt8) {
        quantize_weight_rows(w[kind]->to(torch::kCPU, torch::kBFloat16).contiguous(), plain,
                             scale);
        if (packed_file) {
          layer.weight_scale[kind].copy_(scale);
        } else {
          layer.weight_scale[kind] = scale;
        }
      } else {
        plain = w[kind]->to(torch::kCPU, torch::kBFloat16).contiguous();
      }
      const LinearShape& s = shapes[kind];
      memory src(memory::desc({s.k, s.n}, gemm_type(precision_), Tag::ba), cpu_engine(),
                 plain.data_ptr());
      dnnl::reorder(src, layer.weights[kind]).execute(stream, src, layer.weights[kind]);
    }
    stream.wait();
    if (packed_hook && !read_packed) {
      for (const at::Tensor* t : w) packed_hook(*t);
    }
    layers_.push_back(std::move(layer));
    b = TransformerBlockWeights();
  }
}

OnednnTransformer::~OnednnTransformer() = default;

const OnednnTransformer::Plan& OnednnTransformer::plan_for(int64_t batch) const {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  auto& slot = plans_[batch];
  if (slot) return *slot;
  auto plan = std::make_unique<Plan>();
  const int64_t m = batch * tokens_, t = tokens_, w = width_, d = width_ / heads_;
  const auto shapes = linear_shapes(w, mlp_width_);
  // int8 runs one GEMM per image, each with its own input scale (oneDNN 2.6's fast kernel cannot
  // scale rows apart): an image's score then does not depend on the other images in its batch.
  const int64_t gemm_m = precision_ == LinearPrecision::kInt8 ? t : m;
  for (int kind = 0; kind < kLinearKinds; ++kind) {
    const LinearShape& s = shapes[kind];
    const auto pd = linear_pd(gemm_m, s.k, s.n, layers_[0].weights[kind].get_desc(), s.dst,
                              linear_post_ops(LinearKind(kind), activation_), precision_);
    if (is_reference_impl(pd)) {
      throw Error("oneDNN", std::string("no optimised ") +
                                (precision_ == LinearPrecision::kInt8 ? "int8" : "bf16") +
                                " GEMM for a batch of " + std::to_string(batch) +
                                "; use --precision fp32");
    }
    plan->linear[kind] = dnnl::matmul(pd);
  }
  // Attention on [T, d] views of one image's rows of the q/k/v GEMM output [N·T, 3·W] (q at
  // column 0, k at W, v at 2W; head h at h·d): no copies. One head at a time, so that its scores
  // (T × T float32, 264 KB for ViT-H) stay in the core's L2 cache from the scores GEMM through the
  // softmax to the context GEMM; over all 16 heads they were 4.2 MB, beyond L2. run() calls them
  // from inside a parallel loop over (image, head) pairs, where oneDNN runs each on the calling
  // thread (it sees the OpenMP region it is in); scratchpads are per thread (user-managed).
  plan->q = memory::desc({t, d}, DataType::bf16, Dims{3 * w, 1});
  plan->k = memory::desc({d, t}, DataType::bf16, Dims{1, 3 * w});
  plan->v = plan->q;
  plan->scores_md = matrix(t, t, DataType::f32);
  plan->probs_md = matrix(t, t, DataType::bf16);
  plan->context_md = memory::desc({t, d}, DataType::bf16, Dims{w, 1});
  dnnl::primitive_attr scores_attr, attr;
  scores_attr.set_output_scales(0, {static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)))});
  for (dnnl::primitive_attr* a : {&scores_attr, &attr}) {
    a->set_scratchpad_mode(dnnl::scratchpad_mode::user);
  }
  const dnnl::matmul::primitive_desc scores_pd(
      dnnl::matmul::desc(plan->q, plan->k, plan->scores_md), scores_attr, cpu_engine());
  const dnnl::matmul::primitive_desc context_pd(
      dnnl::matmul::desc(plan->probs_md, plan->v, plan->context_md), attr, cpu_engine());
  plan->scores = dnnl::matmul(scores_pd);
  plan->context = dnnl::matmul(context_pd);
  plan->attention_scratchpad_bytes =
      std::max(scores_pd.scratchpad_desc().get_size(), context_pd.scratchpad_desc().get_size());
  slot = std::move(plan);
  return *slot;
}

void OnednnTransformer::run(at::Tensor& x, std::vector<at::Tensor>* hidden) const {
  if (x.dim() != 3 || x.size(1) != tokens_ || x.size(2) != width_ ||
      x.scalar_type() != torch::kFloat32 || !x.is_contiguous()) {
    throw Error("OnednnTransformer", "expects a contiguous float32 [N, " + std::to_string(tokens_) +
                                         ", " + std::to_string(width_) + "] residual stream");
  }
  const int64_t batch = x.size(0), m = batch * tokens_, w = width_;
  if (batch == 0) return;
  const Plan& plan = plan_for(batch);
  // This call's buffers: the idle workspace if there is one (given back when the call ends, also
  // by an exception), else a new one.
  struct BorrowedWorkspace {
    const OnednnTransformer& owner;
    std::unique_ptr<Workspace> workspace;
    ~BorrowedWorkspace() {
      std::lock_guard<std::mutex> lock(owner.workspace_mutex_);
      if (!owner.idle_workspace_) owner.idle_workspace_ = std::move(workspace);
    }
  } borrowed{*this, nullptr};
  {
    std::lock_guard<std::mutex> lock(workspace_mutex_);
    borrowed.workspace = std::move(idle_workspace_);
  }
  if (!borrowed.workspace) borrowed.workspace = std::make_unique<Workspace>();
  Workspace& workspace = *borrowed.workspace;
  workspace.next = 0;
  at::Tensor h = workspace.take({m, w}, torch::kBFloat16);
  at::Tensor qkv = workspace.take({m, 3 * w}, torch::kBFloat16);
  at::Tensor context = workspace.take({m, w}, torch::kBFloat16);
  at::Tensor mlp = workspace.take({m, mlp_width_}, torch::kBFloat16);
  // int8: the quantised inputs of the GEMMs (the layer norms' output, the attention output and the
  // MLP's hidden layer), and each layer's per-call column scales.
  const bool int8 = precision_ == LinearPrecision::kInt8;
  at::Tensor h8, context8, mlp8, call_scales[kLinearKinds];
  if (int8) {
    h8 = workspace.take({m, w}, torch::kChar);
    context8 = workspace.take({m, w}, torch::kChar);
    mlp8 = workspace.take({m, mlp_width_}, torch::kChar);
    for (int kind = 0; kind < kLinearKinds; ++kind) {
      call_scales[kind] =
          workspace.take({batch, layers_[0].bias[kind].numel()}, torch::kFloat32);
    }
  }
  const dnnl::engine& engine = cpu_engine();
  dnnl::stream stream(engine);
  const auto mem = [&](const memory::desc& md, const at::Tensor& t, int64_t offset = 0) {
    return memory(md, engine, static_cast<char*>(t.data_ptr()) + offset * t.element_size());
  };
  const memory h_mem = mem(matrix(m, w, DataType::bf16), h);
  const memory qkv_mem = mem(matrix(m, 3 * w, DataType::bf16), qkv);
  const memory x_mem = mem(matrix(m, w, DataType::f32), x);
  const memory context_mem = mem(matrix(m, w, DataType::bf16), context);
  const memory mlp_mem = mem(matrix(m, mlp_width_, DataType::bf16), mlp);
  // Each thread's attention buffers: one head's scores and probabilities, the primitives'
  // scratchpad, and memory objects whose data handles are pointed at each (image, head) in turn.
  struct AttentionBuffers {
    at::Tensor scores, probs, scratchpad;
    memory q, k, v, scores_mem, probs_mem, context_mem, scratchpad_mem;
  };
  std::vector<AttentionBuffers> attention(static_cast<size_t>(at::get_num_threads()));
  const auto scratchpad_bytes =
      std::max<int64_t>(1, static_cast<int64_t>(plan.attention_scratchpad_bytes));
  for (AttentionBuffers& a : attention) {
    a.scores = workspace.take({tokens_, tokens_}, torch::kFloat32);
    a.probs = workspace.take({tokens_, tokens_}, torch::kBFloat16);
    a.scratchpad = workspace.take({scratchpad_bytes}, torch::kByte);
    a.q = mem(plan.q, qkv);
    a.k = mem(plan.k, qkv);
    a.v = mem(plan.v, qkv);
    a.context_mem = mem(plan.context_md, context);
    a.scores_mem = mem(plan.scores_md, a.scores);
    a.probs_mem = mem(plan.probs_md, a.probs);
    a.scratchpad_mem = memory({{scratchpad_bytes}, DataType::u8, Tag::a}, engine,
                              a.scratchpad.data_ptr());
  }
  const int64_t head_width = w / heads_;
  at::BFloat16* const qkv_data = qkv.data_ptr<at::BFloat16>();
  at::BFloat16* const context_data = context.data_ptr<at::BFloat16>();
  // softmax(q·kᵀ/√d [+ causal mask])·v for the (image, head) pairs [begin, end), on this thread.
  // Each thread gets a contiguous range, so the two threads work on different images: pairs handed
  // out one at a time were slower, both threads then writing neighbouring heads of one image,
  // whose rows of the output share cache lines.
  const auto attend = [&](int64_t begin, int64_t end) {
    AttentionBuffers& a = attention[static_cast<size_t>(at::get_thread_num())];
    dnnl::stream local(engine);
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t b = pair / heads_, head = pair % heads_;
      at::BFloat16* q = qkv_data + b * tokens_ * 3 * w + head * head_width;
      a.q.set_data_handle(q);
      a.k.set_data_handle(q + w);
      a.v.set_data_handle(q + 2 * w);
      a.context_mem.set_data_handle(context_data + b * tokens_ * w + head * head_width);
      plan.scores.execute(local, {{DNNL_ARG_SRC, a.q},
                                  {DNNL_ARG_WEIGHTS, a.k},
                                  {DNNL_ARG_DST, a.scores_mem},
                                  {DNNL_ARG_SCRATCHPAD, a.scratchpad_mem}});
      local.wait();
      // The causal mask is applied by the softmax, not as a oneDNN binary post-op: with that
      // post-op oneDNN 2.6 falls back to its reference matmul, ~100x slower.
      softmax_rows_to_bf16(a.scores.data_ptr<float>(),
                           reinterpret_cast<uint16_t*>(a.probs.data_ptr<at::BFloat16>()), tokens_,
                           tokens_, causal_);
      plan.context.execute(local, {{DNNL_ARG_SRC, a.probs_mem},
                                   {DNNL_ARG_WEIGHTS, a.v},
                                   {DNNL_ARG_DST, a.context_mem},
                                   {DNNL_ARG_SCRATCHPAD, a.scratchpad_mem}});
    }
    local.wait();
  };
  const float eps = static_cast<float>(eps_);
  // bf16: one GEMM on the bf16 input. int8: per image, `input` (bf16) is quantised into
  // `quantised` and multiplied into that image's rows of `output`.
  const auto linear = [&](const Layer& layer, LinearKind kind, const at::Tensor& input,
                          const memory& input_mem, at::Tensor* quantised, at::Tensor& output,
                          const memory& dst) {
    const int64_t n = layer.bias[kind].numel();
    if (!int8) {
      const memory bias = mem(matrix(1, n, DataType::f32), layer.bias[kind]);
      plan.linear[kind].execute(stream, {{DNNL_ARG_SRC, input_mem},
                                         {DNNL_ARG_WEIGHTS, layer.weights[kind]},
                                         {DNNL_ARG_BIAS, bias},
                                         {DNNL_ARG_DST, dst}});
      return;
    }
    stream.wait();  // `input` is complete before it is read here
    const int64_t k = input.size(1), t = tokens_;
    const DataType dst_type = dst.get_desc().data_type();
    const float* weight_scale = layer.weight_scale[kind].data_ptr<float>();
    const memory bias = mem(matrix(1, n, DataType::f32), layer.bias[kind]);
    for (int64_t b = 0; b < batch; ++b) {
      const float input_scale = quantize_block(
          reinterpret_cast<const uint16_t*>(input.data_ptr<at::BFloat16>()) + b * t * k,
          quantised->data_ptr<int8_t>() + b * t * k, t * k);
      float* scales = call_scales[kind].data_ptr<float>() + b * n;
      for (int64_t j = 0; j < n; ++j) scales[j] = input_scale * weight_scale[j];
      plan.linear[kind].execute(
          stream, {{DNNL_ARG_SRC, mem(matrix(t, k, DataType::s8), *quantised, b * t * k)},
                   {DNNL_ARG_WEIGHTS, layer.weights[kind]},
                   {kInt8ScaleArg, mem(matrix(1, n, DataType::f32), call_scales[kind], b * n)},
                   {kInt8BiasArg, bias},
                   {DNNL_ARG_DST, mem(matrix(t, n, dst_type), output, b * t * n)}});
    }
  };
  for (const Layer& layer : layers_) {
    layer_norm_to_bf16(x, layer.ln1_w, layer.ln1_b, eps, h);
    linear(layer, kQkv, h, h_mem, &h8, qkv, qkv_mem);
    stream.wait();
    at::parallel_for(0, batch * heads_, /*grain_size=*/1, attend);
    linear(layer, kOut, context, context_mem, &context8, x, x_mem);
    layer_norm_to_bf16(x, layer.ln2_w, layer.ln2_b, eps, h);
    linear(layer, kFc, h, h_mem, &h8, mlp, mlp_mem);
    linear(layer, kProj, mlp, mlp_mem, &mlp8, x, x_mem);
    stream.wait();
    if (hidden != nullptr) hidden->push_back(x.to(torch::kBFloat16));
  }
}

struct OnednnGemm::State {
  dnnl::matmul gemm;
  at::Tensor src, dst, bias, scales;
  memory weights;
  std::unordered_map<int, memory> args;
};

OnednnGemm::OnednnGemm(int64_t m, int64_t k, int64_t n, LinearPrecision precision)
    : state_(std::make_unique<State>()) {
  const DataType type = gemm_type(precision);
  const bool int8 = precision == LinearPrecision::kInt8;
  const auto pd = linear_pd(m, k, n, memory::desc({k, n}, type, Tag::any), DataType::bf16,
                            dnnl::post_ops(), precision);
  state_->gemm = dnnl::matmul(pd);
  const auto random = [int8](int64_t rows, int64_t cols) {
    return int8 ? torch::randint(-127, 128, {rows, cols}).to(torch::kChar)
                : torch::randn({rows, cols}).to(torch::kBFloat16);
  };
  const at::Tensor plain = random(n, k);
  memory plain_mem(memory::desc({k, n}, type, Tag::ba), cpu_engine(), plain.data_ptr());
  state_->weights = memory(pd.weights_desc(), cpu_engine());
  dnnl::stream stream(cpu_engine());
  dnnl::reorder(plain_mem, state_->weights).execute(stream, plain_mem, state_->weights);
  stream.wait();
  state_->src = random(m, k);
  state_->dst = torch::empty({m, n}, torch::kBFloat16);
  state_->bias = torch::zeros({n});  // linear_pd's GEMMs take a bias, as the model's do
  state_->scales = torch::full({n}, 1e-3f);
  state_->args = {
      {DNNL_ARG_SRC, memory(matrix(m, k, type), cpu_engine(), state_->src.data_ptr())},
      {DNNL_ARG_WEIGHTS, state_->weights},
      {DNNL_ARG_BIAS, memory(matrix(1, n, DataType::f32), cpu_engine(), state_->bias.data_ptr())},
      {DNNL_ARG_DST, memory(matrix(m, n, DataType::bf16), cpu_engine(), state_->dst.data_ptr())}};
  if (int8) {
    // The int8 GEMM's per-column scale and bias post-ops, as the model's layers run it.
    state_->args.erase(DNNL_ARG_BIAS);
    state_->args.emplace(kInt8ScaleArg, memory(matrix(1, n, DataType::f32), cpu_engine(),
                                               state_->scales.data_ptr()));
    state_->args.emplace(kInt8BiasArg, memory(matrix(1, n, DataType::f32), cpu_engine(),
                                              state_->bias.data_ptr()));
  }
}

OnednnGemm::~OnednnGemm() = default;

void OnednnGemm::run() {
  dnnl::stream stream(cpu_engine());
  state_->gemm.execute(stream, state_->args);
  stream.wait();
}

#else  // !PREFSCORE_HAVE_ONEDNN

struct OnednnTransformer::Layer {};
struct OnednnTransformer::Plan {};

bool OnednnTransformer::available(LinearPrecision) { return false; }

OnednnTransformer::OnednnTransformer(std::vector<TransformerBlockWeights>, int64_t, int64_t, double,
                                     MlpActivation, bool, LinearPrecision,
                                     const std::function<void(const at::Tensor&)>&,
                                     std::shared_ptr<PackedWeightsFile>) {
  throw Error("OnednnTransformer", "this build has no oneDNN (libdnnl-dev)");
}
std::vector<PackedWeightsFile::Entry> OnednnTransformer::packed_layout(int64_t, int64_t, int64_t,
                                                                        int64_t, MlpActivation,
                                                                        LinearPrecision) {
  return {};
}
bool OnednnTransformer::can_use(const PackedWeightsFile&, int64_t, int64_t, int64_t, int64_t,
                                MlpActivation, LinearPrecision, std::string* why) {
  if (why != nullptr) *why = "this build has no oneDNN (libdnnl-dev)";
  return false;
}
std::string OnednnTransformer::packing_build() { return "no oneDNN"; }
OnednnTransformer::~OnednnTransformer() = default;
const OnednnTransformer::Plan& OnednnTransformer::plan_for(int64_t) const {
  throw Error("OnednnTransformer", "this build has no oneDNN (libdnnl-dev)");
}
void OnednnTransformer::run(at::Tensor&, std::vector<at::Tensor>*) const {
  throw Error("OnednnTransformer", "this build has no oneDNN (libdnnl-dev)");
}
struct OnednnGemm::State {};
OnednnGemm::OnednnGemm(int64_t, int64_t, int64_t, LinearPrecision) {
  throw Error("OnednnGemm", "this build has no oneDNN (libdnnl-dev)");
}
OnednnGemm::~OnednnGemm() = default;
void OnednnGemm::run() {}

#endif

}  // namespace prefscore
