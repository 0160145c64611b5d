// `--no-verify` (shared by every command that loads a model) and the stderr lines that say what
// the weights verification did not do: skipped (once), a --weights file the card's digest does
// not describe, a digest that could not be remembered. Verification itself is the library's
// (prefscore/weights_verification.h).
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

#include "commands.h"
#include "prefscore/weights_verification.h"

namespace prefscore::cli {

void add_verify_flag(CLI::App& command, bool& no_verify);
// The options --no-verify and the cache dir (Context) give.
VerifyOptions verify_options(bool no_verify, const Context& context);
// Called once per command with the files of all its models: one stderr line per file the card's
// digest does not describe or whose digest could not be remembered; with --no-verify, one line.
void report_verification(const std::vector<FileVerification>& files, bool no_verify);

}  // namespace prefscore::cli
