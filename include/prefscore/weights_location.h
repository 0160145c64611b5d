// Where a model's weights are on disk: `--weights PATH` when given, else
// `<weights_home>/<model name>/` where weights_home is $PREFSCORE_HOME or ~/.cache/prefscore
// (resolved by the CLI). prefscore never downloads anything: when files are missing, the error
// says which file is expected where and how to obtain it.
#pragma once

#include <string>
#include <vector>

#include "prefscore/model_card.h"

namespace prefscore {

struct WeightsLocation {
  std::string dir;                  // the folder searched
  std::vector<std::string> files;   // full paths of the card's weight files, in card order
  std::vector<std::string> missing; // those of `files` that do not exist
  bool complete() const { return missing.empty(); }
};

// `explicit_path` may be empty (use weights_home), a folder, or one file (a single-file layout).
WeightsLocation locate_weights(const ModelCard& card, const std::string& explicit_path,
                               const std::string& weights_home);

// Like locate_weights, but throws Error(<first missing file>, "... how to obtain it") when a file is
// missing.
WeightsLocation require_weights(const ModelCard& card, const std::string& explicit_path,
                                const std::string& weights_home);

}  // namespace prefscore
