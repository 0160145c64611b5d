// A Scorer over one of the tiny fixture models (tests/data/cards + tests/data/models), fp32 (or
// `dtype`) on the CPU, for library-level scoring tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "prefscore/scorer.h"
#include "test_utils.h"

namespace prefscore::testing {

inline std::unique_ptr<Scorer> tiny_scorer(const std::string& card, const std::string& weights,
                                           std::vector<std::string> conditions = {},
                                           c10::ScalarType dtype = c10::kFloat) {
  ScorerSpec spec;
  spec.source.model = data_path("cards/" + card);
  spec.source.weights = data_path(weights);
  spec.conditions = std::move(conditions);
  spec.vocab_path = std::string(PREFSCORE_MODELS_DIR) + "/vocab/bpe_simple_vocab_16e6.txt.gz";
  return std::make_unique<Scorer>(spec, std::vector<std::string>{}, "/unused",
                                  RunOptions{c10::Device(c10::kCPU), dtype});
}

}  // namespace prefscore::testing
