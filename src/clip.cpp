#include "prefscore/clip.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "onednn_transformer.h"
#include "packed_weights_file.h"
#include "prefscore/file_digest_memo.h"
#include "prefscore/sha256.h"
#include "prefscore/error.h"

namespace prefscore {

bool int8_image_linears_available() {
  // The int8 tower keeps its attention, and the text tower, on oneDNN's bf16 kernels.
  return OnednnTransformer::available(LinearPrecision::kInt8) && OnednnTransformer::available();
}

ClipModel::ClipModel(const ClipArchitecture& arch, Weights& w, const PackedWeightsCache& cache)
    : arch_(arch), options_(w.options()) {
  const bool cpu_bf16 = options_.device.is_cpu() && options_.dtype == c10::kBFloat16;
  const bool int8 = options_.int8_image_linears;
  if (int8 && !(cpu_bf16 && int8_image_linears_available())) {
    throw Error("--precision int8",
                "needs the CPU, a build with oneDNN (libdnnl-dev) and native int8 and bf16 GEMM "
                "kernels for this CPU (AVX512-VNNI with AVX512-BF16, or AMX); use bf16 or fp32");
  }
  const bool fast = int8 || (cpu_bf16 && OnednnTransformer::available());

  const int64_t vw = arch.vision_width, tw = arch.text_width, e = arch.embed_dim;
  const int64_t p = arch.patch_size;
  patch_w_ = w.get(WeightId::kVisionPatchEmbed, {vw, 3, p, p});
  class_emb_ = w.get(WeightId::kVisionClassEmbed, {vw});
  vis_pos_ = w.get(WeightId::kVisionPosEmbed, {arch.vision_tokens(), vw});
  ln_pre_w_ = w.get(WeightId::kVisionLnPreWeight, {vw});
  ln_pre_b_ = w.get(WeightId::kVisionLnPreBias, {vw});
  ln_post_w_ = w.get(WeightId::kVisionLnPostWeight, {vw});
  ln_post_b_ = w.get(WeightId::kVisionLnPostBias, {vw});
  vis_proj_ = w.get(WeightId::kVisionProj, {e, vw});
  if (fast) {
    vision_fast_ = load_fast_tower(
        w, Tower::kVision, int8 ? LinearPrecision::kInt8 : LinearPrecision::kBf16, cache);
  } else {
    vision_blocks_ =
        load_blocks(w, Tower::kVision, arch.vision_layers, vw, arch.vision_mlp_width());
  }

  tok_emb_ = w.get(WeightId::kTextTokenEmbed, {arch.vocab_size, tw});
  txt_pos_ = w.get(WeightId::kTextPosEmbed, {arch.context_length, tw});
  ln_final_w_ = w.get(WeightId::kTextLnFinalWeight, {tw});
  ln_final_b_ = w.get(WeightId::kTextLnFinalBias, {tw});
  txt_proj_ = w.get(WeightId::kTextProj, {e, tw});
  if (fast) {
    // The text tower runs once per prompt: it stays bf16 under int8 too.
    text_fast_ = load_fast_tower(w, Tower::kText, LinearPrecision::kBf16, cache);
  } else {
    text_blocks_ = load_blocks(w, Tower::kText, arch.text_layers, tw, arch.text_mlp_width());
  }

  const at::Tensor scale = w.get(WeightId::kLogitScale, {});
  if (scale.defined()) logit_scale_ = scale.to(torch::kCPU, torch::kFloat64).item<double>();

  // Additive causal mask: position i attends to j <= i (open_clip build_causal_mask).
  causal_mask_ = torch::full({arch.context_length, arch.context_length},
                             -std::numeric_limits<float>::infinity(),
                             torch::TensorOptions().dtype(options_.dtype).device(options_.device))
                     .triu(1);
}

std::vector<ClipModel::Block> ClipModel::load_blocks(Weights& w, Tower tower, int64_t layers,
                                                     int64_t width, int64_t mlp_width,
                                                     bool linear_weights) {
  const auto linear = [&](WeightId id, int64_t i, std::vector<int64_t> shape) {
    if (linear_weights) return w.get(id, tower, i, shape);
    w.check(id, tower, i, shape);
    return at::Tensor();
  };
  std::vector<Block> blocks;
  for (int64_t i = 0; i < layers; ++i) {
    Block b;
    b.ln1_w = w.get(WeightId::kBlockLn1Weight, tower, i, {width});
    b.ln1_b = w.get(WeightId::kBlockLn1Bias, tower, i, {width});
    b.in_w = linear(WeightId::kBlockAttnInProjWeight, i, {3 * width, width});
    b.in_b = w.get(WeightId::kBlockAttnInProjBias, tower, i, {3 * width});
    b.out_w = linear(WeightId::kBlockAttnOutProjWeight, i, {width, width});
    b.out_b = w.get(WeightId::kBlockAttnOutProjBias, tower, i, {width});
    b.ln2_w = w.get(WeightId::kBlockLn2Weight, tower, i, {width});
    b.ln2_b = w.get(WeightId::kBlockLn2Bias, tower, i, {width});
    b.fc_w = linear(WeightId::kBlockMlpFcWeight, i, {mlp_width, width});
    b.fc_b = w.get(WeightId::kBlockMlpFcBias, tower, i, {mlp_width});
    b.proj_w = linear(WeightId::kBlockMlpProjWeight, i, {width, mlp_width});
    b.proj_b = w.get(WeightId::kBlockMlpProjBias, tower, i, {width});
    blocks.push_back(std::move(b));
  }
  return blocks;
}

namespace {

// The cache file of one tower: named by what it stands for (checkpoint path, tower, precision), so
// that a changed checkpoint replaces its file instead of adding one; keyed by everything its bytes
// depend on.
struct PackedLocation {
  std::string path, key;
};

PackedLocation packed_location(const PackedWeightsCache& cache, const std::string& weights_path,
                               const ClipArchitecture& arch, Tower tower,
                               LinearPrecision precision) {
  std::error_code ec;
  std::string canonical = std::filesystem::weakly_canonical(weights_path, ec).string();
  if (ec) canonical = weights_path;
  const FileStamp stamp = file_stamp(weights_path);
  const bool vision = tower == Tower::kVision;
  const std::string what = canonical + "\n" + (vision ? "vision" : "text") + "\n" +
                           (precision == LinearPrecision::kInt8 ? "int8" : "bf16");
  std::ostringstream key;
  key << "prefscore packed weights v1\n" << what << "\nsize " << stamp.size << " mtime_ns "
      << stamp.mtime_ns << "\nlayers " << (vision ? arch.vision_layers : arch.text_layers)
      << " tokens " << (vision ? arch.vision_tokens() : arch.context_length) << " width "
      << (vision ? arch.vision_width : arch.text_width) << " mlp "
      << (vision ? arch.vision_mlp_width() : arch.text_mlp_width()) << " activation "
      << arch.activation << "\n"
      << OnednnTransformer::packing_build();
  const std::string name = sha256_hex(what).substr(0, 32) + (vision ? "-vision" : "-text") +
                           ".packed";
  return {(std::filesystem::path(cache.dir) / name).string(), key.str()};
}

}  // namespace

std::shared_ptr<const OnednnTransformer> ClipModel::load_fast_tower(
    Weights& w, Tower tower, LinearPrecision precision, const PackedWeightsCache& cache) {
  const bool vision = tower == Tower::kVision;
  const int64_t layers = vision ? arch_.vision_layers : arch_.text_layers;
  const int64_t width = vision ? arch_.vision_width : arch_.text_width;
  const int64_t mlp_width = vision ? arch_.vision_mlp_width() : arch_.text_mlp_width();
  const int64_t tokens = vision ? arch_.vision_tokens() : arch_.context_length;
  const MlpActivation activation =
      arch_.activation == "quick_gelu" ? MlpActivation::kQuickGelu : MlpActivation::kGelu;

  std::shared_ptr<PackedWeightsFile> packed;
  // Weights that are not a file on disk (SafetensorsFile::from_bytes) have no identity to key a
  // cache file by: they are packed in memory.
  std::error_code ec;
  if (!cache.dir.empty() && std::filesystem::is_regular_file(w.path(), ec)) {
    const PackedLocation location = packed_location(cache, w.path(), arch_, tower, precision);
    std::string why;
    packed = PackedWeightsFile::open(location.path, location.key, &why);
    if (packed && !OnednnTransformer::can_use(*packed, layers, tokens, width, mlp_width, activation,
                                              precision, &why)) {
      packed.reset();
    }
    if (!packed && why != PackedWeightsFile::kAbsent) {
      packed_report_.problems.push_back(location.path + ": packed weights not used (" + why +
                                        "); packed again from " + w.path());
    }
    if (!packed) {
      try {
        packed = PackedWeightsFile::create(
            location.path, location.key,
            OnednnTransformer::packed_layout(layers, tokens, width, mlp_width, activation,
                                             precision));
      } catch (const Error& e) {
        packed_report_.problems.push_back(std::string(e.what()) +
                                          " (packed weights not kept; the next load packs again)");
      }
    }
  }
  const bool mapped = packed && packed->complete();
  std::vector<Block> blocks =
      load_blocks(w, tower, layers, width, mlp_width, /*linear_weights=*/!mapped);
  std::shared_ptr<const OnednnTransformer> fast = make_fast(
      blocks, tokens, vision ? arch_.vision_heads : arch_.text_heads, /*causal=*/!vision,
      precision, w, packed);
  if (fast && mapped) (vision ? packed_report_.vision_mapped : packed_report_.text_mapped) = true;
  if (fast && packed && !mapped) {
    try {
      packed->commit();
    } catch (const Error& e) {
      packed_report_.problems.push_back(std::string(e.what()) +
                                        " (packed weights not kept; the next load packs again)");
    }
  }
  return fast;
}

// Packs `blocks` for oneDNN (into `packed` when given and not complete(), else reads it), releasing
// each block as it is packed, or returns
// null when a weight is missing (the missing names are reported by Weights::finish()).
std::shared_ptr<const OnednnTransformer> ClipModel::make_fast(
    std::vector<Block>& blocks, int64_t tokens, int64_t heads, bool causal,
    LinearPrecision precision, const Weights& source,
    std::shared_ptr<PackedWeightsFile> packed) const {
  for (const Block& b : blocks) {
    for (const at::Tensor* t : {&b.ln1_w, &b.ln1_b, &b.in_b, &b.out_b, &b.ln2_w, &b.ln2_b, &b.fc_b,
                                &b.proj_b}) {
      if (!t->defined()) return nullptr;
    }
    if (!packed || !packed->complete()) {
      for (const at::Tensor* t : {&b.in_w, &b.out_w, &b.fc_w, &b.proj_w}) {
        if (!t->defined()) return nullptr;
      }
    }
  }
  std::vector<TransformerBlockWeights> weights;
  for (Block& b : blocks) {
    weights.push_back({std::move(b.ln1_w), std::move(b.ln1_b), std::move(b.in_w),
                       std::move(b.in_b), std::move(b.out_w), std::move(b.out_b),
                       std::move(b.ln2_w), std::move(b.ln2_b), std::move(b.fc_w),
                       std::move(b.fc_b), std::move(b.proj_w), std::move(b.proj_b)});
  }
  blocks.clear();
  return std::make_shared<const OnednnTransformer>(
      std::move(weights), tokens, heads, arch_.layer_norm_eps,
      arch_.activation == "quick_gelu" ? MlpActivation::kQuickGelu : MlpActivation::kGelu, causal,
      precision, [&source](const at::Tensor& t) { source.release_pages(t); }, std::move(packed));
}

// Pre-norm residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
at::Tensor ClipModel::run_block(const Block& b, const at::Tensor& x, int64_t heads,
                                const at::Tensor& attn_mask) const {
  const int64_t n = x.size(0), t = x.size(1), width = x.size(2), head_dim = width / heads;
  const double eps = arch_.layer_norm_eps;

  at::Tensor h = at::layer_norm(x, {width}, b.ln1_w, b.ln1_b, eps);
  // One in-projection for q, k, v, then [3, N, heads, T, head_dim]; all heads go through one
  // batched matmul each for q·kᵀ and attn·v (no per-head loops).
  const at::Tensor qkv = at::linear(h, b.in_w, b.in_b).view({n, t, 3, heads, head_dim}).permute(
      {2, 0, 3, 1, 4});
  const at::Tensor q = qkv[0] * (1.0 / std::sqrt(static_cast<double>(head_dim)));
  at::Tensor scores = at::matmul(q, qkv[1].transpose(-2, -1));  // [N, heads, T, T]
  if (attn_mask.defined()) scores = scores + attn_mask;
  const at::Tensor attn = at::softmax(scores, -1);
  h = at::matmul(attn, qkv[2]).permute({0, 2, 1, 3}).reshape({n, t, width});
  at::Tensor y = x + at::linear(h, b.out_w, b.out_b);

  h = at::layer_norm(y, {width}, b.ln2_w, b.ln2_b, eps);
  h = at::linear(h, b.fc_w, b.fc_b);
  // open_clip: nn.GELU (erf) or QuickGELU x·sigmoid(1.702x); transformers: ACT2FN[hidden_act].
  h = arch_.activation == "quick_gelu" ? h * at::sigmoid(1.702 * h) : at::gelu(h);
  return y + at::linear(h, b.proj_w, b.proj_b);
}

ClipModel::VisionOutput ClipModel::encode_image(const at::Tensor& pixel_values,
                                                bool keep_hidden) const {
  const int64_t s = arch_.image_size;
  if (pixel_values.dim() != 4 || pixel_values.size(1) != 3 || pixel_values.size(2) != s ||
      pixel_values.size(3) != s) {
    std::ostringstream got;
    got << pixel_values.sizes();
    throw Error("pixel_values", "shape " + got.str() + ", expected [N, 3, " + std::to_string(s) +
                                    ", " + std::to_string(s) + "]");
  }
  // To a GPU through page-locked memory: the copy is then a DMA issued without waiting, instead
  // of a staged copy through the driver's bounce buffer (LibTorch's pinned allocator keeps its
  // blocks, so batches of one size reuse one). The cast runs on the GPU, after the copy.
  const at::Tensor px =
      options_.device.is_cuda() && pixel_values.is_cpu()
          ? pixel_values.pin_memory().to(options_.device, /*non_blocking=*/true).to(options_.dtype)
          : pixel_values.to(options_.device, options_.dtype);
  const int64_t n = px.size(0), vw = arch_.vision_width;
  at::Tensor x = at::conv2d(px, patch_w_, /*bias=*/{}, /*stride=*/arch_.patch_size);
  x = x.flatten(2).transpose(1, 2);  // [N, grid², W]
  VisionOutput out;
  if (vision_fast_) {
    // The float32 residual stream starts at the patch embeddings.
    const auto f32 = [](const at::Tensor& t) { return t.to(torch::kFloat32); };
    x = at::cat({f32(class_emb_).view({1, 1, vw}).expand({n, 1, vw}), f32(x)}, 1) + f32(vis_pos_);
    x = at::layer_norm(x, {vw}, f32(ln_pre_w_), f32(ln_pre_b_), arch_.layer_norm_eps).contiguous();
    if (keep_hidden) out.hidden.push_back(x.to(options_.dtype));
    vision_fast_->run(x, keep_hidden ? &out.hidden : nullptr);
    out.tokens = x.to(options_.dtype);
    // ln_post in float32 too; only its output is rounded for the bf16 projection.
    const at::Tensor pooled = at::layer_norm(x.select(1, 0), {vw}, f32(ln_post_w_),
                                             f32(ln_post_b_), arch_.layer_norm_eps);
    out.embeds = at::linear(pooled.to(options_.dtype), vis_proj_);
    return out;
  }
  x = at::cat({class_emb_.view({1, 1, vw}).expand({n, 1, vw}), x}, 1) + vis_pos_;
  x = at::layer_norm(x, {vw}, ln_pre_w_, ln_pre_b_, arch_.layer_norm_eps);
  if (keep_hidden) out.hidden.push_back(x);
  for (const Block& b : vision_blocks_) {
    x = run_block(b, x, arch_.vision_heads, /*attn_mask=*/{});
    if (keep_hidden) out.hidden.push_back(x);
  }
  out.tokens = x;
  const at::Tensor pooled =
      at::layer_norm(x.select(1, 0), {vw}, ln_post_w_, ln_post_b_, arch_.layer_norm_eps);
  out.embeds = at::linear(pooled, vis_proj_);
  return out;
}

at::Tensor ClipModel::embed_text_tokens(const at::Tensor& input_ids) const {
  if (input_ids.dim() != 2 || input_ids.size(1) != arch_.context_length) {
    std::ostringstream got;
    got << input_ids.sizes();
    throw Error("input_ids", "shape " + got.str() + ", expected [M, " +
                                 std::to_string(arch_.context_length) + "]");
  }
  const at::Tensor ids = input_ids.to(options_.device, torch::kInt64);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 ||
                          ids.max().item<int64_t>() >= arch_.vocab_size)) {
    throw Error("input_ids", "token id outside the vocabulary [0, " +
                                 std::to_string(arch_.vocab_size) + ")");
  }
  return at::embedding(tok_emb_, ids);
}

