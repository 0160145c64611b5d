#include "prefscore/audit.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "prefscore/error.h"

namespace prefscore {
namespace {

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

double dot(const double* a, const double* b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// The objective's gradient at (w, b) over `rows`; returns its norm.
double gradient(const std::vector<double>& x, std::size_t dims, const std::vector<int>& y,
                const std::vector<std::size_t>& rows, const std::vector<double>& class_weight,
                double l2, const std::vector<double>& w, double b, std::vector<double>* g_w,
                double* g_b) {
  const double inv_n = 1.0 / static_cast<double>(rows.size());
  g_w->assign(dims, 0.0);
  *g_b = 0.0;
  for (std::size_t i : rows) {
    const double* xi = x.data() + i * dims;
    const double r = class_weight[y[i]] * (sigmoid(dot(w.data(), xi, dims) + b) - y[i]) * inv_n;
    for (std::size_t d = 0; d < dims; ++d) (*g_w)[d] += r * xi[d];
    *g_b += r;
  }
  double norm2 = *g_b * *g_b;
  for (std::size_t d = 0; d < dims; ++d) {
    (*g_w)[d] += l2 * w[d];
    norm2 += (*g_w)[d] * (*g_w)[d];
  }
  return std::sqrt(norm2);
}

void check_matrix(const EmbeddingMatrix& m, const char* label) {
  if (m.rows == 0 || m.cols == 0) throw Error(label, "no embeddings (0 images)");
  if (m.values.size() != m.rows * m.cols) {
    throw Error(label, "matrix of " + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                           " holds " + std::to_string(m.values.size()) + " values");
  }
}

// Nearest row of `b` (by cosine) for each row of `a`, and the pairs at or above `threshold`;
// `same` = a and b are the same set: only pairs i < k, and no row is its own neighbour.
void nearest_and_pairs(const std::vector<double>& a, std::size_t na, const std::vector<double>& b,
                       std::size_t nb, std::size_t dims, bool same, double threshold,
                       std::vector<std::size_t>* nearest, std::vector<double>* nearest_cosine,
                       std::vector<SimilarPair>* pairs) {
  nearest->assign(na, 0);
  nearest_cosine->assign(na, -2.0);
  for (std::size_t i = 0; i < na; ++i) {
    for (std::size_t k = 0; k < nb; ++k) {
      if (same && k == i) continue;
      const double c = dot(a.data() + i * dims, b.data() + k * dims, dims);
      if (c > (*nearest_cosine)[i]) {
        (*nearest_cosine)[i] = c;
        (*nearest)[i] = k;
      }
      if (c >= threshold && (!same || k > i)) pairs->push_back(SimilarPair{i, k, c});
    }
  }
}

double fraction_in_pairs(const std::vector<SimilarPair>& pairs, std::size_t n, bool both_sides) {
  std::vector<bool> involved(n, false);
  for (const SimilarPair& p : pairs) {
    involved[p.a] = true;
    if (both_sides) involved[p.b] = true;
  }
  return static_cast<double>(std::count(involved.begin(), involved.end(), true)) /
         static_cast<double>(n);
}

}  // namespace

std::vector<double> l2_normalized_rows(const EmbeddingMatrix& m, const char* label) {
  check_matrix(m, label);
  std::vector<double> out(m.values.begin(), m.values.end());
  for (std::size_t i = 0; i < m.rows; ++i) {
    double* row = out.data() + i * m.cols;
    const double norm = std::sqrt(dot(row, row, m.cols));
    if (!(norm > 0) || !std::isfinite(norm)) {
      throw Error(label, "embedding " + std::to_string(i) + " has norm " + std::to_string(norm) +
                             ", need a finite non-zero vector");
    }
    for (std::size_t d = 0; d < m.cols; ++d) row[d] /= norm;
  }
  return out;
}

std::vector<std::size_t> stratified_folds(const std::vector<int>& labels, int folds,
                                          uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> fold(labels.size(), 0);
  const int max_label = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end());
  for (int label = 0; label <= max_label; ++label) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == label) members.push_back(i);
    }
    // Fisher-Yates with an explicit index rule: std::shuffle's is implementation-defined.
    for (std::size_t i = members.size(); i > 1; --i) {
      std::swap(members[i - 1], members[rng() % i]);
    }
    for (std::size_t k = 0; k < members.size(); ++k) {
      fold[members[k]] = k % static_cast<std::size_t>(folds);
    }
  }
  return fold;
}

