// `prefscore explain`: why one image gets its score for one prompt, by occlusion (model-agnostic:
// it only calls Scorer::encode_images and Scorer::score, so it works for every head and, for MPS,
// per condition column).
//
// Word attribution. The prompt's words are its runs of non-space characters (space, tab, CR, LF
// separate them). For word i, prompt_without_i = the other words joined by single spaces, and
//   delta_i = score(prompt) - score(prompt_without_i)   per column,
// with the image features computed once. delta_i > 0: the word raised the score (the image shows
// it); delta_i < 0: the score rises without it, so the image fails to show it (a misaligned-word
// candidate). A one-word prompt's only word is compared with the empty prompt.
//
// Region attribution. Occlusion happens on the model's input, the preprocessed S x S pixels
// (S = the card's image_size): a window x window square, its top-left corner at every multiple of
// `stride` from 0 up to S - window, plus S - window itself when the stride does not land there (so
// that the last row and column are covered), is set to 0 in every channel. 0 after normalisation
// is the preprocessing mean colour (CLIP's mean (0.4815, 0.4578, 0.4082) · 255), so the patch
// carries no signal. For each window w,
//   delta_w = score(unoccluded) - score(occluded by w)   per column,
// and the input-space map is, per model-input pixel, the mean of delta_w over the windows that
// cover it (every pixel is covered at least once). delta > 0: the region supported the score.
//
// Gradient x input (ExplainOptions::gradients; needs a differentiable model: Scorer::
// input_gradients). One forward and one backward per column give, with x = the normalised
// model-input pixels and e_p = the token embedding row at context position p,
//   pixel map(u, v) = sum over channels k of  d score / d x[k, v, u] * x[k, v, u]
//   word gradient_i = sum over the BPE tokens p of word i of  sum_w d score / d e_p[w] * e_p[w].
// It is the first-order (Taylor) estimate of the score lost when an input is replaced by zero:
// for pixels 0 is the mean colour, the same baseline as the occlusion; for tokens 0 is an empty
// embedding, which is not what removing the word does, so the two word columns can differ. Word
// i's tokens are found by tokenizing each word alone (the BPE never merges across spaces); they
// sit after SOT at positions 1 + (tokens of the words before it). Tokens past the context window
// (75 after SOT) were not in the pass: a word with any is marked truncated and sums only the
// others. When the per-word tokens do not concatenate to the prompt's own (a tokenizer that
// rewrites text across words), the word gradients are left empty and `word_gradient_note` says so.
//
// Back to the image. The image map has the decoded image's own size (after EXIF rotation when the
// scorer applies it): image pixel (c, r) takes the input-space value of model pixel
//   u = floor((c + 0.5) · rw / W) + shift_x,   v = floor((r + 0.5) · rh / H) + shift_y
// (nearest neighbour), where (rw, rh) is the size the pipeline resizes the W x H image to and
// shift is what it does next: openclip/hf centre crop (shift = -crop offset), hpsv2 letterbox
// (shift = the left/top padding). Pixels the model never sees (outside the crop) get 0.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "prefscore/heatmap_io.h"
#include "prefscore/image.h"
#include "prefscore/scorer.h"

namespace prefscore {

struct WordAttribution {
  std::string word;
  std::size_t index = 0;              // position among the prompt's words
  std::string prompt_without;         // the prompt scored without it
  std::vector<double> score_without;  // per column
  std::vector<double> delta;          // per column: score(prompt) - score_without
  std::vector<double> gradient;       // per column: gradient x input (empty when not computed)
  int tokens = 0;                     // the word's BPE tokens
  bool truncated = false;             // some of them fell outside the context window
};

struct WindowAttribution {
  int x = 0;  // top-left corner in model-input pixels
  int y = 0;
  std::vector<double> delta;  // per column: unoccluded score - occluded score
};

struct ExplainOptions {
  int window = 56;  // model-input pixels
  int stride = 28;  // model-input pixels
  int batch_size = 8;
  bool words = true;
  bool regions = true;
  bool gradients = true;  // gradient x input for words and pixels
};

struct Explanation {
  std::string image;
  std::string prompt;
  std::vector<std::string> columns;  // Scorer::columns()
  std::vector<double> score;         // per column, the unoccluded image and whole prompt
  std::vector<WordAttribution> words;
  std::vector<WindowAttribution> windows;
  int input_size = 0;               // S
  std::vector<Heatmap> input_maps;  // per column, S x S: mean delta of the covering windows
  std::vector<Heatmap> image_maps;  // per column, at the image's size
  // Gradient x input (empty when not computed): per column, S x S and at the image's size.
  std::vector<Heatmap> gradient_input_maps;
  std::vector<Heatmap> gradient_image_maps;
  std::string word_gradient_note;  // why the word gradients are empty, when they are
  PilImage decoded;                 // the image as the scorer decoded it (for overlays)
};

// The prompt's words as described above.
std::vector<std::string> split_prompt_words(const std::string& prompt);
// The window corners along one side of S pixels. Throws Error("--window"/"--stride", ...) for a
// window outside [1, S] or a stride < 1.
std::vector<int> occlusion_offsets(int input_size, int window, int stride);
// The input-space map mapped onto a width x height image as described above.
Heatmap input_map_to_image(const Heatmap& input_map, int width, int height,
                           const PreprocessOptions& preprocess);

// For each word (split_prompt_words), its BPE token positions in the context window: positions
// 1 + (tokens before it) onwards, those < 1 + max_tokens only. Empty optional when the per-word
// tokens do not concatenate to the prompt's (see above).
std::optional<std::vector<std::vector<int>>> word_token_positions(const Scorer& scorer,
                                                                  const std::string& prompt,
                                                                  int max_tokens = 75);

// Throws Error(image, ...) when the image cannot be read; Error("--prompt", ...) for an empty
// prompt; Error("--precision", ...) when gradients are asked of a model without a backward.
Explanation explain_image(Scorer& scorer, const std::string& image, const std::string& prompt,
                          const ExplainOptions& options);

}  // namespace prefscore
