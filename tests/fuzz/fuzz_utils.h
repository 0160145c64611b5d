// Shared pieces of the libFuzzer targets: the contract they check (library code given any bytes
// returns or throws prefscore::Error, nothing else) and scratch files for readers that take paths.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "prefscore/error.h"

namespace prefscore::fuzz {

// Runs `body`; prefscore::Error is the expected way to refuse bad input. Any other exception is a
// finding: it is printed and the process aborts, so libFuzzer saves the input as a crash.
template <typename F>
void expect_only_errors(const char* what, F&& body) {
  try {
    body();
  } catch (const prefscore::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: threw a non-prefscore exception: %s\n", what, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: threw a non-std exception\n", what);
    std::abort();
  }
}

// A per-process scratch folder (in /dev/shm when it exists, so that the readers that take a path
// cost no disk I/O), removed at exit.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    const std::filesystem::path root =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    path = root / ("prefscore_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// The file `name` in the scratch folder, rewritten with `bytes`; returns its path.
inline std::string write_scratch_file(const std::string& name, std::string_view bytes) {
  static const ScratchDir dir;
  const std::string path = (dir.path / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write the scratch file %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace prefscore::fuzz
