// Explanations on the tiny fixture models: every occlusion word and window attribution equals the
// scores recomputed here through Scorer by hand (exactly: same calls, same batch shapes), the maps'
// geometry by hand, gradient x input against finite differences, and the refusals.
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <utility>

#include "prefscore/error.h"
#include "prefscore/explain.h"
#include "prefscore/explain_output.h"
#include "prefscore/image_torch.h"
#include "tensor_test_utils.h"
#include "tiny_scorer.h"

using prefscore::ExplainOptions;
using prefscore::Heatmap;
using prefscore::testing::data_path;

namespace {

const std::string kImage = "pipeline/inputs/img0_rgb_300x200.png";

double first_score(prefscore::Scorer& scorer, const std::string& prompt,
                   const prefscore::ImageFeatures& features, int column = 0) {
  return scorer.score(prompt, features).scores.to(torch::kFloat64)[column][0].item<double>();
}

at::Tensor preprocessed(const prefscore::Scorer& scorer, const std::string& path) {
  return prefscore::stack_pixel_values(
      {prefscore::preprocess_file(path, scorer.preprocess_options())});
}

}  // namespace

TEST_CASE("prompt words: runs of non-space characters", "[explain]") {
  REQUIRE(prefscore::split_prompt_words("  a  red\tcat \n") ==
          std::vector<std::string>{"a", "red", "cat"});
  REQUIRE(prefscore::split_prompt_words(" \t ").empty());
  REQUIRE(prefscore::split_prompt_words("über-cat, 2") ==
          std::vector<std::string>{"über-cat,", "2"});
}

TEST_CASE("occlusion offsets cover the last pixel; bad windows are refused", "[explain]") {
  REQUIRE(prefscore::occlusion_offsets(224, 56, 28) ==
          std::vector<int>{0, 28, 56, 84, 112, 140, 168});
  REQUIRE(prefscore::occlusion_offsets(224, 50, 60) == std::vector<int>{0, 60, 120, 174});
  REQUIRE(prefscore::occlusion_offsets(224, 224, 1) == std::vector<int>{0});
  REQUIRE_THROWS_WITH(prefscore::occlusion_offsets(224, 225, 8),
                      "--window: must be in [1, 224] model-input pixels, got 225");
  REQUIRE_THROWS_WITH(prefscore::occlusion_offsets(224, 8, 0),
                      "--stride: must be at least 1 pixel, got 0");
}

TEST_CASE("input map to image: crop and letterbox geometry by hand", "[explain]") {
  // Input map value at (u, v) = u + 1000 v, exactly representable.
  Heatmap coded{224, 224, std::vector<float>(224 * 224)};
  for (int v = 0; v < 224; ++v) {
    for (int u = 0; u < 224; ++u) coded.values[v * 224 + u] = static_cast<float>(u + 1000 * v);
  }
  prefscore::PreprocessOptions openclip;
  openclip.pipeline = prefscore::Pipeline::kOpenClip;
  // 300x200 -> 336x224, crop offset round(112 / 2) = 56 on x.
  const Heatmap crop = prefscore::input_map_to_image(coded, 300, 200, openclip);
  REQUIRE(crop.width == 300);
  REQUIRE(crop.height == 200);
  REQUIRE(crop.values[0] == 0.0f);  // floor(0.5 · 1.12) - 56 < 0: outside the crop
  // c = 150: floor(150.5 · 1.12) - 56 = 112; r = 100: floor(100.5 · 1.12) = 112.
  REQUIRE(crop.values[100 * 300 + 150] == 112.0f + 1000.0f * 112.0f);
  // c = 250: floor(250.5 · 1.12) - 56 = 224 > 223: outside.
  REQUIRE(crop.values[100 * 300 + 250] == 0.0f);
  // c = 249: floor(249.5 · 1.12) - 56 = 223.
  REQUIRE(crop.values[100 * 300 + 249] == 223.0f + 1000.0f * 112.0f);

  prefscore::PreprocessOptions hpsv2;
  hpsv2.pipeline = prefscore::Pipeline::kHpsv2;
  // 300x200 -> 224x149, padded top (224 - 149) / 2 = 37.
  const Heatmap box = prefscore::input_map_to_image(coded, 300, 200, hpsv2);
  REQUIRE(box.values[0] == 0.0f + 1000.0f * 37.0f);
  // r = 199: floor(199.5 · 149 / 200) + 37 = 148 + 37 = 185; c = 299: floor(299.5 · 224 / 300) =
  // 223.
  REQUIRE(box.values[199 * 300 + 299] == 223.0f + 1000.0f * 185.0f);
}

