// A scoring run: every item (image + prompt) through every scorer, images preprocessed and encoded
// in batches, probabilities by softmax over the candidates of each group. A bad image is reported
// and skipped; the rest are scored (../shared/STYLE.md section 3).
//
// Images are read, decoded and preprocessed on worker threads (ScoreRunOptions::decode_threads)
// while the model runs the previous batch, at most two batches ahead, straight into preallocated
// batch tensors; each image is decoded once per distinct decode options and preprocessed once per
// distinct pipeline, whatever the number of scorers. With an embedding cache, an image whose
// features are cached for a scorer skips that scorer's image tower (and, when every scorer has
// it, decoding). The report does not depend on the number of threads or on the cache: the same
// rows, and the same skipped and warning lines in input order.
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
  std::vector<std::string> skipped;    // "path: reason" for each skipped item, in input order
  std::vector<std::pair<std::string, std::string>> columns;  // (model, column), in order
  std::vector<std::string> warnings;   // e.g. an unusable cache entry that was recomputed
  std::size_t images_encoded = 0;      // images run through an image tower, summed over scorers
  std::size_t cache_hits = 0;          // image features read from the cache, summed over scorers
};

class EmbeddingCache;

struct ScoreRunOptions {
  int batch_size = 8;
  // Threads that read, decode and preprocess images ahead of the model; 0 = on the calling
  // thread, between batches.
  int decode_threads = 0;
  // Image features are read from and written to this cache when given (embedding_cache.h).
  const EmbeddingCache* cache = nullptr;
  // Called after each batch with (images done, images in total); e.g. a progress bar.
  std::function<void(std::size_t, std::size_t)> progress;
};

// The group a candidate competes in: its group, else its prompt.
std::string candidate_group(const ScoreItem& item);

// Sets every row's prob: the float32 softmax of the rows' logits over each group's candidates,
// per column, candidates in report order. Rows are per item, in `columns` order.
void assign_group_probabilities(ScoreReport* report);

// The skipped line of `report` about `item` ("image: reason"), or "" when it was not skipped.
std::string skip_message(const ScoreReport& report, const ScoreItem& item);

ScoreReport score_items(const std::vector<Scorer*>& scorers, const std::vector<ScoreItem>& items,
                        const ScoreRunOptions& options);

// A preprocessed batch (`--pixels`): row i is item i (named "#i" or by the batch's file list);
// every scorer gets the same pixels.
ScoreReport score_pixel_batch(const std::vector<Scorer*>& scorers, const at::Tensor& pixel_values,
                              const std::vector<ScoreItem>& items, const ScoreRunOptions& options);

}  // namespace prefscore
