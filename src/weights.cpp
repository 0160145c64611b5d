#include "prefscore/weights.h"

#include <torch/torch.h>

#include <sstream>

#include "layouts/layout.h"
#include "prefscore/error.h"
#include "prefscore/safetensors_torch.h"

namespace prefscore {
namespace {

std::string shape_text(at::IntArrayRef shape) { return format_shape(shape.vec()); }

bool shape_matches(at::IntArrayRef got, const std::vector<int64_t>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] != -1 && got[i] != want[i]) return false;
  }
  return true;
}

std::string replace_layer(std::string pattern, int64_t layer) {
  const std::string placeholder = "{layer}";
  const auto at = pattern.find(placeholder);
  if (at != std::string::npos) pattern.replace(at, placeholder.size(), std::to_string(layer));
  return pattern;
}

const WeightEntry& entry_for(const WeightLayout& layout, WeightId id) {
  for (const WeightEntry& e : layout.entries) {
    if (e.id == id) return e;
  }
  throw Error(layout.name, "layout has no entry for weight id " +
                               std::to_string(static_cast<int>(id)));
}

// Lists at most 10 names, then a count, so an error stays one readable line.
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 10) out += ", ... (" + std::to_string(names.size() - 10) + " more)";
  return out;
}

}  // namespace

const WeightLayout& weight_layout(const std::string& name) {
  if (name == "huggingface" || name == "hf") return huggingface_layout();
  if (name == "open_clip" || name == "openclip") return open_clip_layout();
  if (name == "mps") return mps_layout();
  throw Error(name, "unknown checkpoint layout; expected huggingface, open_clip or mps");
}

Weights::Weights(SafetensorsFile file, const WeightLayout& layout, const RunOptions& options)
    : file_(std::move(file)), layout_(layout), options_(options) {
  for (const std::string& p : layout_.ignored_prefixes) {
    ignored_prefixes_.push_back(layout_.key_prefix + p);
  }
}

at::Tensor Weights::load(const std::vector<std::string>& keys, bool transpose,
                         const std::vector<int64_t>& shape) {
  std::vector<at::Tensor> parts;
  std::vector<const TensorInfo*> infos;
  if (!check_parts(keys, transpose, shape, parts, infos)) return at::Tensor();
  at::Tensor t = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
  if (transpose) t = t.t();
  // Zero-copy when the file already holds the compute dtype on CPU; else one conversion here.
  if (t.scalar_type() != options_.dtype || t.device() != options_.device || !t.is_contiguous()) {
    t = t.to(options_.device, options_.dtype).contiguous();
    // A copy now: this process no longer needs the file's pages of it (a tensor asked for twice
    // would only fault them back in).
    for (const TensorInfo* info : infos) file_.drop_pages(*info);
  }
  return t;
}

bool Weights::check_parts(const std::vector<std::string>& keys, bool transpose,
                          const std::vector<int64_t>& shape, std::vector<at::Tensor>& parts,
                          std::vector<const TensorInfo*>& infos) {
  for (const std::string& key : keys) {
    const TensorInfo* info = file_.find(key);
    if (info == nullptr) {
      missing_.push_back(key);
      continue;
    }
    if (info->dtype != DType::kF32 && info->dtype != DType::kF16 && info->dtype != DType::kBF16 &&
        info->dtype != DType::kF64) {
      throw Error(file_.path(), "tensor '" + key + "' has dtype " +
                                    std::string(dtype_name(info->dtype)) +
                                    ", expected a floating-point dtype (F32, F16, BF16)");
    }
    used_.insert(key);
    infos.push_back(info);
    parts.push_back(tensor_view(file_, *info));
  }
  if (parts.size() != keys.size()) return false;
  // Concatenated parts (q, k, v) are checked one by one, so the error names the bad key.
  std::vector<int64_t> part_shape = shape;
  if (parts.size() > 1 && !part_shape.empty()) part_shape[0] /= static_cast<int64_t>(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    // Transposed keys are 2-D projections; anything else fails the shape check below.
    const at::Tensor oriented = transpose && parts[i].dim() == 2 ? parts[i].t() : parts[i];
    if (!shape_matches(oriented.sizes(), parts.size() > 1 ? part_shape : shape)) {
      throw Error(file_.path(), "tensor '" + keys[i] + "' has shape " +
                                    shape_text(parts[i].sizes()) + ", expected " +
                                    shape_text(parts.size() > 1 ? part_shape : shape) +
                                    (transpose ? " transposed" : "") + " (does the checkpoint match the model card/config?)");
    }
  }
  return true;
}

at::Tensor Weights::get(WeightId id, const std::vector<int64_t>& shape) {
  const WeightEntry& e = entry_for(layout_, id);
  std::vector<std::string> keys;
  for (const std::string& n : e.names) keys.push_back(layout_.key_prefix + n);
  return load(keys, e.transpose, shape);
}

std::vector<std::string> Weights::block_keys(WeightId id, Tower tower, int64_t layer) const {
  const WeightEntry& e = entry_for(layout_, id);
  const std::string prefix = replace_layer(
      tower == Tower::kVision ? layout_.vision_block_prefix : layout_.text_block_prefix, layer);
  std::vector<std::string> names;
  for (const std::string& n : e.names) names.push_back(layout_.key_prefix + prefix + n);
  return names;
}

at::Tensor Weights::get(WeightId id, Tower tower, int64_t layer,
                        const std::vector<int64_t>& shape) {
  return load(block_keys(id, tower, layer), entry_for(layout_, id).transpose, shape);
}

bool Weights::check(WeightId id, Tower tower, int64_t layer, const std::vector<int64_t>& shape) {
  std::vector<at::Tensor> parts;
  std::vector<const TensorInfo*> infos;
  return check_parts(block_keys(id, tower, layer), entry_for(layout_, id).transpose, shape, parts,
                     infos);
}

at::Tensor Weights::get_named(const std::string& name, const std::vector<int64_t>& shape) {
  return load({name}, /*transpose=*/false, shape);
}

std::vector<int64_t> Weights::shape_of(const std::string& name) const {
  const TensorInfo* info = file_.find(name);
  return info == nullptr ? std::vector<int64_t>{} : info->shape;
}

bool Weights::contains(const std::string& name) const {
  return file_.contains(name);
}

void Weights::release_pages(const at::Tensor& t) const {
  if (t.defined() && t.device().is_cpu()) file_.drop_pages(t.data_ptr(), t.nbytes());
}

void Weights::ignore_prefix(std::string prefix) { ignored_prefixes_.push_back(std::move(prefix)); }

void Weights::finish() const {
  if (!missing_.empty()) {
    throw Error(file_.path(), std::to_string(missing_.size()) + " tensor(s) missing for layout '" +
                                  layout_.name + "': " + name_list(missing_) +
                                  " (wrong --layout, or an incomplete checkpoint?)");
  }
  std::vector<std::string> unused;
  for (const TensorInfo& t : file_.tensors()) {
    if (used_.count(t.name)) continue;
    bool ignored = false;
    for (const std::string& p : ignored_prefixes_) {
      if (t.name.compare(0, p.size(), p) == 0) {
        ignored = true;
      }
    }
    if (!ignored) unused.push_back(t.name);
  }
  if (!unused.empty()) {
    throw Error(file_.path(), std::to_string(unused.size()) + " tensor(s) not used by layout '" +
                                  layout_.name + "': " + name_list(unused) +
                                  " (wrong --layout, or a different architecture?)");
  }
}

}  // namespace prefscore
