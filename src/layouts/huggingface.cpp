// transformers CLIPModel keys (transformers src/transformers/models/clip/modeling_clip.py):
// PickScore_v1, laion CLIP-ViT-H-14, and (under "model.") MPS.
#include "layout.h"

namespace prefscore {
namespace {

std::vector<WeightEntry> clip_model_entries() {
  return {
      {WeightId::kVisionPatchEmbed, {"vision_model.embeddings.patch_embedding.weight"}},
      {WeightId::kVisionClassEmbed, {"vision_model.embeddings.class_embedding"}},
      {WeightId::kVisionPosEmbed, {"vision_model.embeddings.position_embedding.weight"}},
      {WeightId::kVisionLnPreWeight, {"vision_model.pre_layrnorm.weight"}},  // sic
      {WeightId::kVisionLnPreBias, {"vision_model.pre_layrnorm.bias"}},
      {WeightId::kVisionLnPostWeight, {"vision_model.post_layernorm.weight"}},
      {WeightId::kVisionLnPostBias, {"vision_model.post_layernorm.bias"}},
      {WeightId::kVisionProj, {"visual_projection.weight"}},
      {WeightId::kTextTokenEmbed, {"text_model.embeddings.token_embedding.weight"}},
      {WeightId::kTextPosEmbed, {"text_model.embeddings.position_embedding.weight"}},
      {WeightId::kTextLnFinalWeight, {"text_model.final_layer_norm.weight"}},
      {WeightId::kTextLnFinalBias, {"text_model.final_layer_norm.bias"}},
      {WeightId::kTextProj, {"text_projection.weight"}},
      {WeightId::kLogitScale, {"logit_scale"}},
      {WeightId::kBlockLn1Weight, {"layer_norm1.weight"}},
      {WeightId::kBlockLn1Bias, {"layer_norm1.bias"}},
      {WeightId::kBlockAttnInProjWeight,
       {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"}},
      {WeightId::kBlockAttnInProjBias,
       {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"}},
      {WeightId::kBlockAttnOutProjWeight, {"self_attn.out_proj.weight"}},
      {WeightId::kBlockAttnOutProjBias, {"self_attn.out_proj.bias"}},
      {WeightId::kBlockLn2Weight, {"layer_norm2.weight"}},
      {WeightId::kBlockLn2Bias, {"layer_norm2.bias"}},
      {WeightId::kBlockMlpFcWeight, {"mlp.fc1.weight"}},
      {WeightId::kBlockMlpFcBias, {"mlp.fc1.bias"}},
      {WeightId::kBlockMlpProjWeight, {"mlp.fc2.weight"}},
      {WeightId::kBlockMlpProjBias, {"mlp.fc2.bias"}},
  };
}

// position_ids are index buffers that older transformers versions saved; they are 0..n-1.
const std::vector<std::string> kIgnored = {"vision_model.embeddings.position_ids",
                                           "text_model.embeddings.position_ids"};

}  // namespace

const WeightLayout& huggingface_layout() {
  static const WeightLayout layout{"huggingface", "", "vision_model.encoder.layers.{layer}.",
                                   "text_model.encoder.layers.{layer}.", clip_model_entries(),
                                   kIgnored};
  return layout;
}

// MPS (Kwai-Kolors/MPS trainer/models/clip_model.py) wraps a transformers CLIPModel as `model`,
// next to its `cross_model` head (whose keys the MPS head reads with Weights::get_named).
const WeightLayout& mps_layout() {
  static const WeightLayout layout{"mps", "model.", "vision_model.encoder.layers.{layer}.",
                                   "text_model.encoder.layers.{layer}.", clip_model_entries(),
                                   kIgnored};
  return layout;
}

}  // namespace prefscore