ClipModel::TextOutput ClipModel::encode_text(const at::Tensor& input_ids, bool keep_hidden) const {
  return encode_text_embeddings(embed_text_tokens(input_ids), input_ids, keep_hidden);
}

ClipModel::TextOutput ClipModel::encode_text_embeddings(const at::Tensor& token_embeddings,
                                                        const at::Tensor& input_ids,
                                                        bool keep_hidden) const {
  const at::Tensor ids = input_ids.to(options_.device, torch::kInt64);
  if (token_embeddings.dim() != 3 || token_embeddings.size(0) != ids.size(0) ||
      token_embeddings.size(1) != ids.size(1) || token_embeddings.size(2) != arch_.text_width) {
    std::ostringstream got;
    got << token_embeddings.sizes();
    throw Error("token_embeddings", "shape " + got.str() + ", expected [" +
                                        std::to_string(ids.size(0)) + ", " +
                                        std::to_string(ids.size(1)) + ", " +
                                        std::to_string(arch_.text_width) + "]");
  }
  const int64_t tw = arch_.text_width;
  at::Tensor x = token_embeddings + txt_pos_;
  TextOutput out;
  if (keep_hidden) out.hidden.push_back(x);
  if (text_fast_) {
    x = x.to(torch::kFloat32).contiguous();
    text_fast_->run(x, keep_hidden ? &out.hidden : nullptr);
    x = at::layer_norm(x, {tw}, ln_final_w_.to(torch::kFloat32), ln_final_b_.to(torch::kFloat32),
                       arch_.layer_norm_eps)
            .to(options_.dtype);
  } else {
    for (const Block& b : text_blocks_) {
      x = run_block(b, x, arch_.text_heads, causal_mask_);
      if (keep_hidden) out.hidden.push_back(x);
    }
    x = at::layer_norm(x, {tw}, ln_final_w_, ln_final_b_, arch_.layer_norm_eps);
  }
  out.tokens = x;
  // The official code uses argmax, whose tie-breaking (first maximal index) is a backend detail;
  // here it is explicit: weight each position holding the row maximum by (T - position), so the
  // first such position is the unique maximum.
  const int64_t t = ids.size(1);
  const at::Tensor is_max = ids.eq(std::get<0>(ids.max(1, /*keepdim=*/true)));
  const at::Tensor first_max =
      (is_max.to(torch::kInt64) * (t - torch::arange(t, ids.options()))).argmax(1);
  const at::Tensor pooled =
      x.index({torch::arange(x.size(0), torch::TensorOptions().device(x.device())), first_max});
  out.embeds = at::linear(pooled, txt_proj_);
  return out;
}

at::Tensor ClipModel::project_image_tokens(const at::Tensor& tokens) const {
  return at::linear(tokens, vis_proj_);
}

at::Tensor ClipModel::project_text_tokens(const at::Tensor& tokens) const {
  return at::linear(tokens, txt_proj_);
}

}  // namespace prefscore
