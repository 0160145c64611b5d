#include "prefscore/eval_output.h"

#include <vector>

#include "prefscore/csv.h"
#include "prefscore/error.h"
#include "prefscore/io.h"

namespace prefscore {
namespace {

using Json = nlohmann::ordered_json;

std::string cell(const Json& value) {
  if (value.is_number_float()) return format_score(value.get<double>());
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "nan";  // nlohmann writes NaN as null
  return value.dump();
}

// Intervals print as "low .. high".
std::string summary_cell(const Json& value) {
  if (value.is_array() && value.size() == 2 && value[0].is_number()) {
    return cell(value[0]) + " .. " + cell(value[1]);
  }
  return cell(value);
}

std::string table(const Json& report) {
  std::vector<std::vector<std::string>> summary = {{"RESULT", "VALUE"}};
  for (const auto& [key, value] : report.items()) {
    if (value.is_object() && key != "bootstrap") continue;
    if (value.is_array() && !(value.size() == 2 && key.size() > 5 &&
                              key.compare(key.size() - 5, 5, "_ci95") == 0)) {
      continue;
    }
    if (key == "bootstrap") {
      summary.push_back({"bootstrap", cell(value["resamples"]) + " resamples, seed " +
                                          cell(value["seed"])});
      continue;
    }
    summary.push_back({key, summary_cell(value)});
  }
  std::string out = format_table(summary);
  if (report.contains("thresholds")) {
    std::vector<std::vector<std::string>> rows = {{"THRESHOLD", "VALIDATION_ACC", "TEST_ACC"}};
    const Json& t = report["thresholds"];
    for (std::size_t i = 0; i < t.size(); ++i) {
      rows.push_back({cell(t[i]), cell(report["validation_accuracy_by_threshold"][i]),
                      cell(report["test_accuracy_by_threshold"][i])});
    }
    out += "\n" + format_table(rows);
  }
  if (report.contains("test_accuracy_by_condition")) {
    std::vector<std::vector<std::string>> rows = {{"CONDITION", "TEST_ACC", "N_TEST", "TIES"}};
    for (const auto& [condition, v] : report["test_accuracy_by_condition"].items()) {
      rows.push_back(
          {condition, cell(v["test_accuracy"]), cell(v["n_test"]), cell(v["n_test_ties"])});
    }
    out += "\n" + format_table(rows);
  }
  if (report.contains("items")) {
    out += "\n" + std::to_string(report["items"].size()) +
           " per-prompt values: see --format json\n";
  }
  return out;
}

void flatten(const Json& value, const std::string& key, std::string* out) {
  if (value.is_object()) {
    for (const auto& [k, v] : value.items()) flatten(v, key.empty() ? k : key + "." + k, out);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      flatten(value[i], key + "[" + std::to_string(i) + "]", out);
    }
  } else {
    // Full precision here (CSV is for further processing), unlike the 6 decimals of the table.
    *out += csv_field(key) + "," + csv_field(value.is_null()      ? "nan"
                                             : value.is_string() ? value.get<std::string>()
                                                                 : value.dump()) +
            "\n";
  }
}

}  // namespace

std::string format_eval_report(const Json& report, const std::string& format) {
  if (format == "json") return report.dump(2) + "\n";
  if (format == "table") return table(report);
  if (format == "csv") {
    std::string out = "key,value\n";
    flatten(report, "", &out);
    return out;
  }
  throw Error("--format", "\"" + format + "\" is not json, table or csv");
}

}  // namespace prefscore
