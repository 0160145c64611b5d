// Named access to checkpoint tensors, independent of the checkpoint layout. A layout table
// (src/layouts/<layout>.cpp) maps each WeightId to the official key name(s); modules ask for
// `w.get(WeightId::kBlockAttnInProjWeight, Tower::kVision, layer, {3 * d, d})` and never build key
// strings (whisper.cpp whisper-arch.h). Tensors are returned in one canonical form whatever the
// layout: linear weights [out, in] (open_clip's [in, out] projections are transposed), q/k/v
// packed as [3W, W] (transformers' separate q/k/v are concatenated).
//
// Every request is checked (shape; dtype is floating point) and recorded; a missing tensor is
// collected rather than thrown at once, so finish() can list every missing and every unused tensor
// in one error: no silent partial loads.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "prefscore/run_options.h"
#include "prefscore/safetensors.h"

namespace prefscore {

enum class Tower { kVision, kText };

enum class WeightId {
  // vision tower
  kVisionPatchEmbed,  // [W, 3, P, P], no bias
  kVisionClassEmbed,  // [W]
  kVisionPosEmbed,    // [tokens, W]
  kVisionLnPreWeight,
  kVisionLnPreBias,
  kVisionLnPostWeight,
  kVisionLnPostBias,
  kVisionProj,  // [E, W]
  // text tower
  kTextTokenEmbed,  // [vocab, W]
  kTextPosEmbed,    // [context, W]
  kTextLnFinalWeight,
  kTextLnFinalBias,
  kTextProj,  // [E, W]
  kLogitScale,  // scalar
  // residual blocks of either tower (Tower + layer)
  kBlockLn1Weight,
  kBlockLn1Bias,
  kBlockAttnInProjWeight,  // [3W, W]: q, k, v
  kBlockAttnInProjBias,    // [3W]
  kBlockAttnOutProjWeight,
  kBlockAttnOutProjBias,
  kBlockLn2Weight,
  kBlockLn2Bias,
  kBlockMlpFcWeight,  // [mlp, W]
  kBlockMlpFcBias,
  kBlockMlpProjWeight,  // [W, mlp]
  kBlockMlpProjBias,
};

struct WeightLayout;  // src/layouts/layout.h

// The layout names a card or --layout may use: "huggingface", "open_clip", "mps".
const WeightLayout& weight_layout(const std::string& name);

class Weights {
 public:
  // `options` gives the device and dtype tensors are converted to (once, here); a tensor already
  // in that dtype on CPU is returned as a zero-copy view of the mapped file.
  Weights(SafetensorsFile file, const WeightLayout& layout, const RunOptions& options);

  // Empty (undefined) tensor when missing: the name is recorded for finish().
  at::Tensor get(WeightId id, const std::vector<int64_t>& shape);
  at::Tensor get(WeightId id, Tower tower, int64_t layer, const std::vector<int64_t>& shape);
  // get() without reading the tensor: checks that it is there (recorded as used, or as missing
  // for finish()) with a floating-point dtype and that shape, for a caller that has its values
  // from elsewhere (packed weights cached from this very file). True when present.
  bool check(WeightId id, Tower tower, int64_t layer, const std::vector<int64_t>& shape);
  // A tensor by its full key in the file, for heads with weights outside the CLIP core (MPS
  // cross_model.*). `shape` entries of -1 match any size.
  at::Tensor get_named(const std::string& name, const std::vector<int64_t>& shape);
  // The raw shape of a named tensor, or empty when absent (heads read dims from shapes).
  std::vector<int64_t> shape_of(const std::string& name) const;
  bool contains(const std::string& name) const;

  // After the caller copied `t` elsewhere (packed it): when `t` is a zero-copy view of the mapped
  // file, drops its pages from the resident set, so that a checkpoint already in the compute dtype
  // is not held twice; no effect otherwise.
  void release_pages(const at::Tensor& t) const;

  // Tensors whose full key starts with `prefix` are allowed to stay unused.
  void ignore_prefix(std::string prefix);
  // Throws Error(file, ...) listing every missing tensor, then every unused one.
  void finish() const;

  const std::string& path() const { return file_.path(); }
  const RunOptions& options() const { return options_; }

 private:
  at::Tensor load(const std::vector<std::string>& keys, bool transpose,
                  const std::vector<int64_t>& shape);
  std::vector<std::string> block_keys(WeightId id, Tower tower, int64_t layer) const;
  // Looks up, records and checks (dtype, shape) every key; views of the file in `parts`.
  bool check_parts(const std::vector<std::string>& keys, bool transpose,
                   const std::vector<int64_t>& shape, std::vector<at::Tensor>& parts,
                   std::vector<const TensorInfo*>& infos);

  SafetensorsFile file_;
  const WeightLayout& layout_;
  RunOptions options_;
  std::set<std::string> used_;
  std::vector<std::string> missing_;
  std::vector<std::string> ignored_prefixes_;
};

}  // namespace prefscore