TEST_CASE("word and window attributions equal scores recomputed by hand", "[explain]") {
  const auto scorer = prefscore::testing::tiny_scorer("tiny-hf.json", "models/hf");
  const std::string image = data_path(kImage);
  const std::string prompt = "a  red cat";
  ExplainOptions options;
  options.window = 112;
  options.stride = 56;
  options.batch_size = 1;  // the same [1, 3, S, S] calls as below
  const prefscore::Explanation e = prefscore::explain_image(*scorer, image, prompt, options);

  torch::InferenceMode inference;
  const at::Tensor pixels = preprocessed(*scorer, image);
  const prefscore::ImageFeatures features = scorer->encode_images(pixels);
  const double base = first_score(*scorer, prompt, features);
  REQUIRE(e.score.size() == 1);
  REQUIRE(e.score[0] == base);

  REQUIRE(e.words.size() == 3);
  const std::vector<std::string> without = {"red cat", "a cat", "a red"};
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(e.words[i].prompt_without == without[i]);
    const double s = first_score(*scorer, without[i], features);
    REQUIRE(e.words[i].score_without[0] == s);
    REQUIRE(e.words[i].delta[0] == base - s);
  }

  REQUIRE(e.windows.size() == 9);  // offsets 0, 56, 112 on each axis
  for (const prefscore::WindowAttribution& w : e.windows) {
    at::Tensor occluded = pixels.clone();
    occluded.slice(2, w.y, w.y + 112).slice(3, w.x, w.x + 112).zero_();
    const double s = first_score(*scorer, prompt, scorer->encode_images(occluded));
    INFO("window " << w.x << "," << w.y);
    REQUIRE(w.delta[0] == base - s);
  }
  REQUIRE(e.windows[4].x == 56);
  REQUIRE(e.windows[4].y == 56);
  // Pixel (0, 0) lies in window (0, 0) only; (60, 60) in the four windows at 0 and 56.
  const Heatmap& input = e.input_maps[0];
  REQUIRE(input.values[0] == static_cast<float>(e.windows[0].delta[0]));
  const double four = (e.windows[0].delta[0] + e.windows[1].delta[0] + e.windows[3].delta[0] +
                       e.windows[4].delta[0]) /
                      4;
  REQUIRE(input.values[60 * 224 + 60] == static_cast<float>(four));
  REQUIRE(e.image_maps[0].width == 300);
  REQUIRE(e.image_maps[0].height == 200);

  // Batched windows agree with the one-by-one ones up to float rounding.
  options.batch_size = 4;
  const prefscore::Explanation batched = prefscore::explain_image(*scorer, image, prompt, options);
  for (std::size_t k = 0; k < e.windows.size(); ++k) {
    REQUIRE(batched.windows[k].delta[0] == Approx(e.windows[k].delta[0]).margin(1e-5));
  }
}

TEST_CASE("MPS: one attribution per condition column", "[explain]") {
  const auto scorer =
      prefscore::testing::tiny_scorer("tiny-mps.json", "models/mps", {"overall", "aesthetics"});
  const std::string image = data_path("pipeline/inputs/img1_gray_180x260.png");
  ExplainOptions options;
  options.window = 224;
  options.stride = 224;
  options.batch_size = 1;
  const prefscore::Explanation e = prefscore::explain_image(*scorer, image, "a dog", options);
  REQUIRE(e.columns == std::vector<std::string>{"overall", "aesthetics"});
  REQUIRE(e.windows.size() == 1);
  torch::InferenceMode inference;
  const at::Tensor pixels = preprocessed(*scorer, image);
  const prefscore::ImageFeatures features = scorer->encode_images(pixels);
  const prefscore::ImageFeatures blank = scorer->encode_images(torch::zeros_like(pixels));
  for (int c = 0; c < 2; ++c) {
    const double base = first_score(*scorer, "a dog", features, c);
    REQUIRE(e.score[c] == base);
    REQUIRE(e.words[0].delta[c] == base - first_score(*scorer, "dog", features, c));
    REQUIRE(e.windows[0].delta[c] == base - first_score(*scorer, "a dog", blank, c));
  }
  REQUIRE(e.image_maps.size() == 2);
  REQUIRE(e.image_maps[1].width == 180);
  REQUIRE(e.image_maps[1].height == 260);
}

