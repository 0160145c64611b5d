// How well a model's saliency map agrees with a human heatmap of the same image (both maps of the
// same size, same pixel order): the two numbers RichHF-18K (Liang et al., CVPR 2024, Table 2)
// reports for implausibility/misalignment heatmaps beside MSE, as `prefscore heatmap --compare`
// prints them.
#pragma once

#include <cstddef>
#include <optional>

namespace prefscore {

// The default level at which a pixel of a (max-normalised) human map counts as marked.
constexpr double kDefaultPositiveThreshold = 0.5;

struct MapAgreement {
  // Pearson correlation over pixels, in double precision:
  //   r = Σ(m_i - m̄)(h_i - h̄) / sqrt(Σ(m_i - m̄)² · Σ(h_i - h̄)²);
  // nullopt when either map is constant (the formula divides by zero).
  std::optional<double> pearson;
  // ROC AUC of the model map as a detector of the human-marked pixels: positives are the pixels
  // with h_i >= positive_threshold, negatives the others; AUC = P(m_pos > m_neg) + ½·P(m_pos =
  // m_neg) over all (positive, negative) pairs (Mann-Whitney U / (n_pos·n_neg), ties by average
  // rank). nullopt when there are no positives or no negatives.
  std::optional<double> auc;
  std::size_t positives = 0;  // pixels with h_i >= positive_threshold
  std::size_t pixels = 0;
};

// `model` and `human` hold `pixels` values each. Throws Error("", ...) for a NaN or infinity in
// either map.
MapAgreement compare_maps(const float* model, const float* human, std::size_t pixels,
                          double positive_threshold = kDefaultPositiveThreshold);

}  // namespace prefscore
