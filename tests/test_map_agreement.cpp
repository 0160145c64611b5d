// Model-vs-human map agreement: Pearson r on hand-computed cases, AUC against a brute-force count
// over every (positive, negative) pair, and the undefined cases.
#include <cmath>
#include <limits>
#include <vector>

#include "prefscore/map_agreement.h"
#include "test_utils.h"

using prefscore::compare_maps;

TEST_CASE("pearson: hand value 0.8, +1 and -1", "[map_agreement]") {
  // Deviations (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5): Σ products 4, Σ squares 5 each.
  const std::vector<float> x = {1, 2, 3, 4}, y = {1, 3, 2, 4};
  REQUIRE(*compare_maps(x.data(), y.data(), 4).pearson == Approx(0.8).margin(1e-15));
  const std::vector<float> scaled = {3, 5, 7, 9}, negated = {-1, -2, -3, -4};
  REQUIRE(*compare_maps(scaled.data(), x.data(), 4).pearson == Approx(1.0).margin(1e-15));
  REQUIRE(*compare_maps(negated.data(), x.data(), 4).pearson == Approx(-1.0).margin(1e-15));
  const std::vector<float> flat = {2, 2, 2, 2};
  REQUIRE_FALSE(compare_maps(flat.data(), x.data(), 4).pearson.has_value());
  REQUIRE_FALSE(compare_maps(x.data(), flat.data(), 4).pearson.has_value());
}

TEST_CASE("auc equals the brute-force pair count, ties counted one half", "[map_agreement]") {
  // Deterministic values with many ties (model takes 7 levels) and a threshold that splits the
  // human map unevenly.
  const std::size_t n = 200;
  std::vector<float> model(n), human(n);
  for (std::size_t i = 0; i < n; ++i) {
    model[i] = static_cast<float>((i * 37) % 7) / 7.0f;
    human[i] = static_cast<float>((i * 53 + 11) % 100) / 99.0f;
  }
  const double threshold = 0.62;
  double wins = 0, pairs = 0;
  std::size_t positives = 0;
  for (std::size_t p = 0; p < n; ++p) {
    if (human[p] < threshold) continue;
    ++positives;
    for (std::size_t q = 0; q < n; ++q) {
      if (human[q] >= threshold) continue;
      pairs += 1;
      wins += model[p] > model[q] ? 1.0 : model[p] == model[q] ? 0.5 : 0.0;
    }
  }
  const prefscore::MapAgreement got = compare_maps(model.data(), human.data(), n, threshold);
  REQUIRE(got.positives == positives);
  REQUIRE(got.pixels == n);
  REQUIRE(*got.auc == Approx(wins / pairs).margin(1e-12));
  REQUIRE(*got.auc != Approx(0.5).margin(1e-3));  // the case is not trivial
}

TEST_CASE("auc extremes and undefined cases", "[map_agreement]") {
  const std::vector<float> human = {0, 0.2f, 0.9f, 1, 0.5f};  // positives: 0.9, 1, 0.5
  const std::vector<float> perfect = {0, 1, 5, 6, 2}, reversed = {9, 8, 1, 0, 2};
  const std::vector<float> flat = {3, 3, 3, 3, 3};
  REQUIRE(*compare_maps(perfect.data(), human.data(), 5).auc == 1.0);
  REQUIRE(compare_maps(perfect.data(), human.data(), 5).positives == 3);
  REQUIRE(*compare_maps(reversed.data(), human.data(), 5).auc == 0.0);
  REQUIRE(*compare_maps(flat.data(), human.data(), 5).auc == 0.5);
  REQUIRE_FALSE(compare_maps(perfect.data(), human.data(), 5, /*positive_threshold=*/1.5).auc);
  REQUIRE_FALSE(compare_maps(perfect.data(), human.data(), 5, /*positive_threshold=*/0.0).auc);
}

TEST_CASE("a non-finite value is an error naming its index", "[map_agreement]") {
  const std::vector<float> human = {0, 1, 0.5f};
  const std::vector<float> model = {0, std::numeric_limits<float>::quiet_NaN(), 1};
  REQUIRE_THROWS_WITH(compare_maps(model.data(), human.data(), 3),
                      Catch::StartsWith("map value 1 is not finite"));
}
