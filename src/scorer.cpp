#include "prefscore/scorer.h"

#include <torch/torch.h>

#include "prefscore/error.h"

namespace prefscore {

EncoderFrontEnd encoder_front_end(const LoadedClip& clip, const std::string& head) {
  EncoderFrontEnd front;
  if (clip.card) {
    if (!parse_pipeline(clip.card->preprocess, &front.pipeline)) {
      throw Error(clip.card->card_path, "unknown preprocess \"" + clip.card->preprocess + "\"");
    }
    const PadToken pad = clip.card->tokenizer_pad == "eot" ? PadToken::kEndOfText : PadToken::kBang;
    front.tokenizer = clip.card->tokenizer_mode == "openclip" ? TokenizerOptions::open_clip()
                                                              : TokenizerOptions::hf(pad);
  } else if (head == "hpsv2") {
    front.pipeline = Pipeline::kHpsv2;
    front.tokenizer = TokenizerOptions::open_clip();
  } else if (head == "clip" && clip.layout == "open_clip") {
    front.pipeline = Pipeline::kOpenClip;
    front.tokenizer = TokenizerOptions::open_clip();
  } else {  // PickScore, MPS, CLIP on a transformers checkpoint: laion CLIP-H's CLIPProcessor
    front.pipeline = Pipeline::kHf;
    front.tokenizer = TokenizerOptions::hf(PadToken::kEndOfText);
  }
  return front;
}

const std::map<std::string, std::string>& mps_condition_texts() {
  static const std::map<std::string, std::string> texts = {
      {"overall",
       "light, color, clarity, tone, style, ambiance, artistry, shape, face, hair, hands, limbs, "
       "structure, instance, texture, quantity, attributes, position, number, location, word, "
       "things."},
      {"aesthetics", "light, color, clarity, tone, style, ambiance, artistry."},
      {"detail", "shape, face, hair, hands, limbs, structure, instance, texture."},
      {"semantic", "quantity, attributes, position, number, location."},
  };
  return texts;
}

Scorer::Scorer(const ScorerSpec& spec, const std::vector<std::string>& card_dirs,
               const std::string& weights_home, const RunOptions& options)
    : tokenizer_options_(TokenizerOptions::open_clip()) {
  clip_ = load_clip(spec.source, card_dirs, weights_home, options);
  if (clip_.card) {
    model_name_ = clip_.card->name;
    head_ = clip_.card->head;
  } else {
    if (spec.head.empty()) {
      throw Error(spec.source.weights, "a checkpoint without a model card needs --head "
                                       "pickscore|hpsv2|mps|clip");
    }
    head_ = spec.head;
    model_name_ = spec.head;
  }
  if (head_ != "pickscore" && head_ != "hpsv2" && head_ != "mps" && head_ != "clip") {
    throw Error(head_, "unknown head; expected pickscore, hpsv2, mps or clip");
  }
  const EncoderFrontEnd front = encoder_front_end(clip_, head_);
  preprocess_.pipeline = front.pipeline;
  tokenizer_options_ = front.tokenizer;
  tokenizer_options_.max_text_bytes = spec.max_prompt_bytes;
  preprocess_.image_size = static_cast<int>(clip_.architecture.image_size);
  preprocess_.decode = spec.decode;
  tokenizer_ = std::make_unique<ClipTokenizer>(spec.vocab_path);

  if (head_ == "mps") {
    mps_ = std::make_unique<MpsHead>(*clip_.weights);
    const std::vector<std::string> wanted =
        spec.conditions.empty() ? std::vector<std::string>{"overall"} : spec.conditions;
    // No grad, but not InferenceMode: input_gradients() uses these in a differentiable pass, and
    // autograd may not save inference tensors.
    torch::NoGradGuard no_grad;
    for (const std::string& c : wanted) {
      auto it = mps_condition_texts().find(c);
      if (it == mps_condition_texts().end()) {
        throw Error(c, "unknown MPS condition; expected overall, aesthetics, detail or semantic");
      }
      columns_.push_back(c);
      const TokenizedText ids = tokenizer_->encode(it->second, tokenizer_options_, "condition " + c);
      condition_tokens_.push_back(clip_.model->project_text_tokens(
          clip_.model->encode_text(encode_tokens(ids)).tokens)[0]);
    }
  } else {
    columns_.push_back("score");  // conditions apply to MPS only; other heads ignore them
  }
  clip_.weights->finish();
}

Scorer::~Scorer() = default;

at::Tensor Scorer::encode_tokens(const TokenizedText& tokens) const {
  std::vector<int64_t> ids(tokens.ids.begin(), tokens.ids.end());
  return torch::tensor(ids, torch::kInt64).view({1, -1});
}

ImageFeatures Scorer::encode_images(const at::Tensor& pixel_values) const {
  torch::InferenceMode inference;
  return image_features(pixel_values);
}

ImageFeatures Scorer::image_features(const at::Tensor& pixel_values) const {
  ImageFeatures features;
  // MPS's infer_one_sample passes `image_input.half()`: its pixels are rounded to fp16 before the
  // vision tower whatever the model's dtype (transformers casts them back to the weights' dtype).
  const at::Tensor pixels = mps_ ? pixel_values.to(torch::kHalf) : pixel_values;
  const ClipModel::VisionOutput out = clip_.model->encode_image(pixels);
  features.embeds = out.embeds;
  if (mps_) features.tokens = clip_.model->project_image_tokens(out.tokens);
  return features;
}

Scorer::PromptFeatures Scorer::text_features(const ClipModel::TextOutput& out) const {
  PromptFeatures f;
  f.embeds = out.embeds[0];
  if (mps_) {
    f.tokens = clip_.model->project_text_tokens(out.tokens)[0];
    for (const at::Tensor& condition : condition_tokens_) {
      f.mps_masks.push_back(mps_->condition_mask(f.tokens, condition));
    }
  }
  return f;
}

const Scorer::PromptFeatures& Scorer::prompt_features(const std::string& prompt) {
  auto it = prompt_cache_.find(prompt);
  if (it != prompt_cache_.end()) return it->second;
  torch::InferenceMode inference;
  const TokenizedText ids = tokenizer_->encode(prompt, tokenizer_options_, "prompt");
  PromptFeatures f = text_features(clip_.model->encode_text(encode_tokens(ids)));
  return prompt_cache_.emplace(prompt, std::move(f)).first->second;
}

PromptScores Scorer::column_scores(const PromptFeatures& p, const ImageFeatures& images) const {
  const double logit_scale = clip_.model->logit_scale();
  std::vector<at::Tensor> scores, scaled;
  if (mps_) {
    for (const at::Tensor& mask : p.mps_masks) {
      const at::Tensor cls = mps_->cross_attend_class_token(images.tokens, p.tokens, mask);
      const at::Tensor s = scaled_cosine_matrix(p.embeds.unsqueeze(0), cls, logit_scale)[0];
      scores.push_back(s);
      scaled.push_back(s);
    }
  } else {
    const at::Tensor text = p.embeds.unsqueeze(0);
    const at::Tensor s = scaled_cosine_matrix(text, images.embeds, logit_scale)[0];
    scaled.push_back(s);
    scores.push_back(head_ == "pickscore" ? s : cosine_matrix(text, images.embeds)[0]);
  }
  return PromptScores{torch::stack(scores), torch::stack(scaled)};
}

PromptScores Scorer::score(const std::string& prompt, const ImageFeatures& images) {
  const PromptFeatures& p = prompt_features(prompt);
  torch::InferenceMode inference;
  return column_scores(p, images);
}

std::vector<int32_t> Scorer::bpe_ids(const std::string& text) const {
  return tokenizer_->encode_tokens(text, tokenizer_options_, "prompt");
}

InputGradients Scorer::input_gradients(const std::string& prompt,
                                       const at::Tensor& pixel_values) const {
  if (!clip_.model->differentiable()) {
    throw Error("--precision", "gradient attributions need a differentiable model, and the CPU "
                               "bf16/int8 oneDNN path has no backward: use --precision fp32 "
                               "(or --no-gradients)");
  }
  if (pixel_values.dim() != 4 || pixel_values.size(0) != 1) {
    throw Error("pixel_values", "input_gradients takes one image [1, 3, S, S]");
  }
  // Callers may be inside InferenceMode (explain is): leave it for this pass. Inputs that are
  // inference tensors become normal ones through the clones below.
  torch::InferenceMode not_inference(false);
  torch::AutoGradMode grad_mode(true);
  InputGradients out;
  out.tokens = tokenizer_->encode(prompt, tokenizer_options_, "prompt");
  const at::Tensor ids = encode_tokens(out.tokens);
  // Leaves of the graph: the pixels as the model receives them and the token embedding rows.
  const at::Tensor pixels = pixel_values.detach().clone().requires_grad_(true);
  const at::Tensor embeddings =
      clip_.model->embed_text_tokens(ids).detach().clone().requires_grad_(true);
  const PromptFeatures text =
      text_features(clip_.model->encode_text_embeddings(embeddings, ids));
  const PromptScores scores = column_scores(text, image_features(pixels));
  const int64_t columns = scores.scores.size(0);
  for (int64_t c = 0; c < columns; ++c) {
    const at::Tensor score = scores.scores[c][0];
    out.score.push_back(score.detach().to(torch::kCPU, torch::kFloat64).item<double>());
    const std::vector<at::Tensor> grads = torch::autograd::grad(
        {score}, {pixels, embeddings}, /*grad_outputs=*/{}, /*retain_graph=*/c + 1 < columns,
        /*create_graph=*/false, /*allow_unused=*/true);
    const auto times_input = [](const at::Tensor& g, const at::Tensor& x, int64_t dim) {
      const at::Tensor x64 = x.detach().to(torch::kCPU, torch::kFloat64);
      if (!g.defined()) return torch::zeros_like(x64).sum(dim);
      return (g.to(torch::kCPU, torch::kFloat64) * x64).sum(dim);
    };
    const at::Tensor pixel_map = times_input(grads[0], pixels, 1)[0].contiguous();  // [S, S]
    const at::Tensor token_values = times_input(grads[1], embeddings, 2)[0].contiguous();  // [T]
    out.pixel_maps.emplace_back(pixel_map.data_ptr<double>(),
                                pixel_map.data_ptr<double>() + pixel_map.numel());
    out.token_values.emplace_back(token_values.data_ptr<double>(),
                                  token_values.data_ptr<double>() + token_values.numel());
  }
  return out;
}

}  // namespace prefscore
