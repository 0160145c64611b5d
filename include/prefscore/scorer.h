// One scoring interface over the shared CLIP core and the preference heads. A Scorer is built from
// a model card (or a card-less official checkpoint plus a head name); it tokenizes and encodes each
// distinct prompt once (cached), encodes images in batches, and returns per-image scores for every
// metric column the head produces (one for PickScore, HPS v2 and CLIP score; one per condition for
// MPS). What a column means is the head's, as its official code defines it (heads.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "prefscore/clip_loader.h"
#include "prefscore/heads.h"
#include "prefscore/image.h"
#include "prefscore/tokenizer.h"

namespace prefscore {

struct ScorerSpec {
  ClipSource source;       // --model / --model-card / --weights / --layout / --config
  std::string head;        // card-less checkpoints: pickscore | hpsv2 | mps | clip
  std::vector<std::string> conditions;  // MPS: which conditions (empty = overall); others ignore it
  std::string vocab_path;  // bpe_simple_vocab_16e6.txt.gz
  DecodeOptions decode;    // pixel limit, EXIF orientation (off, as in the official code)
  // A longer prompt is refused (that item is skipped) before it is tokenized.
  std::size_t max_prompt_bytes = kDefaultMaxTextBytes;
};

// The official MPS condition texts: "overall" is the string of MPS's eval scripts; aesthetics,
// detail and semantic are the word lists of the MPS paper (only the overall checkpoint was
// released, so all four run on it).
const std::map<std::string, std::string>& mps_condition_texts();

// How a model's inputs are prepared: the card's preprocess and tokenizer; for a card-less
// checkpoint, what the head's official code uses (HPS v2: letterbox + open_clip tokenizer;
// PickScore, MPS: transformers CLIPProcessor; CLIP score: the checkpoint's own family).
struct EncoderFrontEnd {
  Pipeline pipeline = Pipeline::kHf;
  TokenizerOptions tokenizer = TokenizerOptions::hf(PadToken::kEndOfText);
};
EncoderFrontEnd encoder_front_end(const LoadedClip& clip, const std::string& head = "clip");

struct ImageFeatures {
  at::Tensor embeds;  // [N, E] projected, not normalised
  at::Tensor tokens;  // MPS only: [N, T, E] projected image tokens (no post-LN)
};

struct PromptScores {
  // [columns, N] float32: each column's own score (PickScore and MPS: exp(logit_scale)·cos;
  // HPS v2 and CLIP: the cosine).
  at::Tensor scores;
  // [columns, N] float32: exp(logit_scale)·cos, whose softmax over a prompt's candidate images is
  // the probability PickScore and MPS report (and prefscore reports for every head).
  at::Tensor scaled;
};

// Gradient x input for one image and one prompt (Scorer::input_gradients; explain.h says how it
// is used): per column, the gradient of that column's score w.r.t. an input times the input.
struct InputGradients {
  std::vector<double> score;  // per column, from the differentiable pass
  // Per column, S x S row-major: sum over the 3 channels of d score / d x * x, x = the normalised
  // model-input pixels (0 = the preprocessing mean colour).
  std::vector<std::vector<double>> pixel_maps;
  // Per column, per context position (77): sum over the width of d score / d e * e, e = that
  // position's token embedding row (without the positional embedding). Padding after EOT is 0 for
  // the heads that pool at EOT through the causal mask; MPS also reads the later positions.
  std::vector<std::vector<double>> token_values;
  TokenizedText tokens;  // the prompt as tokenized for the pass
};

class Scorer {
 public:
  Scorer(const ScorerSpec& spec, const std::vector<std::string>& card_dirs,
         const std::string& weights_home, const RunOptions& options);
  ~Scorer();

  // "pickscore", "hpsv2.1", ...: the card name, or the head name for a card-less checkpoint.
  const std::string& model_name() const { return model_name_; }
  const std::string& head() const { return head_; }
  // Column names: {"score"} or, for MPS, the condition names.
  const std::vector<std::string>& columns() const { return columns_; }
  const PreprocessOptions& preprocess_options() const { return preprocess_; }
  const TokenizerOptions& tokenizer_options() const { return tokenizer_options_; }
  const ClipModel& clip() const { return *clip_.model; }
  std::string weights_file() const { return clip_.weights_file; }
  // The model card, when the model was loaded from one.
  const std::optional<ModelCard>& card() const { return clip_.card; }
  // The card's files checked against its sha256 digests, and weights_file()'s digest when it was
  // verified (weights_verification.h).
  const std::vector<FileVerification>& verification() const { return clip_.verification; }
  const std::optional<std::string>& verified_sha256() const { return clip_.verified_sha256; }

  // pixel_values [N, 3, S, S] from the scorer's own preprocessing pipeline.
  ImageFeatures encode_images(const at::Tensor& pixel_values) const;
  // Scores of `prompt` against the images whose features are given; prompts are cached.
  PromptScores score(const std::string& prompt, const ImageFeatures& images);
  // One differentiable forward of pixel_values [1, 3, S, S] and `prompt` (not cached), then one
  // backward per column. Throws Error("--precision", ...) when the model has no backward (CPU bf16
  // on oneDNN: clip.h differentiable()).
  InputGradients input_gradients(const std::string& prompt, const at::Tensor& pixel_values) const;
  // The BPE ids of `text` without SOT/EOT, padding or truncation, as this scorer tokenizes.
  std::vector<int32_t> bpe_ids(const std::string& text) const;

 private:
  struct PromptFeatures {
    at::Tensor embeds;                 // [E]
    std::vector<at::Tensor> mps_masks; // per column, [77]
    at::Tensor tokens;                 // MPS: [77, E]
  };
  const PromptFeatures& prompt_features(const std::string& prompt);
  // The uncached, unguarded steps of encode_images / prompt_features / score: they run under
  // whatever autograd mode the caller set (InferenceMode when scoring, grad for attributions).
  ImageFeatures image_features(const at::Tensor& pixel_values) const;
  PromptFeatures text_features(const ClipModel::TextOutput& text) const;
  PromptScores column_scores(const PromptFeatures& prompt, const ImageFeatures& images) const;
  at::Tensor encode_tokens(const TokenizedText& tokens) const;

  std::string model_name_;
  std::string head_;
  std::vector<std::string> columns_;
  PreprocessOptions preprocess_;
  TokenizerOptions tokenizer_options_;
  std::unique_ptr<ClipTokenizer> tokenizer_;
  LoadedClip clip_;
  std::unique_ptr<MpsHead> mps_;
  std::vector<at::Tensor> condition_tokens_;  // MPS: [77, E] per column
  std::map<std::string, PromptFeatures> prompt_cache_;
};

}  // namespace prefscore
