// Dataset audit on constructed embedding matrices: planted near-duplicates are flagged exactly,
// one repeated image is fully unvaried, separable sets are unrealistic, identical distributions
// sit at chance (also with unequal set sizes), a 2-D case by hand, the classifier's optimality
// checked with a gradient computed here, and the refusals.
#include <cmath>
#include <random>
#include <vector>

#include "prefscore/audit.h"
#include "prefscore/error.h"
#include "test_utils.h"

using prefscore::AuditOptions;
using prefscore::EmbeddingMatrix;

namespace {

EmbeddingMatrix gaussian(std::size_t rows, std::size_t cols, std::mt19937_64& rng, double mean0 = 0,
                         std::size_t mean_axis = 0, double stddev = 1) {
  std::normal_distribution<double> normal(0.0, stddev);
  EmbeddingMatrix m{rows, cols, {}};
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t d = 0; d < cols; ++d) {
      m.values.push_back(static_cast<float>(normal(rng) + (d == mean_axis ? mean0 : 0.0)));
    }
  }
  return m;
}

void append_row(EmbeddingMatrix* m, const float* row) {
  m->values.insert(m->values.end(), row, row + m->cols);
  ++m->rows;
}

}  // namespace

TEST_CASE("unoriginal flags exactly the planted copies of real images", "[audit]") {
  std::mt19937_64 rng(7);
  const EmbeddingMatrix real = gaussian(30, 64, rng);
  EmbeddingMatrix synthetic = gaussian(25, 64, rng);
  const std::vector<std::size_t> planted = {3, 7, 11, 19, 27};
  std::normal_distribution<double> noise(0.0, 0.01);
  for (std::size_t j : planted) {
    std::vector<float> copy(real.row(j), real.row(j) + 64);
    for (float& v : copy) v += static_cast<float>(noise(rng));
    append_row(&synthetic, copy.data());
  }
  const prefscore::AuditResult got = prefscore::audit_embeddings(real, synthetic, AuditOptions{});
  REQUIRE(got.unoriginal_pairs.size() == planted.size());
  for (std::size_t k = 0; k < planted.size(); ++k) {
    REQUIRE(got.unoriginal_pairs[k].a == 25 + k);
    REQUIRE(got.unoriginal_pairs[k].b == planted[k]);
    REQUIRE(got.unoriginal_pairs[k].cosine > 0.999);
    REQUIRE(got.synthetic[25 + k].nearest_real == planted[k]);
    REQUIRE(got.real[planted[k]].nearest_synthetic == 25 + k);
    REQUIRE(got.real[planted[k]].nearest_synthetic_distance < 1e-3);
  }
  REQUIRE(got.unoriginal == Approx(5.0 / 30.0).epsilon(1e-15));
  REQUIRE(got.unvaried_pairs.empty());
  REQUIRE(got.unvaried == 0.0);
}

TEST_CASE("one synthetic image repeated is fully unvaried", "[audit]") {
  std::mt19937_64 rng(11);
  const EmbeddingMatrix real = gaussian(12, 32, rng);
  const EmbeddingMatrix one = gaussian(1, 32, rng);
  EmbeddingMatrix synthetic{0, 32, {}};
  for (int i = 0; i < 10; ++i) append_row(&synthetic, one.row(0));
  const prefscore::AuditResult got = prefscore::audit_embeddings(real, synthetic, AuditOptions{});
  REQUIRE(got.unvaried == 1.0);
  REQUIRE(got.unvaried_pairs.size() == 45);  // every pair i < k of 10
  REQUIRE(got.unvaried_pairs.front().a == 0);
  REQUIRE(got.unvaried_pairs.front().b == 1);
  REQUIRE(got.unvaried_pairs.back().a == 8);
  REQUIRE(got.unvaried_pairs.back().b == 9);
  REQUIRE(got.unvaried_pairs.back().cosine == Approx(1.0).margin(1e-12));
  REQUIRE(got.unoriginal == 0.0);
}

