// Occlusion explanations on the tiny fixture models: every word and window attribution equals the
// scores recomputed here through Scorer by hand (exactly: same calls, same batch shapes), the maps'
// geometry by hand, and the refusals.
#include <torch/torch.h>

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
