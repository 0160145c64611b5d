#include "prefscore/explain_output.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "prefscore/error.h"
#include "prefscore/heatmap_io.h"
#include "prefscore/image.h"
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

// The overlay of write_heatmap_overlay_png, made at most `side` pixels on its longer side: the
// image shrunk as a thumbnail is (Pillow bicubic), the map sampled at the centre of each shrunk
// pixel (nearest neighbour).
std::string small_overlay_png(const PilImage& image, const Heatmap& map, int side,
                              const std::string& label) {
  const ImageSize size = report_image_size(image.width, image.height, side);
  if (size.width == image.width && size.height == image.height) {
    return heatmap_overlay_png(image, map, label);
  }
  const int width = size.width, height = size.height;
  Heatmap small{width, height, std::vector<float>(static_cast<std::size_t>(width) * height)};
  for (int r = 0; r < height; ++r) {
    const int v = std::min(map.height - 1, static_cast<int>((r + 0.5) * map.height / height));
    for (int c = 0; c < width; ++c) {
      const int u = std::min(map.width - 1, static_cast<int>((c + 0.5) * map.width / width));
      small.values[static_cast<std::size_t>(r) * width + c] =
          map.values[static_cast<std::size_t>(v) * map.width + u];
    }
  }
  return heatmap_overlay_png(pil_resize_bicubic(convert_to_rgb(image), width, height), small,
                             label);
}

}  // namespace

HtmlReport explanation_report_page(const Explanation& e, const std::string& model,
                                   const ExplainOptions& options, int figure_side) {
  HtmlReport page;
  page.summary = {{"image", e.image}, {"prompt", e.prompt}, {"model", model}};
  for (std::size_t c = 0; c < e.columns.size(); ++c) {
    const std::string suffix = e.columns.size() > 1 ? " (" + e.columns[c] + ")" : "";
    page.summary.emplace_back("score" + suffix, format_score(e.score[c]));
    std::string words;
    for (const std::string& w : misaligned_words(e, c)) words += (words.empty() ? "" : ", ") + w;
    page.summary.emplace_back("misaligned-word candidates" + suffix,
                              words.empty() ? "none" : words);
  }
  if (!e.word_gradient_note.empty()) {
    page.notes.push_back("No word gradients: " + e.word_gradient_note + ".");
  }
  page.notes.push_back(
      "Overlays show max(value, 0) / max(value): the regions that raised the score, brightest "
      "= 1. Occlusion: score change when a " +
      std::to_string(options.window) + " px window (stride " + std::to_string(options.stride) +
      " px, model-input pixels) is set to the mean colour. Gradient x input: d score / d pixel "
      "times the pixel, summed over channels.");

  ReportFigures figures;
  figures.title = "Where the score comes from";
  for (std::size_t c = 0; c < e.columns.size(); ++c) {
    ReportFigure figure;
    figure.caption = e.columns.size() > 1 ? e.columns[c] : model;
    figure.images.push_back(file_image(e.image, "image"));
    if (c < e.image_maps.size()) {
      figure.images.push_back(png_image(
          small_overlay_png(e.decoded, positive_part_normalized(e.image_maps[c]), figure_side,
                            e.image),
          "occlusion"));
    }
    if (c < e.gradient_image_maps.size()) {
      figure.images.push_back(png_image(
          small_overlay_png(e.decoded, positive_part_normalized(e.gradient_image_maps[c]),
                            figure_side, e.image),
          "gradient x input"));
    }
    figures.figures.push_back(std::move(figure));
  }
  page.sections.emplace_back(std::move(figures));

  ReportTable words;
  words.title = "Words (delta = score - score without the word)";
  words.columns = {{"index", ColumnKind::kNumber}, {"word", ColumnKind::kText}};
  const bool gradients = !e.words.empty() && !e.words.front().gradient.empty();
  for (const std::string& c : e.columns) words.columns.push_back({"delta " + c, ColumnKind::kNumber});
  if (gradients) {
    words.columns.push_back({"tokens", ColumnKind::kNumber});
    for (const std::string& c : e.columns) {
      words.columns.push_back({"gradient x input " + c, ColumnKind::kNumber});
    }
  }
  for (const WordAttribution& w : e.words) {
    std::vector<ReportCell> row = {count_cell(static_cast<long long>(w.index)),
                                   text_cell(w.word + (w.truncated ? " (truncated)" : ""))};
    for (double v : w.delta) row.push_back(number_cell(v));
    if (gradients) {
      row.push_back(count_cell(w.tokens));
      for (double v : w.gradient) row.push_back(number_cell(v));
    }
    words.rows.push_back(std::move(row));
  }
  page.sections.emplace_back(std::move(words));
  return page;
}

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
