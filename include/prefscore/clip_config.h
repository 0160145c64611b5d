// The dimensions of a CLIP dual encoder, from a model card or from the official config files:
// transformers' `config.json` (CLIPConfig: text_config / vision_config) and open_clip's model
// config JSON (the format of open_clip src/open_clip/model_configs/ViT-H-14.json).
#pragma once

#include <cstdint>
#include <string>

namespace prefscore {

// Dimensions of a CLIP dual encoder (vision + text tower), as in open_clip's model configs and
// transformers' CLIPConfig.
struct ClipArchitecture {
  int64_t image_size = 224;
  int64_t patch_size = 14;
  int64_t vision_width = 1280;
  int64_t vision_layers = 32;
  int64_t vision_heads = 16;
  int64_t text_width = 1024;
  int64_t text_layers = 24;
  int64_t text_heads = 16;
  double mlp_ratio = 4.0;
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  int64_t embed_dim = 1024;
  std::string activation = "gelu";  // "gelu" (erf) or "quick_gelu"
  double layer_norm_eps = 1e-5;

  int64_t vision_mlp_width() const;
  int64_t text_mlp_width() const;
  int64_t vision_tokens() const;  // 1 + (image_size / patch_size)^2
};

// Reads a transformers CLIPConfig `config.json` (also accepts the older `text_config_dict` /
// `vision_config_dict` keys); absent fields take transformers' CLIPConfig defaults. Throws
// Error(path, ...) when the JSON is malformed or describes something prefscore cannot run.
ClipArchitecture clip_architecture_from_hf_config(const std::string& path);

// Reads an open_clip model config (embed_dim, quick_gelu, vision_cfg, text_cfg); absent fields take
// open_clip's CLIPVisionCfg / CLIPTextCfg defaults.
ClipArchitecture clip_architecture_from_open_clip_config(const std::string& path);

}  // namespace prefscore
