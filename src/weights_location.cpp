#include "prefscore/weights_location.h"

#include <filesystem>

#include "prefscore/error.h"

namespace prefscore {

namespace fs = std::filesystem;

WeightsLocation locate_weights(const ModelCard& card, const std::string& explicit_path,
                               const std::string& weights_home) {
  WeightsLocation loc;
  std::error_code ec;
  if (!explicit_path.empty() && fs::is_regular_file(explicit_path, ec)) {
    // A single file stands for the card's only weight file (e.g. a converted open_clip file).
    if (card.weight_files.size() != 1) {
      throw Error(explicit_path, "model '" + card.name + "' needs " +
                                     std::to_string(card.weight_files.size()) +
                                     " files; pass their folder to --weights, not one file");
    }
    loc.dir = fs::path(explicit_path).parent_path().string();
    loc.files.push_back(explicit_path);
    return loc;
  }
  loc.dir = explicit_path.empty() ? (fs::path(weights_home) / card.name).string() : explicit_path;
  for (const WeightFile& wf : card.weight_files) {
    std::string file = (fs::path(loc.dir) / wf.name).string();
    if (!fs::is_regular_file(file, ec)) loc.missing.push_back(file);
    loc.files.push_back(std::move(file));
  }
  return loc;
}

WeightsLocation require_weights(const ModelCard& card, const std::string& explicit_path,
                                const std::string& weights_home) {
  WeightsLocation loc = locate_weights(card, explicit_path, weights_home);
  if (!loc.complete()) {
    std::string how = card.obtain;
    if (!card.convert.empty()) how += " Then: " + card.convert;
    throw Error(loc.missing.front(),
                "weights of model '" + card.name + "' not found (" +
                    std::to_string(loc.missing.size()) + " of " + std::to_string(loc.files.size()) +
                    " files missing; prefscore never downloads). " + how +
                    " Or pass --weights DIR.");
  }
  return loc;
}

}  // namespace prefscore
