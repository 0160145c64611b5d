// The preference heads on top of the shared CLIP core, each exactly as its official code scores:
// - PickScore (yuvalkirstain/PickScore README): exp(logit_scale) * cos(text, image); candidate
//   probabilities by softmax over the images of one prompt.
// - HPS v2 / v2.1 (tgxs002/HPSv2 hpsv2/img_score.py): the cosine of the L2-normalised features.
// - CLIP score: the cosine; also 100 * max(cos, 0) (the CLIPScore convention as torchmetrics
//   reports it).
// - MPS (Kwai-Kolors/MPS eval_overall_mps_on_hpdv2.py infer_one_sample, trainer/models/
//   cross_modeling.py Cross_model): the prompt's tokens are masked by their similarity to a
//   condition text, the image tokens cross-attend to the kept prompt tokens, and the class-token
//   output is compared with the prompt's EOS feature.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "prefscore/weights.h"

namespace prefscore {

// L2-normalised rows (x / ||x||, as the official code divides by .norm()).
at::Tensor l2_normalize(const at::Tensor& x);
// Cosine of every text row with every image row: [P, E] x [N, E] -> [P, N], float32.
at::Tensor cosine_matrix(const at::Tensor& text_embeds, const at::Tensor& image_embeds);
// exp(logit_scale) * cosine, computed as the official code orders it: (scale * text_n) @ image_nᵀ.
at::Tensor scaled_cosine_matrix(const at::Tensor& text_embeds, const at::Tensor& image_embeds,
                                double logit_scale);
// Softmax over the last dimension (the candidate images of each prompt), float32.
at::Tensor softmax_over_images(const at::Tensor& scaled_scores);

// MPS's Cross_model with the dims read from the tensor shapes of `cross_model.*`.
class MpsHead {
 public:
  explicit MpsHead(Weights& weights);

  // The prompt-token mask of one prompt under one condition: text_tokens and condition_tokens are
  // the projected last hidden states [77, E] of the prompt and of the condition text. For each
  // prompt token, the max similarity over the condition's tokens, divided by the max over the
  // prompt's tokens; kept (0) where > threshold, else -inf. Returns [77] float32.
  at::Tensor condition_mask(const at::Tensor& text_tokens, const at::Tensor& condition_tokens,
                            double threshold = 0.3) const;
  // Cross_model(image_tokens, text_tokens, mask)[:, 0, :]: image_tokens [N, T, E] (projected, no
  // post-LN), text_tokens [77, E] of one prompt, mask [77]. Returns [N, E].
  at::Tensor cross_attend_class_token(const at::Tensor& image_tokens,
                                      const at::Tensor& text_tokens, const at::Tensor& mask) const;

  int64_t layers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t heads() const { return heads_; }
  int64_t head_dim() const { return head_dim_; }

 private:
  struct Layer {
    // CrossAttention (multi-query: one shared key/value head) with a parallel SwiGLU feed-forward
    at::Tensor cross_norm_w, cross_norm_b, to_q, to_kv, to_out, cross_ff_in, cross_ff_out;
    // ParallelTransformerBlock (rotary, multi-query self-attention, parallel SwiGLU)
    at::Tensor self_norm_w, self_norm_b, inv_freq, fused_proj, attn_out, ff_out;
  };
  at::Tensor cross_attention(const Layer& l, const at::Tensor& x, const at::Tensor& context,
                             const at::Tensor& mask) const;
  at::Tensor parallel_block(const Layer& l, const at::Tensor& x) const;

  std::vector<Layer> layers_;
  int64_t dim_ = 0, heads_ = 0, head_dim_ = 0, ff_inner_ = 0;
};

}  // namespace prefscore
