// A scoring run: every item (image + prompt) through every scorer, images preprocessed and encoded
// in batches, probabilities by softmax over the candidates of each group. A bad image is reported
// and skipped; the rest are scored (../shared/STYLE.md section 3).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "prefscore/inputs.h"
#include "prefscore/scorer.h"

namespace prefscore {

struct ScoreRow {
  std::size_t item = 0;  // index into the items scored
  std::string model;     // Scorer::model_name()
  std::string head;      // Scorer::head(): pickscore, hpsv2, mps or clip
  std::string column;    // "score", or the MPS condition
  double score = 0.0;    // the metric's own score
  double prob = 0.0;     // softmax over the group's candidates of `logit`
  double logit = 0.0;    // exp(logit_scale)·cos: what the softmax of pairs and groups takes
};

struct ScoreReport {
  std::vector<ScoreItem> items;        // scored items, in input order (skipped ones removed)
  std::vector<ScoreRow> rows;          // per item: each scorer, each column, in that order
  std::vector<std::string> skipped;    // "path: reason" for each skipped image
  std::vector<std::pair<std::string, std::string>> columns;  // (model, column), in order
};

struct ScoreRunOptions {
  int batch_size = 8;
  // Called after each batch with (images done, images in total); e.g. a progress bar.
  std::function<void(std::size_t, std::size_t)> progress;
};

// The group a candidate competes in: its group, else its prompt.
std::string candidate_group(const ScoreItem& item);

ScoreReport score_items(const std::vector<Scorer*>& scorers, const std::vector<ScoreItem>& items,
                        const ScoreRunOptions& options);

// A preprocessed batch (`--pixels`): row i is item i (named "#i" or by the batch's file list);
// every scorer gets the same pixels.
ScoreReport score_pixel_batch(const std::vector<Scorer*>& scorers, const at::Tensor& pixel_values,
                              const std::vector<ScoreItem>& items, const ScoreRunOptions& options);

}  // namespace prefscore
