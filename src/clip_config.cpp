#include "prefscore/clip_config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

using nlohmann::json;

// Depth-limited (text_lines.h): configs are a few levels deep; a hostile one must not overflow the
// stack.
json parse_json_file(const std::string& path) { return parse_json_line(read_file(path), path); }

int64_t int_or(const json& j, const char* key, int64_t fallback, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() <= 0) {
    throw Error(path, std::string("'") + key + "' must be a positive integer, got " + it->dump());
  }
  return it->get<int64_t>();
}

double number_or(const json& j, const char* key, double fallback, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number() || it->get<double>() <= 0) {
    throw Error(path, std::string("'") + key + "' must be a positive number, got " + it->dump());
  }
  return it->get<double>();
}

std::string activation_of(const json& j, const std::string& path) {
  const std::string act = j.value("hidden_act", std::string("quick_gelu"));
  if (act == "gelu" || act == "quick_gelu") return act;
  throw Error(path, "hidden_act \"" + act + "\" is not supported (expected gelu or quick_gelu)");
}

const json& sub_config(const json& root, const char* key, const char* legacy_key) {
  static const json kEmpty = json::object();
  if (root.contains(key) && root[key].is_object()) return root[key];
  if (root.contains(legacy_key) && root[legacy_key].is_object()) return root[legacy_key];
  return kEmpty;
}

void validate(const ClipArchitecture& a, const std::string& path) {
  if (a.image_size % a.patch_size != 0) {
    throw Error(path, "image_size " + std::to_string(a.image_size) +
                          " is not a multiple of patch_size " + std::to_string(a.patch_size));
  }
  if (a.vision_width % a.vision_heads != 0 || a.text_width % a.text_heads != 0) {
    throw Error(path, "hidden sizes must be multiples of the attention head counts");
  }
}

}  // namespace

int64_t ClipArchitecture::vision_mlp_width() const {
  return static_cast<int64_t>(std::llround(static_cast<double>(vision_width) * mlp_ratio));
}
int64_t ClipArchitecture::text_mlp_width() const {
  return static_cast<int64_t>(std::llround(static_cast<double>(text_width) * mlp_ratio));
}
int64_t ClipArchitecture::vision_tokens() const {
  const int64_t grid = image_size / patch_size;
  return 1 + grid * grid;
}

ClipArchitecture clip_architecture_from_hf_config(const std::string& path) {
  const json root = parse_json_file(path);
  if (!root.is_object()) throw Error(path, "config is not a JSON object");
  const json& text = sub_config(root, "text_config", "text_config_dict");
  const json& vision = sub_config(root, "vision_config", "vision_config_dict");
  ClipArchitecture a;
  a.text_width = int_or(text, "hidden_size", 512, path);
  a.text_layers = int_or(text, "num_hidden_layers", 12, path);
  a.text_heads = int_or(text, "num_attention_heads", 8, path);
  a.context_length = int_or(text, "max_position_embeddings", 77, path);
  a.vocab_size = int_or(text, "vocab_size", 49408, path);
  a.vision_width = int_or(vision, "hidden_size", 768, path);
  a.vision_layers = int_or(vision, "num_hidden_layers", 12, path);
  a.vision_heads = int_or(vision, "num_attention_heads", 12, path);
  a.image_size = int_or(vision, "image_size", 224, path);
  a.patch_size = int_or(vision, "patch_size", 32, path);
  a.embed_dim = int_or(root, "projection_dim", 512, path);
  const int64_t text_mlp = int_or(text, "intermediate_size", 2048, path);
  const int64_t vision_mlp = int_or(vision, "intermediate_size", 3072, path);
  a.mlp_ratio = static_cast<double>(text_mlp) / static_cast<double>(a.text_width);
  if (vision_mlp * a.text_width != text_mlp * a.vision_width) {
    throw Error(path, "text and vision MLP ratios differ (" + std::to_string(text_mlp) + "/" +
                          std::to_string(a.text_width) + " vs " + std::to_string(vision_mlp) + "/" +
                          std::to_string(a.vision_width) + "); prefscore needs one ratio");
  }
  a.activation = activation_of(text, path);
  if (activation_of(vision, path) != a.activation) {
    throw Error(path, "text and vision towers use different activations; not supported");
  }
  a.layer_norm_eps = number_or(text, "layer_norm_eps", 1e-5, path);
  if (number_or(vision, "layer_norm_eps", 1e-5, path) != a.layer_norm_eps) {
    throw Error(path, "text and vision towers use different layer_norm_eps; not supported");
  }
  validate(a, path);
  return a;
}

ClipArchitecture clip_architecture_from_open_clip_config(const std::string& path) {
  const json root = parse_json_file(path);
  if (!root.is_object()) throw Error(path, "config is not a JSON object");
  if (!root.contains("embed_dim")) throw Error(path, "missing 'embed_dim' (not an open_clip model config?)");
  const json empty = json::object();
  const json& vision = root.contains("vision_cfg") ? root["vision_cfg"] : empty;
  const json& text = root.contains("text_cfg") ? root["text_cfg"] : empty;
  for (const char* unsupported : {"timm_model_name", "attentional_pool", "no_ln_pre",
                                  "final_ln_after_pool", "ls_init_value"}) {
    if (vision.contains(unsupported) && !vision[unsupported].is_null() &&
        vision[unsupported] != false) {
      throw Error(path, std::string("vision_cfg.") + unsupported + " is not supported");
    }
  }
  if (text.contains("hf_model_name")) throw Error(path, "text_cfg.hf_model_name is not supported");
  if (vision.contains("layers") && !vision["layers"].is_number_integer()) {
    throw Error(path, "vision_cfg.layers is not an integer (ResNet towers are not supported)");
  }
  ClipArchitecture a;
  a.embed_dim = int_or(root, "embed_dim", 0, path);
  a.image_size = int_or(vision, "image_size", 224, path);
  a.patch_size = int_or(vision, "patch_size", 16, path);
  a.vision_width = int_or(vision, "width", 768, path);
  a.vision_layers = int_or(vision, "layers", 12, path);
  a.vision_heads = a.vision_width / int_or(vision, "head_width", 64, path);
  a.text_width = int_or(text, "width", 512, path);
  a.text_layers = int_or(text, "layers", 12, path);
  a.text_heads = int_or(text, "heads", 8, path);
  a.context_length = int_or(text, "context_length", 77, path);
  a.vocab_size = int_or(text, "vocab_size", 49408, path);
  a.mlp_ratio = number_or(vision, "mlp_ratio", 4.0, path);
  if (number_or(text, "mlp_ratio", 4.0, path) != a.mlp_ratio) {
    throw Error(path, "text and vision mlp_ratio differ; not supported");
  }
  a.activation = root.value("quick_gelu", false) ? "quick_gelu" : "gelu";
  a.layer_norm_eps = 1e-5;  // open_clip's LayerNorm default
  validate(a, path);
  return a;
}

}  // namespace prefscore
