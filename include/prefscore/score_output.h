// How score reports are written: JSONL (one object per image, model and column), CSV and an
// aligned table (one row per image, one column per model and MPS condition).
#pragma once

#include <string>

#include "prefscore/scoring.h"

namespace prefscore {

// JSONL rows: {"image", "prompt", "group"? , "model", "condition"? (MPS), "score", "logit"
// (exp(logit_scale)·cos), "prob" (softmax of the group's logits), "clipscore_x100"? (CLIP head:
// 100 * max(cos, 0), the CLIPScore convention)}. `eval --scores` reads these rows back.
std::string format_scores_jsonl(const ScoreReport& report);
// Header: image,prompt[,group], then per (model, column) "<model>" or "<model>:<condition>" and
// "<...>_prob". Numbers with 6 decimals.
std::string format_scores_csv(const ScoreReport& report);
std::string format_scores_table(const ScoreReport& report);

}  // namespace prefscore
