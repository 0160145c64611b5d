// The CLIP dual encoder every metric shares: a ViT image tower and a causal text transformer, as
// open_clip's `CLIP` (mlfoundations/open_clip src/open_clip/model.py, transformer.py
// VisionTransformer / TextTransformer) and transformers' `CLIPModel` (modeling_clip.py) compute
// them; the two agree to float rounding, and so does this port. Dims come from a ClipArchitecture
// (model card or official config), weights from a Weights view of either layout, so the same code
// runs the real ViT-H/14 and the tiny fixture models.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "prefscore/clip_config.h"
#include "prefscore/weights.h"

namespace prefscore {

class OnednnTransformer;      // src/onednn_transformer.h
class PackedWeightsFile;      // src/packed_weights_file.h
enum class LinearPrecision;  // src/onednn_transformer.h

// Whether RunOptions::int8_image_linears (--precision int8) can run here: a build with oneDNN and
// native int8 (AVX512-VNNI or AMX) and bf16 GEMM kernels for this CPU.
bool int8_image_linears_available();

// Where the CPU oneDNN path (bf16, int8) keeps each tower's linear weights packed for this CPU, so
// that later loads map them instead of converting and packing the checkpoint again (ViT-H: ~2 GB
// in bf16, ~1.2 GB in int8 per model). One file per checkpoint path, tower and precision,
// replaced when the checkpoint changes (path, size, mtime), the dims or the oneDNN build do; a
// file that is damaged or stale is packed again, never used.
struct PackedWeightsCache {
  std::string dir;  // empty: no cache (pack at every load)
};

// What a load did with the packed-weights cache.
struct PackedWeightsReport {
  bool vision_mapped = false, text_mapped = false;  // the tower's weights came from the cache
  // One line per file not used (why) or not written (why): the caller warns.
  std::vector<std::string> problems;
};

class ClipModel {
 public:
  // Takes every CLIP tensor from `weights` (shapes checked against `arch`). Does not call
  // weights.finish(): a head may still take its own tensors. A tower whose packed weights are
  // mapped from `cache` still has its tensors checked (present, shape) but not read.
  ClipModel(const ClipArchitecture& arch, Weights& weights, const PackedWeightsCache& cache = {});

  struct VisionOutput {
    at::Tensor tokens;  // [N, tokens, W]: last block's output, before ln_post (MPS uses these)
    at::Tensor embeds;  // [N, E]: ln_post(class token) @ proj, not normalised
    // keep_hidden: [input of block 0 (after ln_pre), output of block 0, ..., output of last block]
    std::vector<at::Tensor> hidden;
  };
  struct TextOutput {
    at::Tensor tokens;  // [M, context, W]: after ln_final
    at::Tensor embeds;  // [M, E]: the pooled token @ text_projection, not normalised
    std::vector<at::Tensor> hidden;  // keep_hidden: [embeddings, output of block 0, ...]
  };

  // pixel_values [N, 3, S, S] (any float dtype; converted to the compute dtype). On CPU in bf16
  // the blocks run on oneDNN with a float32 residual stream (src/onednn_transformer.h) when the
  // build and the CPU allow; outputs are in the compute dtype either way.
  VisionOutput encode_image(const at::Tensor& pixel_values, bool keep_hidden = false) const;
  // input_ids [M, context] int64. Pools at the first occurrence of the highest id in each row,
  // i.e. the first <end_of_text> (49407): open_clip's `text.argmax(dim=-1)` and transformers'
  // `input_ids.argmax(-1)` for the legacy eos_token_id == 2 configs of these checkpoints. With a
  // causal mask, what follows that position (the pad id) cannot change the pooled feature.
  TextOutput encode_text(const at::Tensor& input_ids, bool keep_hidden = false) const;
  // encode_text in two steps, so that gradients can be taken w.r.t. the token embeddings
  // (explain's gradient x input): embed_text_tokens(ids) = the token_embedding rows [M, context, W]
  // (checked ids, no positional embedding); encode_text_embeddings(embed_text_tokens(ids), ids)
  // == encode_text(ids).
  at::Tensor embed_text_tokens(const at::Tensor& input_ids) const;
  TextOutput encode_text_embeddings(const at::Tensor& token_embeddings, const at::Tensor& input_ids,
                                    bool keep_hidden = false) const;
  // Whether autograd can run through both towers: false when a CPU bf16 oneDNN fast path (which
  // has no backward) replaces a tower's blocks.
  bool differentiable() const { return !vision_fast_ && !text_fast_; }

  // visual_projection / text_projection applied to every token ([.., W] -> [.., E]).
  at::Tensor project_image_tokens(const at::Tensor& tokens) const;
  at::Tensor project_text_tokens(const at::Tensor& tokens) const;

  // The learned temperature (log scale), as stored: PickScore and MPS multiply by exp() of it.
  double logit_scale() const { return logit_scale_; }
  const ClipArchitecture& architecture() const { return arch_; }
  const PackedWeightsReport& packed_weights_report() const { return packed_report_; }
  const RunOptions& options() const { return options_; }

 private:
  struct Block {
    at::Tensor ln1_w, ln1_b, in_w, in_b, out_w, out_b, ln2_w, ln2_b, fc_w, fc_b, proj_w, proj_b;
  };
  // linear_weights false: the four linear weights are only checked (Weights::check), left
  // undefined.
  static std::vector<Block> load_blocks(Weights& w, Tower tower, int64_t layers, int64_t width,
                                        int64_t mlp_width, bool linear_weights = true);
  // The tower's oneDNN blocks: packed weights mapped from `cache` when it holds usable ones, else
  // packed from `w` (straight into a new cache file when there is a cache). Null when a block tensor is missing (finish()
  // reports it).
  std::shared_ptr<const OnednnTransformer> load_fast_tower(Weights& w, Tower tower,
                                                           LinearPrecision precision,
                                                           const PackedWeightsCache& cache);
  std::shared_ptr<const OnednnTransformer> make_fast(
      std::vector<Block>& blocks, int64_t tokens, int64_t heads, bool causal,
      LinearPrecision precision, const Weights& source,
      std::shared_ptr<PackedWeightsFile> packed) const;
  at::Tensor run_block(const Block& b, const at::Tensor& x, int64_t heads,
                       const at::Tensor& attn_mask) const;

  ClipArchitecture arch_;
  RunOptions options_;
  // vision
  at::Tensor patch_w_, class_emb_, vis_pos_, ln_pre_w_, ln_pre_b_, ln_post_w_, ln_post_b_, vis_proj_;
  std::vector<Block> vision_blocks_;
  // text
  at::Tensor tok_emb_, txt_pos_, ln_final_w_, ln_final_b_, txt_proj_, causal_mask_;
  std::vector<Block> text_blocks_;
  // CPU bf16 fast path for each tower; when set, the tower's Blocks above are left empty.
  std::shared_ptr<const OnednnTransformer> vision_fast_, text_fast_;
  double logit_scale_ = 0.0;
  PackedWeightsReport packed_report_;
};

}  // namespace prefscore
