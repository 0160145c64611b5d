// Shared test helpers (LibTorch-free): fixture paths and element-wise comparison that reports the
// first bad index (CTranslate2 tests/test_utils.h).
#pragma once

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "prefscore/error.h"

namespace prefscore::testing {

inline std::string data_path(const std::string& relative) {
  return std::string(PREFSCORE_TEST_DATA_DIR) + "/" + relative;
}

// An empty folder <tmp>/prefscore_<name> (removed first if a previous run left it).
inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("prefscore_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// `count` values of type T copied out of a safetensors tensor's bytes: the format does not align
// tensor data, so reading a T* into the file can be a misaligned load (UBSan reports it).
template <typename T>
std::vector<T> copy_values(const std::byte* data, std::size_t count) {
  std::vector<T> out(count);
  if (count > 0) std::memcpy(out.data(), data, count * sizeof(T));
  return out;
}

// Checks |got[i] - want[i]| <= atol + rtol * |want[i]| for every i, reports the first violation and
// the maximum absolute error (also on success, so test logs state the measured error).
template <typename A, typename B>
double require_allclose(const A* got, const B* want, std::size_t n, double atol, double rtol,
                        const std::string& what = "") {
  double max_abs = 0.0;
  std::size_t first_bad = n;
  for (std::size_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]);
    const double w = static_cast<double>(want[i]);
    const double err = std::fabs(g - w);
    if (std::isnan(g) != std::isnan(w)) {
      if (first_bad == n) first_bad = i;
      continue;
    }
    if (err > max_abs) max_abs = err;
    if (err > atol + rtol * std::fabs(w) && first_bad == n) first_bad = i;
  }
  std::ostringstream msg;
  msg << what << ": n=" << n << " max_abs_err=" << max_abs << " (atol=" << atol
      << ", rtol=" << rtol << ")";
  if (first_bad != n) {
    msg << "; first bad index " << first_bad << ": got " << static_cast<double>(got[first_bad])
        << ", want " << static_cast<double>(want[first_bad]);
  }
  INFO(msg.str());
  WARN(msg.str());
  REQUIRE(first_bad == n);
  return max_abs;
}

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a shell command, capturing stdout, stderr and the exit code.
inline CliResult run_command(const std::string& shell_command) {
  static int counter = 0;
  const std::string err_path =
      "/tmp/prefscore_test_stderr_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string command = "(" + shell_command + ") 2>" + err_path;
  CliResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream err(err_path);
  result.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
  std::remove(err_path.c_str());
  return result;
}

// Runs the built `prefscore` binary with `args` (a shell-quoted string) and an environment prefix
// (e.g. "PREFSCORE_HOME=/tmp/x").
// The message of the prefscore::Error that `f` throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// How many times `what` occurs in `text`, overlapping occurrences included.
inline std::size_t count_occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The whole file as bytes ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline CliResult run_prefscore(const std::string& args, const std::string& env = "") {
  return run_command(env + (env.empty() ? "" : " ") + std::string(PREFSCORE_BINARY) + " " + args);
}

}  // namespace prefscore::testing
