// The parts of scoring.h that read a ScoreReport without running a model. They live apart from
// scoring.cpp so that LibTorch-free code (image_scores.cpp, which the eval fuzz target links) can
// call them without linking LibTorch.
#include "prefscore/scoring.h"

namespace prefscore {

std::string candidate_group(const ScoreItem& item) {
  return item.group.empty() ? "prompt:" + item.prompt : "group:" + item.group;
}

std::string skip_message(const ScoreReport& report, const ScoreItem& item) {
  const std::string prefix = item.image + ": ";
  for (const std::string& s : report.skipped) {
    if (s.compare(0, prefix.size(), prefix) == 0) return s;
  }
  return "";
}

}  // namespace prefscore
