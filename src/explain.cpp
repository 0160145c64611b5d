#include "prefscore/explain.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "prefscore/error.h"

namespace prefscore {
namespace {

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::vector<double> column_scores(const PromptScores& scores, int64_t item) {
  const at::Tensor s = scores.scores.to(torch::kCPU, torch::kFloat64);
  std::vector<double> out;
  for (int64_t c = 0; c < s.size(0); ++c) out.push_back(s[c][item].item<double>());
  return out;
}

}  // namespace

std::vector<std::string> split_prompt_words(const std::string& prompt) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < prompt.size()) {
    while (i < prompt.size() && is_separator(prompt[i])) ++i;
    const std::size_t start = i;
    while (i < prompt.size() && !is_separator(prompt[i])) ++i;
    if (i > start) words.push_back(prompt.substr(start, i - start));
  }
  return words;
}

std::vector<int> occlusion_offsets(int input_size, int window, int stride) {
  if (window < 1 || window > input_size) {
    throw Error("--window", "must be in [1, " + std::to_string(input_size) +
                                "] model-input pixels, got " + std::to_string(window));
  }
  if (stride < 1)
    throw Error("--stride", "must be at least 1 pixel, got " + std::to_string(stride));
  std::vector<int> offsets;
  for (int o = 0; o <= input_size - window; o += stride) offsets.push_back(o);
  if (offsets.back() != input_size - window) offsets.push_back(input_size - window);
  return offsets;
}

Heatmap input_map_to_image(const Heatmap& input_map, int width, int height,
                           const PreprocessOptions& preprocess) {
  const int s = preprocess.image_size;
  ImageSize resized;
  int shift_x = 0, shift_y = 0;
  if (preprocess.pipeline == Pipeline::kHpsv2) {
    resized = longest_side_size(width, height, s);
    shift_x = (s - resized.width) / 2;
    shift_y = (s - resized.height) / 2;
  } else {
    resized = shortest_side_size(width, height, s);
    const bool torchvision = preprocess.pipeline == Pipeline::kOpenClip;
    shift_x = -(torchvision ? center_crop_offset_torchvision(resized.width, s)
                            : center_crop_offset_floor(resized.width, s));
    shift_y = -(torchvision ? center_crop_offset_torchvision(resized.height, s)
                            : center_crop_offset_floor(resized.height, s));
  }
  Heatmap out{width, height, std::vector<float>(static_cast<std::size_t>(width) * height, 0.0f)};
  for (int r = 0; r < height; ++r) {
    const int v = static_cast<int>(std::floor((r + 0.5) * resized.height / height)) + shift_y;
    if (v < 0 || v >= s) continue;
    for (int c = 0; c < width; ++c) {
      const int u = static_cast<int>(std::floor((c + 0.5) * resized.width / width)) + shift_x;
      if (u < 0 || u >= s) continue;
      out.values[static_cast<std::size_t>(r) * width + c] =
          input_map.values[static_cast<std::size_t>(v) * s + u];
    }
  }
  return out;
}

std::optional<std::vector<std::vector<int>>> word_token_positions(const Scorer& scorer,
                                                                  const std::string& prompt,
                                                                  int max_tokens) {
  std::vector<int32_t> concatenated;
  std::vector<std::vector<int>> positions;
  for (const std::string& word : split_prompt_words(prompt)) {
    const std::vector<int32_t> ids = scorer.bpe_ids(word);
    std::vector<int> word_positions;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const int position = 1 + static_cast<int>(concatenated.size() + k);
      if (position < 1 + max_tokens) word_positions.push_back(position);
    }
    concatenated.insert(concatenated.end(), ids.begin(), ids.end());
    positions.push_back(std::move(word_positions));
  }
  if (concatenated != scorer.bpe_ids(prompt)) return std::nullopt;
  return positions;
}

