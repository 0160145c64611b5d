// How an eval report (eval_inputs.h) is shown: JSON as built, a summary table for the terminal,
// or CSV of every value flattened to key,value rows (arrays as key[i], objects as key.field).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace prefscore {

// `format`: "json" (indented), "table" (scalar results, the per-threshold accuracies and the
// per-condition accuracies; per-prompt items are left to JSON), or "csv".
std::string format_eval_report(const nlohmann::ordered_json& report, const std::string& format);

}  // namespace prefscore
