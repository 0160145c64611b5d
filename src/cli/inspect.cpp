// `prefscore inspect FILE.safetensors`: the tensors (name, dtype, shape) and metadata of a
// safetensors file, after full validation; the check users run on converted weights. Names and
// metadata come from a downloaded file: the table escapes control characters (io.h printable), so
// a tensor name cannot send escape sequences to the terminal; JSON is ASCII (\uXXXX escapes).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"

namespace prefscore::cli {
namespace {

struct InspectOptions {
  std::string path;
  std::string format = "table";
  SafetensorsLimits limits;
};

void inspect(const InspectOptions& opts) {
  const SafetensorsFile file = SafetensorsFile::open(opts.path, opts.limits);
  std::vector<TensorInfo> tensors = file.tensors();
  std::sort(tensors.begin(), tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  uint64_t total_elements = 0;
  for (const TensorInfo& t : tensors) total_elements += static_cast<uint64_t>(t.numel());
  if (opts.format == "json") {
    nlohmann::ordered_json j;
    j["file"] = opts.path;  // may be any bytes: dumped with invalid UTF-8 replaced (U+FFFD)
    j["bytes"] = file.file_size();
    j["parameters"] = total_elements;
    j["metadata"] = file.metadata();
    j["tensors"] = nlohmann::ordered_json::array();
    for (const TensorInfo& t : tensors) {
      j["tensors"].push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}});
    }
    std::cout << j.dump(2, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace)
              << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"TENSOR", "DTYPE", "SHAPE"}};
  for (const TensorInfo& t : tensors) {
    rows.push_back({t.name, std::string(dtype_name(t.dtype)), format_shape(t.shape)});
  }
  std::cout << format_table(rows);
  std::cout << "\n" << tensors.size() << " tensors, " << total_elements << " elements, "
            << file.file_size() << " bytes: " << printable(opts.path) << "\n";
  if (!file.metadata().empty()) {
    std::cout << "\nmetadata:\n";
    for (const auto& [key, value] : file.metadata()) {
      std::string shown = value.size() > 200 ? value.substr(0, 200) + "... (" +
                                                   std::to_string(value.size()) + " bytes)"
                                             : value;
      std::cout << "  " << printable(key) << ": " << printable(shown) << "\n";
    }
  }
}

}  // namespace

void add_inspect(CLI::App& app, Context& context) {
  auto opts = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Validate a .safetensors file and list its tensors (dtype, shape) and metadata");
  cmd->add_option("file", opts->path, "The .safetensors file")->required();
  cmd->add_option("--format", opts->format, "Output format: table or json [default: table]")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--max-header-bytes", opts->limits.max_header_bytes,
                  "Refuse a file whose JSON header is longer, in bytes [default: 104857600 "
                  "(100 MiB)]")
      ->check(CLI::PositiveNumber);
  cmd->callback([opts] { inspect(*opts); });
}

}  // namespace prefscore::cli
