// open_clip CLIP keys (mlfoundations/open_clip src/open_clip/model.py, transformer.py): HPS v2 and
// v2.1 (tgxs002/HPSv2 vendors the same module names).
#include "layout.h"

namespace prefscore {

const WeightLayout& open_clip_layout() {
  static const WeightLayout layout{
      "open_clip",
      "",
      "visual.transformer.resblocks.{layer}.",
      "transformer.resblocks.{layer}.",
      {
          {WeightId::kVisionPatchEmbed, {"visual.conv1.weight"}},
          {WeightId::kVisionClassEmbed, {"visual.class_embedding"}},
          {WeightId::kVisionPosEmbed, {"visual.positional_embedding"}},
          {WeightId::kVisionLnPreWeight, {"visual.ln_pre.weight"}},
          {WeightId::kVisionLnPreBias, {"visual.ln_pre.bias"}},
          {WeightId::kVisionLnPostWeight, {"visual.ln_post.weight"}},
          {WeightId::kVisionLnPostBias, {"visual.ln_post.bias"}},
          {WeightId::kVisionProj, {"visual.proj"}, /*transpose=*/true},
          {WeightId::kTextTokenEmbed, {"token_embedding.weight"}},
          {WeightId::kTextPosEmbed, {"positional_embedding"}},
          {WeightId::kTextLnFinalWeight, {"ln_final.weight"}},
          {WeightId::kTextLnFinalBias, {"ln_final.bias"}},
          {WeightId::kTextProj, {"text_projection"}, /*transpose=*/true},
          {WeightId::kLogitScale, {"logit_scale"}},
          {WeightId::kBlockLn1Weight, {"ln_1.weight"}},
          {WeightId::kBlockLn1Bias, {"ln_1.bias"}},
          {WeightId::kBlockAttnInProjWeight, {"attn.in_proj_weight"}},
          {WeightId::kBlockAttnInProjBias, {"attn.in_proj_bias"}},
          {WeightId::kBlockAttnOutProjWeight, {"attn.out_proj.weight"}},
          {WeightId::kBlockAttnOutProjBias, {"attn.out_proj.bias"}},
          {WeightId::kBlockLn2Weight, {"ln_2.weight"}},
          {WeightId::kBlockLn2Bias, {"ln_2.bias"}},
          {WeightId::kBlockMlpFcWeight, {"mlp.c_fc.weight"}},
          {WeightId::kBlockMlpFcBias, {"mlp.c_fc.bias"}},
          {WeightId::kBlockMlpProjWeight, {"mlp.c_proj.weight"}},
          {WeightId::kBlockMlpProjBias, {"mlp.c_proj.bias"}},
      },
      // attn_mask is the causal mask buffer (rebuilt here); some exports save it.
      {"attn_mask"}};
  return layout;
}

}  // namespace prefscore