TEST_CASE("misaligned words: negative deltas, most negative first, per column", "[explain]") {
  prefscore::Explanation e;
  const std::vector<std::pair<std::string, std::vector<double>>> words = {
      {"a", {0.5, -1.0}}, {"red", {-2.0, 1.0}}, {"cat", {-0.25, -3.0}}, {"on", {-2.0, 0.0}}};
  for (const auto& [word, delta] : words) {
    prefscore::WordAttribution w;
    w.word = word;
    w.delta = delta;
    e.words.push_back(w);
  }
  REQUIRE(prefscore::misaligned_words(e) == std::vector<std::string>{"red", "on", "cat"});
  REQUIRE(prefscore::misaligned_words(e, 1) == std::vector<std::string>{"cat", "a"});
}

TEST_CASE("positive part normalised: brightest 1, negatives 0", "[explain]") {
  const Heatmap m = prefscore::positive_part_normalized(Heatmap{2, 2, {-1.0f, 0.5f, 2.0f, 0.0f}});
  REQUIRE(m.values == std::vector<float>{0.0f, 0.25f, 1.0f, 0.0f});
  const Heatmap none = prefscore::positive_part_normalized(Heatmap{1, 2, {-1.0f, -2.0f}});
  REQUIRE(none.values == std::vector<float>{0.0f, 0.0f});
}

TEST_CASE("explain refuses a prompt without words and an unreadable image", "[explain]") {
  const auto scorer = prefscore::testing::tiny_scorer("tiny-hf.json", "models/hf");
  REQUIRE_THROWS_WITH(prefscore::explain_image(*scorer, data_path(kImage), "  ", ExplainOptions{}),
                      "--prompt: has no words to attribute");
  REQUIRE_THROWS_WITH(
      prefscore::explain_image(*scorer, "/nonexistent.png", "a cat", ExplainOptions{}),
      Catch::StartsWith("/nonexistent.png: cannot open"));
}

// Gradient x input checked against central finite differences, which use no autograd: scaling an
// input by (1 + t) moves the score at rate d score / d input · input, so the sum of the
// attribution over a set of inputs is d/dt score(inputs in the set scaled by 1 + t) at t = 0. The
// model runs in float64 so that a step of 1e-4 leaves an error far below the tolerance (the
// autograd side still goes through the heads' float32 cosine: ~1e-7 relative).
namespace {

constexpr double kStep = 1e-4;

double central_difference(const std::function<double(double)>& score) {
  return (score(kStep) - score(-kStep)) / (2 * kStep);
}

}  // namespace

TEST_CASE("word token positions: per-word BPE tokens after SOT, cut at the window", "[explain]") {
  const auto scorer = prefscore::testing::tiny_scorer("tiny-hf.json", "models/hf");
  const auto simple = prefscore::word_token_positions(*scorer, "a red cat");
  REQUIRE(simple);
  REQUIRE(*simple == std::vector<std::vector<int>>{{1}, {2}, {3}});
  // "über-cat," is several BPE tokens; the words after it start after all of them.
  const std::size_t n = scorer->bpe_ids("über-cat,").size();
  REQUIRE(n > 1);
  const auto split = prefscore::word_token_positions(*scorer, "über-cat, 2");
  REQUIRE(split);
  REQUIRE((*split)[0].size() == n);
  REQUIRE((*split)[0].front() == 1);
  REQUIRE((*split)[1] == std::vector<int>{static_cast<int>(1 + n)});
  // 80 one-token words: words 75.. are past the 75 tokens after SOT.
  std::string long_prompt;
  for (int i = 0; i < 80; ++i) long_prompt += "cat ";
  const auto cut = prefscore::word_token_positions(*scorer, long_prompt);
  REQUIRE(cut);
  REQUIRE(cut->size() == 80);
  REQUIRE((*cut)[74] == std::vector<int>{75});
  REQUIRE((*cut)[75].empty());
}

