// The one error type of prefscore: every failure names the file (or input) it is about and says
// what was expected and what was found. Libraries throw it; only src/cli/main.cpp catches it and
// prints `prefscore: error: <path>: <reason>` (see ../shared/STYLE.md section 3).
#pragma once

#include <stdexcept>
#include <string>

namespace prefscore {

class Error : public std::runtime_error {
 public:
  Error(std::string path, std::string reason)
      : std::runtime_error(path.empty() ? reason : path + ": " + reason),
        path_(std::move(path)),
        reason_(std::move(reason)) {}

  // The file, tensor or input the error is about; empty when there is none.
  const std::string& path() const noexcept { return path_; }
  // What went wrong, with the expected and the actual value where there are such.
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

}  // namespace prefscore
