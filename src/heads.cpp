#include "prefscore/heads.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>

#include "prefscore/error.h"

namespace prefscore {

at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, -1, /*keepdim=*/true); }

at::Tensor cosine_matrix(const at::Tensor& text_embeds, const at::Tensor& image_embeds) {
  const at::Tensor t = l2_normalize(text_embeds.to(torch::kFloat32));
  const at::Tensor i = l2_normalize(image_embeds.to(torch::kFloat32));
  return t.matmul(i.t());
}

at::Tensor scaled_cosine_matrix(const at::Tensor& text_embeds, const at::Tensor& image_embeds,
                                double logit_scale) {
  const at::Tensor t = l2_normalize(text_embeds.to(torch::kFloat32));
  const at::Tensor i = l2_normalize(image_embeds.to(torch::kFloat32));
  // The official code keeps logit_scale as a float32 parameter and calls .exp() on it.
  const at::Tensor scale = torch::tensor(static_cast<float>(logit_scale)).exp();
  return (scale * t).matmul(i.t());
}

at::Tensor softmax_over_images(const at::Tensor& scaled_scores) {
  return at::softmax(scaled_scores.to(torch::kFloat32), -1);
}

namespace {

std::string layer_key(int64_t i, const std::string& rest) {
  return "cross_model.layers." + std::to_string(i) + "." + rest;
}

// SwiGLU of MPS: x, gate = chunk(2); silu(gate) * x.
at::Tensor swiglu(const at::Tensor& x) {
  const auto parts = x.chunk(2, -1);
  return at::silu(parts[1]) * parts[0];
}

// rotate_half: the two halves (x1, x2) of the last dim become (-x2, x1).
at::Tensor rotate_half(const at::Tensor& x) {
  const auto halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

}  // namespace

MpsHead::MpsHead(Weights& w) {
  const std::vector<int64_t> norm_shape = w.shape_of(layer_key(0, "0.fn.norm.weight"));
  const std::vector<int64_t> q_shape = w.shape_of(layer_key(0, "0.fn.to_q.weight"));
  const std::vector<int64_t> kv_shape = w.shape_of(layer_key(0, "0.fn.to_kv.weight"));
  const std::vector<int64_t> ff_shape = w.shape_of(layer_key(0, "0.fn.ff.2.weight"));
  if (norm_shape.size() != 1 || q_shape.size() != 2 || kv_shape.size() != 2 ||
      ff_shape.size() != 2 || kv_shape[0] % 2 != 0) {
    throw Error(w.path(), "no MPS cross_model found (cross_model.layers.0.0.fn.{norm,to_q,to_kv,"
                          "ff.2}.weight missing or misshapen); is this an MPS checkpoint?");
  }
  dim_ = norm_shape[0];
  head_dim_ = kv_shape[0] / 2;
  if (q_shape[0] % head_dim_ != 0) {
    throw Error(w.path(), "cross_model to_q rows " + std::to_string(q_shape[0]) +
                              " are not a multiple of the head dim " + std::to_string(head_dim_));
  }
  heads_ = q_shape[0] / head_dim_;
  ff_inner_ = ff_shape[1];
  const int64_t inner = heads_ * head_dim_;
  for (int64_t i = 0; w.contains(layer_key(i, "0.fn.norm.weight")); ++i) {
    Layer l;
    l.cross_norm_w = w.get_named(layer_key(i, "0.fn.norm.weight"), {dim_});
    l.cross_norm_b = w.get_named(layer_key(i, "0.fn.norm.bias"), {dim_});
    l.to_q = w.get_named(layer_key(i, "0.fn.to_q.weight"), {inner, dim_});
    l.to_kv = w.get_named(layer_key(i, "0.fn.to_kv.weight"), {2 * head_dim_, dim_});
    l.to_out = w.get_named(layer_key(i, "0.fn.to_out.weight"), {dim_, inner});
    l.cross_ff_in = w.get_named(layer_key(i, "0.fn.ff.0.weight"), {2 * ff_inner_, dim_});
    l.cross_ff_out = w.get_named(layer_key(i, "0.fn.ff.2.weight"), {dim_, ff_inner_});
    l.self_norm_w = w.get_named(layer_key(i, "1.fn.norm.weight"), {dim_});
    l.self_norm_b = w.get_named(layer_key(i, "1.fn.norm.bias"), {dim_});
    l.inv_freq = w.get_named(layer_key(i, "1.fn.rotary_emb.inv_freq"), {head_dim_ / 2});
    l.fused_proj = w.get_named(layer_key(i, "1.fn.fused_attn_ff_proj.weight"),
                               {inner + 2 * head_dim_ + 2 * ff_inner_, dim_});
    l.attn_out = w.get_named(layer_key(i, "1.fn.attn_out.weight"), {dim_, inner});
    l.ff_out = w.get_named(layer_key(i, "1.fn.ff_out.1.weight"), {dim_, ff_inner_});
    layers_.push_back(std::move(l));
  }
  if (layers_.empty()) throw Error(w.path(), "MPS cross_model has no layers");
}

at::Tensor MpsHead::condition_mask(const at::Tensor& text_tokens, const at::Tensor& condition_tokens,
                                   double threshold) const {
  // einsum('b i d, b j d -> b j i', text_f, cond_f), max over the condition tokens j, divided by
  // the overall max; one prompt per call, as infer_one_sample scores one prompt at a time.
  const at::Tensor sim = condition_tokens.matmul(text_tokens.t());  // [j (condition), i (prompt)]
  at::Tensor per_token = std::get<0>(sim.max(0));                    // [i]
  per_token = per_token / per_token.max();
  const at::Tensor zero = torch::zeros_like(per_token);
  const at::Tensor neg_inf = torch::full_like(per_token, -std::numeric_limits<float>::infinity());
  return at::where(per_token > threshold, zero, neg_inf).to(torch::kFloat32);
}

at::Tensor MpsHead::cross_attention(const Layer& l, const at::Tensor& x, const at::Tensor& context,
                                    const at::Tensor& mask) const {
  const int64_t n = x.size(0), t = x.size(1);
  const at::Tensor xn = at::layer_norm(x, {dim_}, l.cross_norm_w, l.cross_norm_b, 1e-5);
  // q: [N, heads, T, dh], scaled; k, v: one shared head from the (un-normalised) context.
  const at::Tensor q = at::linear(xn, l.to_q).view({n, t, heads_, head_dim_}).transpose(1, 2) *
                       std::pow(static_cast<double>(head_dim_), -0.5);
  const auto kv = at::linear(context, l.to_kv).chunk(2, -1);  // [N, C, dh] each
  at::Tensor sim = q.matmul(kv[0].unsqueeze(1).transpose(-2, -1));  // [N, heads, T, C]
  sim = sim + mask;                                                 // [N or 1, 1, T or 1, C]
  sim = sim - std::get<0>(sim.max(-1, /*keepdim=*/true));
  const at::Tensor attn = at::softmax(sim, -1);
  const at::Tensor out = attn.matmul(kv[1].unsqueeze(1)).transpose(1, 2).reshape({n, t, -1});
  return at::linear(out, l.to_out) + at::linear(swiglu(at::linear(xn, l.cross_ff_in)), l.cross_ff_out);
}

at::Tensor MpsHead::parallel_block(const Layer& l, const at::Tensor& x) const {
  const int64_t n = x.size(0), t = x.size(1), inner = heads_ * head_dim_;
  const at::Tensor xn = at::layer_norm(x, {dim_}, l.self_norm_w, l.self_norm_b, 1e-5);
  const auto parts = at::linear(xn, l.fused_proj).split_with_sizes({inner, head_dim_, head_dim_, 2 * ff_inner_}, -1);
  // Rotary embedding over positions 0..T-1 (RotaryEmbedding: freqs = pos ⊗ inv_freq, cat twice).
  const at::Tensor positions = torch::arange(t, l.inv_freq.options());
  const at::Tensor freqs = positions.unsqueeze(1) * l.inv_freq.unsqueeze(0);
  const at::Tensor angles = at::cat({freqs, freqs}, -1);  // [T, dh]
  const at::Tensor cos = angles.cos(), sin = angles.sin();
  at::Tensor q = parts[0].view({n, t, heads_, head_dim_}).transpose(1, 2);  // [N, h, T, dh]
  at::Tensor k = parts[1];                                                  // [N, T, dh]
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  q = q * std::pow(static_cast<double>(head_dim_), -0.5);
  at::Tensor sim = q.matmul(k.unsqueeze(1).transpose(-2, -1));  // [N, h, T, T]
  sim = sim - std::get<0>(sim.max(-1, /*keepdim=*/true));
  const at::Tensor attn = at::softmax(sim, -1);
  const at::Tensor out = attn.matmul(parts[2].unsqueeze(1)).transpose(1, 2).reshape({n, t, inner});
  return at::linear(out, l.attn_out) + at::linear(swiglu(parts[3]), l.ff_out);
}

at::Tensor MpsHead::cross_attend_class_token(const at::Tensor& image_tokens,
                                             const at::Tensor& text_tokens,
                                             const at::Tensor& mask) const {
  const int64_t n = image_tokens.size(0);
  at::Tensor x = image_tokens;
  const at::Tensor context = text_tokens.to(x.scalar_type()).unsqueeze(0).expand({n, -1, -1});
  // The mask is the same for every image query: [1, 1, 1, C] broadcasts over batch, heads, queries.
  const at::Tensor m = mask.to(x.device(), x.scalar_type()).view({1, 1, 1, -1});
  for (const Layer& l : layers_) {
    x = x + cross_attention(l, x, context, m);
    x = x + parallel_block(l, x);
  }
  return x.select(1, 0);
}

}  // namespace prefscore
