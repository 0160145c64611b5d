// What `prefscore explain` prints and writes: the JSON object of an Explanation, and the files of
// `-o DIR` (<stem> = the image file name without its extension):
//   <stem>.occlusion.safetensors  float32 "heatmap" [H, W]: the first column's image map (raw
//                                 score deltas, the unit of the score); with several columns (MPS
//                                 conditions) also "heatmap.<column>" for each; "input_heatmap"
//                                 [S, S] of the first column; metadata image, prompt, model,
//                                 columns, window, stride, fill;
//   <stem>.occlusion.png          the first column's map over the image (heatmap_io.h overlay),
//                                 shown as max(delta, 0) / max over pixels of delta: the regions
//                                 that raised the score, brightest = 1 (all 0 when none did);
//   <stem>.occlusion.<column>.png the same for each further column;
//   <stem>.gradient.safetensors,  the same for the gradient x input maps (metadata image, prompt,
//   <stem>.gradient[.<column>].png  model, columns, values), when gradients were computed;
//   <stem>.explain.json           the JSON object.
// Files are written atomically; `prefscore heatmap --compare DIR` reads the safetensors.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "prefscore/explain.h"
#include "prefscore/html_report.h"

namespace prefscore {

// {"image", "prompt", "model", "columns", "score": {column: v},
//  "words": [{"word", "index", "prompt_without", "score_without": {..}, "delta": {..},
//             and with gradients "gradient": {..}, "tokens", "truncated"}],
//  "misaligned_words": [words whose first-column delta < 0, most negative first],
//  "occlusion": {"window", "stride", "input_size", "fill", "windows": [{"x", "y", "delta": {..}}]},
//  "gradient": {"method", "input_size", "word_gradient_note" (when word gradients are missing)},
//  "files": [paths written]}
nlohmann::ordered_json explanation_json(const Explanation& e, const std::string& model,
                                        const ExplainOptions& options,
                                        const std::vector<std::string>& files);

// The misaligned-word candidates: the words whose delta in `column` is negative (the score rises
// without them), most negative first, ties in prompt order.
std::vector<std::string> misaligned_words(const Explanation& e, std::size_t column = 0);

// max(v, 0) / max over the map of v; all zeros when no value is positive.
Heatmap positive_part_normalized(const Heatmap& map);

// The `--report FILE.html` page (html_report.h): a summary (image, prompt, model, score and the
// misaligned-word candidates per column), per column a figure of the image with its occlusion and
// gradient overlays (as in the PNG files, shrunk to `figure_side` pixels on the longer side), and
// the word table (delta and gradient x input per column; sortable).
HtmlReport explanation_report_page(const Explanation& e, const std::string& model,
                                   const ExplainOptions& options,
                                   int figure_side = kReportFigureSide);

// Writes the files above into `dir` (created when needed) and returns their paths, JSON last.
std::vector<std::string> write_explanation(const Explanation& e, const std::string& model,
                                           const ExplainOptions& options, const std::string& dir);

}  // namespace prefscore
