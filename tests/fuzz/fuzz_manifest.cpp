// The manifest readers (read_manifest) on arbitrary bytes, as JSONL and as CSV: the same bytes are
// written to a scratch .jsonl and .csv file (the reader picks the format by extension).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fuzz_utils.h"
#include "prefscore/inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const char* name : {"manifest.jsonl", "manifest.csv"}) {
    const std::string path = prefscore::fuzz::write_scratch_file(name, bytes);
    prefscore::fuzz::expect_only_errors("read_manifest", [&] {
      for (const prefscore::ScoreItem& item : prefscore::read_manifest(path)) {
        if (item.image.empty()) std::abort();  // the reader refuses empty image paths
      }
    });
  }
  return 0;
}