Explanation explain_image(Scorer& scorer, const std::string& image, const std::string& prompt,
                          const ExplainOptions& options) {
  if (split_prompt_words(prompt).empty()) throw Error("--prompt", "has no words to attribute");
  torch::InferenceMode inference;
  const PreprocessOptions& preprocess = scorer.preprocess_options();
  const int s = preprocess.image_size;
  Explanation out;
  out.image = image;
  out.prompt = prompt;
  out.columns = scorer.columns();
  out.input_size = s;
  out.decoded = load_image(image, preprocess.decode);
  at::Tensor pixels = torch::empty({1, 3, s, s}, torch::kFloat32);
  preprocess_image_into(out.decoded, preprocess, image, pixels.data_ptr<float>());
  const ImageFeatures features = scorer.encode_images(pixels);
  out.score = column_scores(scorer.score(prompt, features), 0);
  const std::size_t columns = out.score.size();

  if (options.words) {
    const std::vector<std::string> words = split_prompt_words(prompt);
    for (std::size_t i = 0; i < words.size(); ++i) {
      WordAttribution w;
      w.word = words[i];
      w.index = i;
      for (std::size_t k = 0; k < words.size(); ++k) {
        if (k == i) continue;
        if (!w.prompt_without.empty()) w.prompt_without += ' ';
        w.prompt_without += words[k];
      }
      w.score_without = column_scores(scorer.score(w.prompt_without, features), 0);
      for (std::size_t c = 0; c < columns; ++c)
        w.delta.push_back(out.score[c] - w.score_without[c]);
      out.words.push_back(std::move(w));
    }
  }

  if (options.gradients) {
    const InputGradients grads = scorer.input_gradients(prompt, pixels);
    for (std::size_t c = 0; c < columns; ++c) {
      Heatmap map{s, s, std::vector<float>(grads.pixel_maps[c].begin(), grads.pixel_maps[c].end())};
      out.gradient_image_maps.push_back(
          input_map_to_image(map, out.decoded.width, out.decoded.height, preprocess));
      out.gradient_input_maps.push_back(std::move(map));
    }
    if (options.words) {
      const auto positions = word_token_positions(scorer, prompt);
      if (!positions) {
        out.word_gradient_note = "the prompt's tokens do not split at its words";
      } else {
        for (std::size_t i = 0; i < out.words.size(); ++i) {
          WordAttribution& w = out.words[i];
          const std::vector<int>& p = (*positions)[i];
          w.tokens = static_cast<int>(scorer.bpe_ids(w.word).size());
          w.truncated = static_cast<int>(p.size()) < w.tokens;
          for (std::size_t c = 0; c < columns; ++c) {
            double sum = 0.0;
            for (int position : p) sum += grads.token_values[c][static_cast<std::size_t>(position)];
            w.gradient.push_back(sum);
          }
        }
      }
    }
  }

  if (options.regions) {
    const std::vector<int> offsets = occlusion_offsets(s, options.window, options.stride);
    for (int y : offsets) {
      for (int x : offsets) out.windows.push_back(WindowAttribution{x, y, {}});
    }
    const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
    for (std::size_t start = 0; start < out.windows.size(); start += batch) {
      const std::size_t end = std::min(out.windows.size(), start + batch);
      at::Tensor occluded = pixels.repeat({static_cast<int64_t>(end - start), 1, 1, 1});
      for (std::size_t k = start; k < end; ++k) {
        const WindowAttribution& w = out.windows[k];
        occluded[static_cast<int64_t>(k - start)]
            .slice(1, w.y, w.y + options.window)
            .slice(2, w.x, w.x + options.window)
            .zero_();
      }
      const PromptScores scores = scorer.score(prompt, scorer.encode_images(occluded));
      for (std::size_t k = start; k < end; ++k) {
        const std::vector<double> occluded_score = column_scores(scores, int64_t(k - start));
        for (std::size_t c = 0; c < columns; ++c) {
          out.windows[k].delta.push_back(out.score[c] - occluded_score[c]);
        }
      }
    }
    for (std::size_t c = 0; c < columns; ++c) {
      std::vector<double> sum(static_cast<std::size_t>(s) * s, 0.0);
      std::vector<int> count(sum.size(), 0);
      for (const WindowAttribution& w : out.windows) {
        for (int v = w.y; v < w.y + options.window; ++v) {
          for (int u = w.x; u < w.x + options.window; ++u) {
            sum[static_cast<std::size_t>(v) * s + u] += w.delta[c];
            ++count[static_cast<std::size_t>(v) * s + u];
          }
        }
      }
      Heatmap map{s, s, std::vector<float>(sum.size())};
      for (std::size_t i = 0; i < sum.size(); ++i)
        map.values[i] = static_cast<float>(sum[i] / count[i]);
      out.image_maps.push_back(
          input_map_to_image(map, out.decoded.width, out.decoded.height, preprocess));
      out.input_maps.push_back(std::move(map));
    }
  }
  return out;
}

}  // namespace prefscore
