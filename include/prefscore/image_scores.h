// Per-image scores that an evaluation looks up when its rows name images instead of carrying
// scores: computed by a model (`eval --model`, from a ScoreReport) or read back from the JSONL
// that `prefscore score` writes (`eval --scores FILE`), so an evaluation can be re-run without
// the model. Keys are (image path made absolute and lexically normal, prompt, MPS condition).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "prefscore/scoring.h"

namespace prefscore {

// An image (with its prompt, and for MPS a condition) that an eval file's rows need a score for.
struct ImageRequest {
  std::string image;      // as resolved against the eval file's folder
  std::string prompt;
  std::string condition;  // "" when the row names none
  std::string first_use;  // "FILE:LINE" of the first row naming it, for error messages
};

struct ImageScore {
  double score = 0.0;  // the metric's own score (rankings use it)
  double logit = 0.0;  // exp(logit_scale)·cos (pair probabilities use it, softmax scale 1)
};

// The identity an image is looked up by: the path made absolute (relative paths taken from the
// current directory) and lexically normal, so "a/./b.jpg" and "a/b.jpg" match.
std::string image_key(const std::string& path);

class ImageScores {
 public:
  void add(const std::string& image, const std::string& prompt, const std::string& condition,
           const ImageScore& score);
  // Why an image has no score (unreadable, skipped by the scorer): reported for each row using it.
  void add_failure(const std::string& image, const std::string& reason);

  // The score of (image, prompt, condition); a model without conditions (condition "") answers
  // for every condition. Throws Error(image, why) when there is none.
  ImageScore at(const std::string& image, const std::string& prompt,
                const std::string& condition) const;

  std::size_t size() const { return scores_.size(); }
  // "score file FILE", "model pickscore": what the scores came from, for reports and errors.
  std::string source;

 private:
  std::map<std::tuple<std::string, std::string, std::string>, ImageScore> scores_;
  std::map<std::string, std::string> failures_;
};

// The scores of a run of one model over `items`, by (image, prompt, condition); each item the
// run skipped is recorded as a failure with the run's reason.
ImageScores image_scores_from_report(const std::vector<ScoreItem>& items,
                                     const ScoreReport& report);

// A `prefscore score` JSONL file (rows {"image", "prompt", "model", "condition"?, "score",
// "logit"?}). With several models in the file, `model` picks one (required then). Rows without
// "logit" (written by other tools) get logit = score · `logit_scale`. Malformed rows are errors
// naming FILE:LINE; a (image, prompt, condition) given twice with different scores is an error.
ImageScores read_score_file(const std::string& path, const std::string& model, double logit_scale);

// The items to score for `requests`: one per distinct (image, prompt), in first-use order.
std::vector<ScoreItem> items_to_score(const std::vector<ImageRequest>& requests);

// The distinct non-empty conditions of `requests`, in first-use order.
std::vector<std::string> requested_conditions(const std::vector<ImageRequest>& requests);

}  // namespace prefscore
