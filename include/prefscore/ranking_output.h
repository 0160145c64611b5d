// How `rank` delivers a ranking (and `merge` a merged ranked run): printed as JSONL (one object
// per ranked image: group, rank, image, model, condition (MPS), score, prob), CSV or an aligned
// table, and the ranked images copied or linked into a folder.
#pragma once

#include <string>
#include <vector>

#include "prefscore/ranking.h"

namespace prefscore {

// `format`: jsonl, csv or table. `condition` is the MPS condition ranked by ("" for other heads).
std::string format_ranking(const ScoreReport& report, const std::vector<RankedGroup>& groups,
                           const std::string& model, const std::string& condition,
                           const std::string& format);

// Copies (or symlinks, to absolute paths) each ranked image to DIR/[g<group>_]<rank>_<name>
// (the g prefix when there are several groups); never overwrites unless `force`. Every target is
// checked before the first file is written. Throws Error naming the target.
void export_ranked(const ScoreReport& report, const std::vector<RankedGroup>& groups,
                   const std::string& dir, bool symlink, bool force);

}  // namespace prefscore