LogisticModel fit_logistic_regression(const std::vector<double>& x, std::size_t dims,
                                      const std::vector<int>& y,
                                      const std::vector<std::size_t>& rows,
                                      const AuditOptions& options) {
  std::size_t count[2] = {0, 0};
  double max_norm2 = 0;
  for (std::size_t i : rows) {
    ++count[y[i]];
    const double* xi = x.data() + i * dims;
    max_norm2 = std::max(max_norm2, dot(xi, xi, dims) + 1.0);  // + the bias feature
  }
  if (options.max_iterations < 0 || !(options.l2 >= 0)) {
    throw Error("", "max_iterations must be >= 0 and l2 >= 0");
  }
  if (count[0] == 0 || count[1] == 0) {
    throw Error("", "logistic regression needs both classes among its training samples");
  }
  const double n = static_cast<double>(rows.size());
  const std::vector<double> class_weight = {n / (2.0 * count[0]), n / (2.0 * count[1])};
  const double lipschitz =
      0.25 * std::max(class_weight[0], class_weight[1]) * max_norm2 + options.l2;
  const double step = 1.0 / lipschitz;

  LogisticModel model;
  std::vector<double> w(dims, 0.0), w_prev(dims, 0.0), v(dims, 0.0), g_w;
  double b = 0, b_prev = 0, v_b = 0, g_b = 0;
  for (int k = 0;; ++k) {
    const double norm = gradient(x, dims, y, rows, class_weight, options.l2, v, v_b, &g_w, &g_b);
    if (norm < options.tolerance || k == options.max_iterations) {
      model.weights = v;
      model.bias = v_b;
      model.iterations = k;
      model.gradient_norm = norm;
      return model;
    }
    w_prev.swap(w);
    b_prev = b;
    for (std::size_t d = 0; d < dims; ++d) w[d] = v[d] - step * g_w[d];
    b = v_b - step * g_b;
    const double momentum = static_cast<double>(k) / static_cast<double>(k + 3);
    for (std::size_t d = 0; d < dims; ++d) v[d] = w[d] + momentum * (w[d] - w_prev[d]);
    v_b = b + momentum * (b - b_prev);
  }
}

double predict_probability(const LogisticModel& model, const double* x) {
  return sigmoid(dot(model.weights.data(), x, model.weights.size()) + model.bias);
}

AuditResult audit_embeddings(const EmbeddingMatrix& real, const EmbeddingMatrix& synthetic,
                             const AuditOptions& options) {
  const std::vector<double> r = l2_normalized_rows(real, "--real");
  const std::vector<double> s = l2_normalized_rows(synthetic, "--synthetic");
  if (real.cols != synthetic.cols) {
    throw Error("--synthetic", "embeddings have " + std::to_string(synthetic.cols) +
                                   " dimensions, the real ones " + std::to_string(real.cols));
  }
  const std::size_t dims = real.cols, nr = real.rows, ns = synthetic.rows;
  const std::size_t smaller = std::min(nr, ns);
  if (options.folds < 2 || static_cast<std::size_t>(options.folds) > smaller) {
    throw Error("--folds", "must be in [2, " + std::to_string(smaller) +
                               "] (the smaller set's size), got " + std::to_string(options.folds));
  }

  // Samples: the real rows (label 0), then the synthetic rows (label 1).
  std::vector<double> x(r);
  x.insert(x.end(), s.begin(), s.end());
  std::vector<int> y(nr, 0);
  y.insert(y.end(), ns, 1);
  const std::vector<std::size_t> fold = stratified_folds(y, options.folds, options.seed);
  std::vector<double> p_synthetic(nr + ns, 0.0);
  for (int f = 0; f < options.folds; ++f) {
    std::vector<std::size_t> train;
    for (std::size_t i = 0; i < nr + ns; ++i) {
      if (fold[i] != static_cast<std::size_t>(f)) train.push_back(i);
    }
    const LogisticModel model = fit_logistic_regression(x, dims, y, train, options);
    for (std::size_t i = 0; i < nr + ns; ++i) {
      if (fold[i] == static_cast<std::size_t>(f)) {
        p_synthetic[i] = predict_probability(model, x.data() + i * dims);
      }
    }
  }

  AuditResult out;
  std::vector<std::size_t> nearest;
  std::vector<double> nearest_cosine;
  std::vector<SimilarPair> unused;
  nearest_and_pairs(r, nr, s, ns, dims, /*same=*/false, /*threshold=*/2.0, &nearest,
                    &nearest_cosine, &unused);
  double p_real_sum = 0, distance_sum = 0;
  for (std::size_t j = 0; j < nr; ++j) {
    RealImageAudit a;
    a.p_real = 1.0 - p_synthetic[j];
    a.nearest_synthetic = nearest[j];
    a.nearest_synthetic_distance = 1.0 - nearest_cosine[j];
    a.fold = fold[j];
    p_real_sum += a.p_real;
    distance_sum += a.nearest_synthetic_distance;
    out.real.push_back(a);
  }
  out.unrepresentative = p_real_sum / static_cast<double>(nr);
  out.mean_nearest_synthetic_distance = distance_sum / static_cast<double>(nr);

  nearest_and_pairs(s, ns, r, nr, dims, /*same=*/false, options.memorisation_cosine, &nearest,
                    &nearest_cosine, &out.unoriginal_pairs);
  double p_synthetic_sum = 0;
  for (std::size_t i = 0; i < ns; ++i) {
    SyntheticImageAudit a;
    a.p_synthetic = p_synthetic[nr + i];
    a.nearest_real = nearest[i];
    a.nearest_real_cosine = nearest_cosine[i];
    a.fold = fold[nr + i];
    p_synthetic_sum += a.p_synthetic;
    out.synthetic.push_back(a);
  }
  out.unrealistic = p_synthetic_sum / static_cast<double>(ns);
  out.unoriginal = fraction_in_pairs(out.unoriginal_pairs, ns, /*both_sides=*/false);

  std::vector<std::size_t> nearest_synthetic;
  std::vector<double> nearest_synthetic_cosine;
  nearest_and_pairs(s, ns, s, ns, dims, /*same=*/true, options.duplicate_cosine, &nearest_synthetic,
                    &nearest_synthetic_cosine, &out.unvaried_pairs);
  out.unvaried = fraction_in_pairs(out.unvaried_pairs, ns, /*both_sides=*/true);
  return out;
}

}  // namespace prefscore
