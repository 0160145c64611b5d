// The `prefscore eval` input readers (read_pair_file, read_ranking_file, read_rankcorr_file) on
// arbitrary bytes, lenient (bad rows skipped) and strict (the first bad row is an Error).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_utils.h"
#include "prefscore/eval_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = prefscore::fuzz::write_scratch_file("eval.jsonl", bytes);
  for (bool strict : {false, true}) {
    prefscore::fuzz::expect_only_errors("read_pair_file", [&] {
      (void)prefscore::read_pair_file(path, "score", strict);
    });
    prefscore::fuzz::expect_only_errors("read_ranking_file", [&] {
      for (const prefscore::RankingRow& row : prefscore::read_ranking_file(path, 2, strict).rows) {
        if (row.scores.size() != row.human_rank.size() || row.scores.size() < 2) std::abort();
      }
    });
    prefscore::fuzz::expect_only_errors("read_rankcorr_file", [&] {
      const prefscore::RankCorrFile file = prefscore::read_rankcorr_file(path, strict);
      if (file.names.size() != file.metric.size() || file.metric.size() != file.human.size()) {
        std::abort();
      }
    });
  }
  return 0;
}