TEST_CASE("gradient x input equals finite differences of the score", "[explain]") {
  // PickScore head on the transformers layout; HPS v2 (cosine, letterbox, open_clip tokenizer)
  // on the open_clip layout.
  const auto [card, weights] = GENERATE(
      std::make_pair("tiny-hf.json", "models/hf"),
      std::make_pair("tiny-openclip.json", "models/openclip/open_clip_model.safetensors"));
  INFO(card);
  const auto scorer = prefscore::testing::tiny_scorer(card, weights, {}, c10::kDouble);
  const std::string image = data_path(kImage);
  const std::string prompt = "a red cat";
  ExplainOptions options;
  options.regions = false;
  const prefscore::Explanation e = prefscore::explain_image(*scorer, image, prompt, options);
  REQUIRE(e.gradient_input_maps.size() == 1);
  REQUIRE(e.gradient_image_maps[0].width == 300);
  REQUIRE(e.gradient_image_maps[0].height == 200);
  REQUIRE(e.gradient_image_maps[0].values ==
          prefscore::input_map_to_image(e.gradient_input_maps[0], 300, 200,
                                        scorer->preprocess_options())
              .values);
  REQUIRE(e.words.size() == 3);

  torch::InferenceMode inference;
  const at::Tensor pixels = preprocessed(*scorer, image).to(torch::kFloat64);
  REQUIRE(e.score[0] ==
          Approx(first_score(*scorer, prompt, scorer->encode_images(pixels))).epsilon(1e-12));

  // The heads compute their cosine in float32 (as the official code does), too coarse for finite
  // differences; here the head is applied by hand in float64 to the towers' float64 embeddings.
  const prefscore::ClipModel& clip = scorer->clip();
  const bool pickscore = scorer->head() == "pickscore";
  REQUIRE((pickscore || scorer->head() == "hpsv2"));
  const auto head = [&](const at::Tensor& text, const at::Tensor& image_embeds) {
    const at::Tensor t = text[0], i = image_embeds[0];
    const double cosine = (t.dot(i) / (t.norm() * i.norm())).item<double>();
    return pickscore ? std::exp(clip.logit_scale()) * cosine : cosine;
  };
  const prefscore::TokenizedText tokens =
      prefscore::ClipTokenizer(std::string(PREFSCORE_MODELS_DIR) +
                               "/vocab/bpe_simple_vocab_16e6.txt.gz")
          .encode(prompt, scorer->tokenizer_options());
  const at::Tensor ids =
      torch::tensor(std::vector<int64_t>(tokens.ids.begin(), tokens.ids.end())).view({1, -1});
  const at::Tensor text_embeds = clip.encode_text(ids).embeds;
  const at::Tensor image_embeds = clip.encode_image(pixels).embeds;
  REQUIRE(text_embeds.scalar_type() == torch::kFloat64);
  REQUIRE(e.score[0] == Approx(head(text_embeds, image_embeds)).epsilon(1e-6));

  // Pixels: the whole map, and one 112 x 112 square.
  const Heatmap& map = e.gradient_input_maps[0];
  double total = 0, square = 0;
  for (int v = 0; v < 224; ++v) {
    for (int u = 0; u < 224; ++u) {
      total += map.values[v * 224 + u];
      if (u >= 56 && u < 168 && v >= 56 && v < 168) square += map.values[v * 224 + u];
    }
  }
  const double d_total = central_difference(
      [&](double t) { return head(text_embeds, clip.encode_image(pixels * (1 + t)).embeds); });
  at::Tensor in_square = torch::zeros_like(pixels);
  in_square.slice(2, 56, 168).slice(3, 56, 168).fill_(1.0);
  const double d_square = central_difference([&](double t) {
    return head(text_embeds, clip.encode_image(pixels * (1 + t * in_square)).embeds);
  });
  INFO("total " << total << " vs " << d_total << "; square " << square << " vs " << d_square);
  WARN(card << ": pixel sums, relative difference to finite differences: total "
            << std::abs(total - d_total) / std::abs(d_total) << ", square "
            << std::abs(square - d_square) / std::abs(d_square));
  REQUIRE(total == Approx(d_total).epsilon(1e-5));
  REQUIRE(square == Approx(d_square).epsilon(1e-5));
  REQUIRE(std::abs(d_square) > 1e-6);  // the check is not vacuous

  // Positions after EOT (4) cannot reach the pooled EOT feature through the causal mask.
  const prefscore::InputGradients grads = scorer->input_gradients(prompt, pixels);
  for (std::size_t p = 5; p < 77; ++p) REQUIRE(grads.token_values[0][p] == 0.0);

  // Words: scale the word's token embedding rows.
  const at::Tensor embeddings = clip.embed_text_tokens(ids);
  for (int word = 0; word < 3; ++word) {
    at::Tensor rows = torch::zeros({1, ids.size(1), 1}, torch::kFloat64);
    rows[0][1 + word] = 1.0;  // each word is one token here (word token positions test)
    const double d_word = central_difference([&](double t) {
      return head(clip.encode_text_embeddings(embeddings * (1 + t * rows), ids).embeds,
                  image_embeds);
    });
    INFO("word " << word << ": " << e.words[word].gradient[0] << " vs " << d_word);
    WARN(card << ": word " << word << " relative difference to finite differences "
              << std::abs(e.words[word].gradient[0] - d_word) / std::abs(d_word));
    REQUIRE(e.words[word].gradient[0] == Approx(d_word).epsilon(1e-5));
    REQUIRE(std::abs(d_word) > 1e-6);
    REQUIRE(e.words[word].tokens == 1);
    REQUIRE_FALSE(e.words[word].truncated);
  }
}

