#include "prefscore/clip_loader.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"
#include "prefscore/text_lines.h"
#include "prefscore/weights_location.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

// Recognises a layout from one tensor name only that layout has.
std::string detect_layout(const SafetensorsFile& file) {
  if (file.contains("visual.conv1.weight")) return "open_clip";
  if (file.contains("vision_model.embeddings.patch_embedding.weight")) return "huggingface";
  if (file.contains("model.vision_model.embeddings.patch_embedding.weight")) return "mps";
  throw Error(file.path(), "cannot tell the checkpoint layout from its tensor names (no "
                           "visual.conv1.weight or vision_model.embeddings.patch_embedding.weight);"
                           " pass --layout");
}

// A transformers config.json has text_config/vision_config; an open_clip config has embed_dim.
ClipArchitecture architecture_from_config(const std::string& path) {
  const nlohmann::json j = parse_json_line(read_file(path), path);  // depth-limited
  if (j.is_object() && (j.contains("text_config") || j.contains("vision_config") ||
                        j.contains("text_config_dict"))) {
    return clip_architecture_from_hf_config(path);
  }
  if (j.is_object() && j.contains("embed_dim")) return clip_architecture_from_open_clip_config(path);
  throw Error(path, "neither a transformers CLIP config.json (text_config, vision_config) nor an "
                    "open_clip model config (embed_dim, vision_cfg, text_cfg)");
}

std::string first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  std::error_code ec;
  for (const char* n : names) {
    if (fs::is_regular_file(dir / n, ec)) return (dir / n).string();
  }
  return "";
}

}  // namespace

LoadedClip load_clip(const ClipSource& source, const std::vector<std::string>& card_dirs,
                     const std::string& weights_home, const RunOptions& options) {
  LoadedClip loaded;
  std::error_code ec;
  if (!source.model.empty()) {
    loaded.card = find_model_card(card_dirs, source.model);
    const WeightsLocation loc = require_weights(*loaded.card, source.weights, weights_home);
    for (const std::string& f : loc.files) {
      if (f.size() > 12 && f.compare(f.size() - 12, 12, ".safetensors") == 0) {
        loaded.weights_file = f;
        break;
      }
    }
    if (loaded.weights_file.empty()) {
      throw Error(loaded.card->card_path, "checkpoint.files lists no .safetensors file");
    }
    loaded.verification = verify_weights(*loaded.card, loc, source.verify);
    for (const FileVerification& f : loaded.verification) {
      if (f.path == loaded.weights_file && f.trust == FileTrust::kVerified) {
        loaded.verified_sha256 = f.file_sha256;
      }
    }
    loaded.layout = source.layout.empty() ? loaded.card->layout : source.layout;
    loaded.architecture = source.config.empty() ? loaded.card->architecture
                                                : architecture_from_config(source.config);
  } else {
    if (source.weights.empty()) {
      throw Error("", "no model given: pass --model NAME, --model-card FILE or --weights PATH");
    }
    const fs::path path(source.weights);
    std::string config = source.config;
    if (fs::is_directory(path, ec)) {
      loaded.weights_file = first_existing(
          path, {"model.safetensors", "mps_model.safetensors", "open_clip_model.safetensors"});
      if (loaded.weights_file.empty()) {
        throw Error(source.weights, "folder has no model.safetensors, mps_model.safetensors or "
                                    "open_clip_model.safetensors");
      }
      if (config.empty()) config = first_existing(path, {"config.json", "open_clip_config.json"});
    } else {
      loaded.weights_file = source.weights;
      if (config.empty()) {
        config = first_existing(path.parent_path(), {"config.json", "open_clip_config.json"});
      }
    }
    if (config.empty()) {
      throw Error(loaded.weights_file, "no config next to the weights (config.json or "
                                       "open_clip_config.json): pass --config FILE or --model NAME");
    }
    loaded.architecture = architecture_from_config(config);
  }

  SafetensorsFile file = SafetensorsFile::open(loaded.weights_file, source.limits);
  if (loaded.layout.empty()) {
    loaded.layout = source.layout.empty() ? detect_layout(file) : source.layout;
  }
  const WeightLayout& layout = weight_layout(loaded.layout);
  loaded.weights = std::make_unique<Weights>(std::move(file), layout, options);
  loaded.model = std::make_unique<ClipModel>(loaded.architecture, *loaded.weights,
                                             source.packed_weights);
  return loaded;
}

}  // namespace prefscore
