// The safetensors header parser on arbitrary bytes (SafetensorsFile::from_bytes validates exactly
// what open() validates after mapping a file). A file that passes must hand out only in-bounds
// tensor data, which is read here so that ASan sees every byte range.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_utils.h"
#include "prefscore/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  prefscore::fuzz::expect_only_errors("SafetensorsFile::from_bytes", [&] {
    const prefscore::SafetensorsFile file = prefscore::SafetensorsFile::from_bytes("fuzz", bytes);
    unsigned checksum = 0;
    for (const prefscore::TensorInfo& t : file.tensors()) {
      const std::byte* p = file.data(t);
      const uint64_t n = t.end - t.begin;
      if (static_cast<uint64_t>(t.numel()) * prefscore::dtype_size_bytes(t.dtype) != n) {
        std::fprintf(stderr, "tensor %s: shape and byte range disagree\n", t.name.c_str());
        std::abort();
      }
      for (uint64_t i = 0; i < n; ++i) checksum += static_cast<unsigned>(p[i]);
      if (file.find(t.name) != &t) std::abort();
    }
    (void)prefscore::format_shape({});
    if (checksum == 0xdeadbeef) std::fprintf(stderr, "%u\n", checksum);  // keeps the reads
  });
  return 0;
}