TEST_CASE("gradients per MPS condition; --no-gradients", "[explain]") {
  const auto scorer = prefscore::testing::tiny_scorer("tiny-mps.json", "models/mps",
                                                      {"overall", "aesthetics"}, c10::kDouble);
  ExplainOptions options;
  options.regions = false;
  const std::string image = data_path("pipeline/inputs/img1_gray_180x260.png");
  const prefscore::Explanation e = prefscore::explain_image(*scorer, image, "a dog", options);
  REQUIRE(e.gradient_image_maps.size() == 2);
  REQUIRE(e.gradient_image_maps[1].width == 180);
  REQUIRE(e.gradient_image_maps[1].height == 260);
  REQUIRE(e.words.size() == 2);
  REQUIRE(e.words[1].gradient.size() == 2);
  // MPS rounds its pixels to fp16 before the tower, so finite differences over pixels would
  // measure that rounding (the generic machinery is checked on tiny-hf above). Here: the
  // differentiable pass computes each column's own score, and each column gets its own backward.
  const prefscore::InputGradients grads =
      scorer->input_gradients("a dog", preprocessed(*scorer, image));
  {
    torch::InferenceMode inference;
    const prefscore::ImageFeatures features =
        scorer->encode_images(preprocessed(*scorer, image));
    for (int c = 0; c < 2; ++c) {
      REQUIRE(grads.score[c] == Approx(first_score(*scorer, "a dog", features, c)).epsilon(1e-12));
    }
  }
  // (The tiny MPS fixture's conditions happen to give equal scores, so the columns are not
  // compared with each other.)
  for (int c = 0; c < 2; ++c) {
    REQUIRE(e.words[1].gradient[c] == grads.token_values[c][2]);  // "dog": position 2
  }

  options.gradients = false;
  const prefscore::Explanation none = prefscore::explain_image(*scorer, image, "a dog", options);
  REQUIRE(none.gradient_image_maps.empty());
  REQUIRE(none.words[0].gradient.empty());
}
