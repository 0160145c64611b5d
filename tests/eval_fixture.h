// The evaluation golden fixture (tests/data/eval/expected.json: the official rules' numbers).
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_utils.h"

namespace prefscore::testing {

inline const nlohmann::json& eval_expected() {
  static const nlohmann::json j = [] {
    std::ifstream in(data_path("eval/expected.json"));
    return nlohmann::json::parse(in);
  }();
  return j;
}

}  // namespace prefscore::testing
