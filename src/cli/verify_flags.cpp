#include "verify_flags.h"

#include <iostream>

namespace prefscore::cli {

void add_verify_flag(CLI::App& command, bool& no_verify) {
  command.add_flag("--no-verify", no_verify,
                   "Do not check weights files against the sha256 their model card states; a "
                   "mismatch is otherwise an error (exit 1) [default: check, hashing each file "
                   "once and remembering the digest by path, size and mtime in "
                   "$PREFSCORE_CACHE_DIR/weights-sha256/, default $XDG_CACHE_HOME/prefscore or "
                   "~/.cache/prefscore]");
}

VerifyOptions verify_options(bool no_verify, const Context& context) {
  VerifyOptions options;
  options.verify = !no_verify;
  options.memo_dir = verification_memo_dir(context.cache_dir);
  return options;
}

void report_verification(const std::vector<FileVerification>& files, bool no_verify) {
  if (no_verify) {
    std::cerr << "prefscore: warning: --no-verify: weights files are not checked against the "
                 "sha256 of their model card\n";
  }
  for (const FileVerification& f : files) {
    if (f.trust == FileTrust::kNotCardFile) {
      std::cerr << "prefscore: warning: " << f.path << ": not verified: the card's sha256 is for "
                << f.card_name << ", not for a file of another name\n";
    }
    if (f.not_remembered) {
      std::cerr << "prefscore: warning: " << f.not_remembered->what()
                << "; the verified sha256 could not be remembered (it is computed again next "
                   "time)\n";
    }
  }
}

}  // namespace prefscore::cli