TEST_CASE("separable sets are unrealistic and unrepresentative, near 1", "[audit]") {
  std::mt19937_64 rng(3);
  const EmbeddingMatrix real = gaussian(40, 16, rng, /*mean0=*/3.0, /*mean_axis=*/0, 0.3);
  const EmbeddingMatrix synthetic = gaussian(40, 16, rng, /*mean0=*/3.0, /*mean_axis=*/1, 0.3);
  const prefscore::AuditResult got = prefscore::audit_embeddings(real, synthetic, AuditOptions{});
  REQUIRE(got.unrealistic > 0.95);
  REQUIRE(got.unrepresentative > 0.95);
  for (const auto& s : got.synthetic) REQUIRE(s.p_synthetic > 0.5);
  for (const auto& r : got.real) REQUIRE(r.p_real > 0.5);
}

TEST_CASE("identical distributions sit near 0.5, also with unequal set sizes", "[audit]") {
  // Out-of-fold probabilities of a finite sample scatter around 0.5 (and lean slightly to the other
  // class: a held-out image's own class lost it in training), by about 1/sqrt(set size).
  std::mt19937_64 rng(5);
  for (std::size_t real_rows : {500, 300}) {
    const EmbeddingMatrix real = gaussian(real_rows, 16, rng);
    const EmbeddingMatrix synthetic = gaussian(1000 - real_rows, 16, rng);
    const prefscore::AuditResult got = prefscore::audit_embeddings(real, synthetic, AuditOptions{});
    INFO("real " << real_rows << ": unrealistic " << got.unrealistic << ", unrepresentative "
                 << got.unrepresentative);
    REQUIRE(std::fabs(got.unrealistic - 0.5) < 0.05);
    REQUIRE(std::fabs(got.unrepresentative - 0.5) < 0.05);
  }
}

TEST_CASE("a 2-D case by hand: nearest neighbours, distances, unoriginal fraction", "[audit]") {
  const EmbeddingMatrix real{2, 2, {1, 0, 0, 2}};        // (1, 0), (0, 1) once normalised
  const EmbeddingMatrix synthetic{2, 2, {3, 3, -1, 0}};  // (1, 1)/√2, (-1, 0)
  AuditOptions options;
  options.folds = 2;
  options.memorisation_cosine = 0.7;
  options.duplicate_cosine = -0.5;  // cos(s0, s1) = -1/√2 < -0.5: still no pair
  const prefscore::AuditResult got = prefscore::audit_embeddings(real, synthetic, options);
  const double h = 1.0 / std::sqrt(2.0);
  REQUIRE(got.real[0].nearest_synthetic == 0);
  REQUIRE(got.real[0].nearest_synthetic_distance == Approx(1 - h).margin(1e-15));
  REQUIRE(got.real[1].nearest_synthetic == 0);
  REQUIRE(got.mean_nearest_synthetic_distance == Approx(1 - h).margin(1e-15));
  REQUIRE(got.synthetic[1].nearest_real == 1);  // cos -1 to (1, 0), 0 to (0, 1)
  REQUIRE(got.synthetic[1].nearest_real_cosine == Approx(0.0).margin(1e-15));
  REQUIRE(got.unoriginal_pairs.size() == 2);  // s0 with both real rows, cos 1/√2 >= 0.7
  REQUIRE(got.unoriginal == 0.5);
  REQUIRE(got.unvaried_pairs.empty());
}

