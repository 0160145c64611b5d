#include "prefscore/explain_output.h"

#include <algorithm>
#include <filesystem>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFill =
    "0 after normalisation in every channel (the preprocessing mean colour)";

nlohmann::ordered_json per_column(const std::vector<std::string>& columns,
                                  const std::vector<double>& values) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (std::size_t c = 0; c < columns.size() && c < values.size(); ++c) j[columns[c]] = values[c];
  return j;
}

constexpr const char* kGradient =
    "gradient x input: d score / d input * input, summed over the channels (pixels, "
    "normalised model input) or the width (each word's token embeddings)";

// One kind of map (occlusion or gradient) as <stem>.<kind>.safetensors and one PNG per column.
void write_maps(const std::string& stem, const std::string& kind, const Explanation& e,
                const std::vector<Heatmap>& image_maps, const std::vector<Heatmap>& input_maps,
                const std::string& model,
                const std::vector<std::pair<std::string, std::string>>& metadata,
                std::vector<std::string>& files) {
  SafetensorsWriter writer;
  const Heatmap& first = image_maps.front();
  writer.add("heatmap", DType::kF32, {first.height, first.width}, first.values.data(),
             first.values.size() * sizeof(float));
  if (e.columns.size() > 1) {
    for (std::size_t c = 0; c < e.columns.size(); ++c) {
      const Heatmap& m = image_maps[c];
      writer.add("heatmap." + e.columns[c], DType::kF32, {m.height, m.width}, m.values.data(),
                 m.values.size() * sizeof(float));
    }
  }
  const Heatmap& input = input_maps.front();
  writer.add("input_heatmap", DType::kF32, {input.height, input.width}, input.values.data(),
             input.values.size() * sizeof(float));
  writer.set_metadata("image", e.image);
  writer.set_metadata("prompt", e.prompt);
  writer.set_metadata("model", model);
  writer.set_metadata("columns", nlohmann::json(e.columns).dump());
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  files.push_back(stem + "." + kind + ".safetensors");
  writer.write(files.back());
  for (std::size_t c = 0; c < e.columns.size(); ++c) {
    files.push_back(stem + "." + kind + (c == 0 ? "" : "." + e.columns[c]) + ".png");
    write_heatmap_overlay_png(files.back(), e.decoded, positive_part_normalized(image_maps[c]));
  }
}

}  // namespace

nlohmann::ordered_json explanation_json(const Explanation& e, const std::string& model,
                                        const ExplainOptions& options,
                                        const std::vector<std::string>& files) {
  nlohmann::ordered_json j;
  j["image"] = e.image;
  j["prompt"] = e.prompt;
  j["model"] = model;
  j["columns"] = e.columns;
  j["score"] = per_column(e.columns, e.score);
  nlohmann::ordered_json words = nlohmann::ordered_json::array();
  for (const WordAttribution& w : e.words) {
    words.push_back({{"word", w.word},
                     {"index", w.index},
                     {"prompt_without", w.prompt_without},
                     {"score_without", per_column(e.columns, w.score_without)},
                     {"delta", per_column(e.columns, w.delta)}});
    if (!w.gradient.empty()) {
      words.back()["gradient"] = per_column(e.columns, w.gradient);
      words.back()["tokens"] = w.tokens;
      words.back()["truncated"] = w.truncated;
    }
  }
  j["words"] = std::move(words);
  j["misaligned_words"] = misaligned_words(e);
  if (!e.windows.empty()) {
    nlohmann::ordered_json windows = nlohmann::ordered_json::array();
    for (const WindowAttribution& w : e.windows) {
      windows.push_back({{"x", w.x}, {"y", w.y}, {"delta", per_column(e.columns, w.delta)}});
    }
    j["occlusion"] = {{"window", options.window},
                      {"stride", options.stride},
                      {"input_size", e.input_size},
                      {"fill", kFill},
                      {"windows", std::move(windows)}};
  }
  if (!e.gradient_input_maps.empty()) {
    nlohmann::ordered_json gradient = {{"method", kGradient}, {"input_size", e.input_size}};
    if (!e.word_gradient_note.empty()) gradient["word_gradient_note"] = e.word_gradient_note;
    j["gradient"] = std::move(gradient);
  }
  j["files"] = files;
  return j;
}

std::vector<std::string> misaligned_words(const Explanation& e, std::size_t column) {
  std::vector<const WordAttribution*> negative;
  for (const WordAttribution& w : e.words) {
    if (column < w.delta.size() && w.delta[column] < 0) negative.push_back(&w);
  }
  std::stable_sort(negative.begin(), negative.end(),
                   [column](const WordAttribution* a, const WordAttribution* b) {
                     return a->delta[column] < b->delta[column];
                   });
  std::vector<std::string> out;
  for (const WordAttribution* w : negative) out.push_back(w->word);
  return out;
}

Heatmap positive_part_normalized(const Heatmap& map) {
  Heatmap out{map.width, map.height, std::vector<float>(map.values.size(), 0.0f)};
  const float peak =
      map.values.empty() ? 0.0f : *std::max_element(map.values.begin(), map.values.end());
  if (peak <= 0) return out;
  for (std::size_t i = 0; i < map.values.size(); ++i) {
    out.values[i] = std::max(map.values[i], 0.0f) / peak;
  }
  return out;
}

std::vector<std::string> write_explanation(const Explanation& e, const std::string& model,
                                           const ExplainOptions& options, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir, "cannot create folder: " + ec.message());
  const std::string stem = (fs::path(dir) / fs::path(e.image).stem()).string();
  std::vector<std::string> files;
  if (!e.image_maps.empty()) {
    write_maps(stem, "occlusion", e, e.image_maps, e.input_maps, model,
               {{"window", std::to_string(options.window)},
                {"stride", std::to_string(options.stride)},
                {"fill", kFill},
                {"values", "score(unoccluded) - score(occluded), mean over covering windows"}},
               files);
  }
  if (!e.gradient_image_maps.empty()) {
    write_maps(stem, "gradient", e, e.gradient_image_maps, e.gradient_input_maps, model,
               {{"values", kGradient}}, files);
  }
  files.push_back(stem + ".explain.json");
  write_file_atomic(files.back(),
                    explanation_json(e, model, options, files)
                            .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                        "\n");
  return files;
}

}  // namespace prefscore
