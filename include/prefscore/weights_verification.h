// Weights trust: a model card may state the sha256 of each of its checkpoint files
// (models/README.md, `checkpoint.files[].sha256`). Before a stated file's tensors are trusted its
// sha256 is checked; a mismatch is an error unless verification is switched off (`--no-verify`).
// The digest of a multi-GB file is computed once and remembered by (absolute path, size, mtime)
// in a FileDigestMemo (file_digest_memo.h) under <cache dir>/weights-sha256/, so later loads of
// the unchanged file only stat it.
//
// Which digest applies to which file: a card's digest is about the card's own file, found by its
// name: in $PREFSCORE_HOME/<model>/, in a `--weights DIR`, or a `--weights FILE` of that name. A
// `--weights FILE` with another name is the user's own checkpoint run with the card's
// architecture: the card says nothing about it, so it is not checked (kNotCardFile), as files of
// card-less checkpoints are not (there is no card).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "prefscore/error.h"
#include "prefscore/model_card.h"
#include "prefscore/weights_location.h"

namespace prefscore {

struct VerifyOptions {
  bool verify = true;  // false: `--no-verify`, nothing is hashed or compared
  // Where verified digests are remembered; empty: nowhere (each load hashes again).
  std::string memo_dir;
};

// The folder under a cache dir ($PREFSCORE_CACHE_DIR, else $XDG_CACHE_HOME/prefscore, else
// ~/.cache/prefscore; resolved by the CLI) that holds the verification records.
std::string verification_memo_dir(const std::string& cache_dir);

enum class FileTrust {
  kVerified,     // its sha256 equals the card's
  kNoDigest,     // the card states no sha256 for it
  kNotCardFile,  // a --weights file not named as the card's file: the card's digest is not its
  kSkipped,      // the card states a sha256, but verification was switched off
  // remembered_verification only:
  kNotChecked,  // the card states a sha256; no remembered digest of the file as it is now
  kMismatch,    // the remembered digest of the file as it is now differs from the card's
};
// "verified", "no sha256 in card", "not the card's file", "not verified (--no-verify)",
// "not checked yet", "sha256 mismatch".
const char* trust_name(FileTrust trust);

struct FileVerification {
  std::string path;
  std::string card_name;                   // the card's name for the file ("model.safetensors")
  std::optional<std::string> card_sha256;  // what the card states for it
  FileTrust trust = FileTrust::kNoDigest;
  std::string file_sha256;   // kVerified, kMismatch: the file's digest
  bool from_record = false;  // the digest was remembered (the file was not read)
  // kVerified, but the digest could not be remembered (it is computed again next time): why.
  std::optional<Error> not_remembered;
};

// Checks the files `location` found for `card` (in card order; missing files are skipped, the
// loader reports them). Throws
//   Error(file, "sha256 mismatch: card says X, file has Y (pass --no-verify to skip)")
// on the first mismatch, and Error(file, ...) when a stated file cannot be read.
std::vector<FileVerification> verify_weights(const ModelCard& card, const WeightsLocation& location,
                                             const VerifyOptions& options);

// Like verify_weights, but never reads a file nor throws for a mismatch (what `prefscore models
// show` reports): kVerified or kMismatch when a digest of the file as it is now is remembered,
// kNotChecked when none is.
std::vector<FileVerification> remembered_verification(const ModelCard& card,
                                                      const WeightsLocation& location,
                                                      const VerifyOptions& options);

}  // namespace prefscore
