// Synthetic-dataset audit (`prefscore audit`): four scores of a set of generated images against a
// set of real ones, computed from image embeddings alone: unrealistic, unrepresentative, unvaried,
// unoriginal (the failure modes of issue 9; related to fidelity, coverage/diversity and
// authenticity in Alaa et al., ICML 2022, "How Faithful is your Synthetic Data?"). The formulas
// below are prefscore's own. Everything here works on plain float matrices, so it is tested
// without a model (image_embeddings.h makes the matrices from image files).
//
// Notation: r_1..r_R the real and s_1..s_S the synthetic embeddings, each L2-normalised first
// (x / ||x||; a zero row is an error); cos(a, b) = a·b of normalised rows.
//
// unrealistic (dataset score in [0, 1], 0.5 ≈ indistinguishable, 1 = every synthetic image is
//   recognised as such): a class-balanced L2-regularised logistic regression tells synthetic
//   (label 1) from real (label 0), cross-validated in K stratified folds. Each image's
//   out-of-fold probability p_i = σ(w·x_i + b) comes from the model trained on the other folds.
//     per synthetic image: p_i = P(synthetic | s_i);     dataset: mean over the synthetic images.
//   The regression minimises  (1/N) Σ_i c_i·[log(1 + e^{z_i}) - y_i z_i] + (λ/2)||w||²,
//   z_i = w·x_i + b (bias not penalised), class weights c_i = N / (2 N_{y_i}) (sklearn's
//   "balanced"), so that chance is 0.5 whatever the two set sizes. Minimised by Nesterov's
//   accelerated gradient descent with step 1/L, L = ¼·max c_i·max ||[x_i, 1]||² + λ (a bound on
//   the Hessian), from w = 0, b = 0, until the gradient's norm is below `tolerance` or after
//   `max_iterations` steps.
//   Folds: each class's indices are shuffled (Fisher-Yates driven by std::mt19937_64(seed), index
//   j = rng() % (i + 1), the same on every platform) and dealt round-robin to folds 0..K-1.
// unrepresentative (dataset score in [0, 1]; 0.5 ≈ covered, 1 = real images unlike any
//   synthetic one): per real image, its out-of-fold P(real | r_j) = 1 - p_j from the same
//   classifier, and its nearest-synthetic cosine distance d_j = 1 - max_i cos(r_j, s_i);
//   dataset: mean of P(real) over the real images (the mean of d_j is reported beside it).
// unvaried (dataset score in [0, 1]): the pairs i < k of synthetic images with
//   cos(s_i, s_k) >= duplicate_cosine are near-duplicates; dataset: the fraction of synthetic
//   images in at least one such pair (1.0 for one image repeated).
// unoriginal (dataset score in [0, 1]): the pairs (synthetic i, real j) with
//   cos(s_i, r_j) >= memorisation_cosine are possible memorisation; dataset: the fraction of
//   synthetic images in at least one such pair. Per synthetic image, its nearest real image and
//   cosine are reported.
// Cost: the classifier O(K · iterations · N · E), the pairs O((R + S) · S · E), in double
// precision on one thread; results do not depend on anything but the inputs and the options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace prefscore {

// Row-major rows x cols float32.
struct EmbeddingMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<float> values;
  const float* row(std::size_t i) const { return values.data() + i * cols; }
};

struct AuditOptions {
  int folds = 5;      // K; at most the smaller set's size, at least 2
  uint64_t seed = 0;  // fold assignment
  double l2 = 1e-3;   // λ
  int max_iterations = 2000;
  double tolerance = 1e-6;            // gradient norm at which the descent stops
  double duplicate_cosine = 0.95;     // unvaried threshold
  double memorisation_cosine = 0.95;  // unoriginal threshold
};

struct SyntheticImageAudit {
  double p_synthetic = 0.0;      // out of fold
  std::size_t nearest_real = 0;  // index into the real rows
  double nearest_real_cosine = 0.0;
  std::size_t fold = 0;
};

struct RealImageAudit {
  double p_real = 0.0;                      // out of fold
  std::size_t nearest_synthetic = 0;        // index into the synthetic rows
  double nearest_synthetic_distance = 0.0;  // 1 - cosine
  std::size_t fold = 0;
};

struct SimilarPair {
  std::size_t a = 0;  // unvaried: synthetic i; unoriginal: synthetic i
  std::size_t b = 0;  // unvaried: synthetic k > i; unoriginal: real j
  double cosine = 0.0;
};

struct AuditResult {
  double unrealistic = 0.0;
  double unrepresentative = 0.0;
  double unvaried = 0.0;
  double unoriginal = 0.0;
  double mean_nearest_synthetic_distance = 0.0;
  std::vector<SyntheticImageAudit> synthetic;  // per synthetic row
  std::vector<RealImageAudit> real;            // per real row
  std::vector<SimilarPair> unvaried_pairs;     // by (a, b)
  std::vector<SimilarPair> unoriginal_pairs;   // by (a, b)
};

// Throws Error("--real"/"--synthetic"/"", reason) for an empty set, different widths, a zero or
// non-finite row, or folds outside [2, min(R, S)].
AuditResult audit_embeddings(const EmbeddingMatrix& real, const EmbeddingMatrix& synthetic,
                             const AuditOptions& options);

// The pieces, exposed for tests.

// Each row divided by its L2 norm, in double precision. Throws Error(label, ...) for a zero or
// non-finite row.
std::vector<double> l2_normalized_rows(const EmbeddingMatrix& m, const char* label);
// Fold (0..folds-1) of each of the `labels.size()` samples, stratified by label as described.
std::vector<std::size_t> stratified_folds(const std::vector<int>& labels, int folds, uint64_t seed);

struct LogisticModel {
  std::vector<double> weights;  // [dims]
  double bias = 0.0;
  int iterations = 0;
  double gradient_norm = 0.0;  // at the returned point
};
// Minimises the objective above over the samples listed in `rows` of `x` (n x dims, row-major,
// double) with labels y (0/1), class-balanced over those samples.
LogisticModel fit_logistic_regression(const std::vector<double>& x, std::size_t dims,
                                      const std::vector<int>& y,
                                      const std::vector<std::size_t>& rows,
                                      const AuditOptions& options);
// σ(w·x + b) of one row.
double predict_probability(const LogisticModel& model, const double* x);

}  // namespace prefscore