TEST_CASE("the same seed gives the same result; the folds are stratified", "[audit]") {
  std::mt19937_64 rng(9);
  const EmbeddingMatrix real = gaussian(23, 8, rng), synthetic = gaussian(31, 8, rng);
  AuditOptions options;
  options.seed = 42;
  const auto a = prefscore::audit_embeddings(real, synthetic, options);
  const auto b = prefscore::audit_embeddings(real, synthetic, options);
  REQUIRE(a.unrealistic == b.unrealistic);
  for (std::size_t i = 0; i < a.synthetic.size(); ++i) {
    REQUIRE(a.synthetic[i].p_synthetic == b.synthetic[i].p_synthetic);
  }
  options.seed = 43;
  const auto c = prefscore::audit_embeddings(real, synthetic, options);
  REQUIRE(a.unrealistic != c.unrealistic);

  std::vector<int> labels(23, 0);
  labels.insert(labels.end(), 31, 1);
  const std::vector<std::size_t> folds = prefscore::stratified_folds(labels, 5, 42);
  REQUIRE(folds == prefscore::stratified_folds(labels, 5, 42));
  REQUIRE(folds != prefscore::stratified_folds(labels, 5, 43));
  for (int label = 0; label < 2; ++label) {
    std::vector<int> per_fold(5, 0);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == label) ++per_fold[folds[i]];
    }
    const int want = label == 0 ? 23 : 31;
    for (int f = 0; f < 5; ++f) REQUIRE(std::abs(per_fold[f] - want / 5) <= 1);
  }
}

TEST_CASE("the fitted classifier is the objective's minimum (gradient computed here)", "[audit]") {
  std::mt19937_64 rng(13);
  const EmbeddingMatrix m = gaussian(50, 6, rng, /*mean0=*/0.8);
  std::vector<double> x(m.values.begin(), m.values.end());
  std::vector<int> y(50);
  for (std::size_t i = 0; i < 50; ++i) y[i] = i % 3 == 0 ? 1 : 0;  // 17 vs 33: unbalanced
  for (std::size_t i = 0; i < 50; ++i) x[i * 6] += y[i] ? 0.5 : -0.5;
  std::vector<std::size_t> rows;
  for (std::size_t i = 0; i < 50; ++i) rows.push_back(i);
  AuditOptions options;
  options.l2 = 0.01;
  options.tolerance = 1e-10;
  options.max_iterations = 100000;
  const prefscore::LogisticModel model = prefscore::fit_logistic_regression(x, 6, y, rows, options);
  REQUIRE(model.gradient_norm < 1e-10);
  // (1/N) Σ c_i (σ(z_i) - y_i) [x_i, 1] + λ [w, 0] with c = N / (2 N_class).
  std::vector<double> g(7, 0.0);
  for (std::size_t i = 0; i < 50; ++i) {
    double z = model.bias;
    for (int d = 0; d < 6; ++d) z += model.weights[d] * x[i * 6 + d];
    const double c = 50.0 / (2.0 * (y[i] ? 17 : 33));
    const double r = c * (1.0 / (1.0 + std::exp(-z)) - y[i]) / 50.0;
    for (int d = 0; d < 6; ++d) g[d] += r * x[i * 6 + d];
    g[6] += r;
  }
  double norm2 = 0;
  for (int d = 0; d < 6; ++d) norm2 += std::pow(g[d] + 0.01 * model.weights[d], 2);
  norm2 += g[6] * g[6];
  REQUIRE(std::sqrt(norm2) < 1e-9);
  REQUIRE(std::fabs(model.weights[0]) > 0.1);  // the separating axis was learnt
}

TEST_CASE("audit refuses empty sets, zero rows, other widths and bad fold counts", "[audit]") {
  const EmbeddingMatrix two{2, 2, {1, 0, 0, 1}};
  REQUIRE_THROWS_WITH(prefscore::audit_embeddings(EmbeddingMatrix{0, 2, {}}, two, AuditOptions{}),
                      "--real: no embeddings (0 images)");
  REQUIRE_THROWS_WITH(prefscore::audit_embeddings(two, EmbeddingMatrix{2, 2, {1, 0, 0, 0}}, {}),
                      "--synthetic: embedding 1 has norm 0.000000, need a finite non-zero vector");
  REQUIRE_THROWS_WITH(prefscore::audit_embeddings(two, EmbeddingMatrix{2, 1, {1, 2}}, {}),
                      "--synthetic: embeddings have 1 dimensions, the real ones 2");
  REQUIRE_THROWS_WITH(prefscore::audit_embeddings(two, two, AuditOptions{}),
                      "--folds: must be in [2, 2] (the smaller set's size), got 5");
}
