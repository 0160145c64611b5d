#include "prefscore/weights_verification.h"

#include <algorithm>
#include <filesystem>

#include "prefscore/error.h"
#include "prefscore/file_digest_memo.h"
#include "prefscore/sha256.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

// One entry per file `location` found, with the card's name and digest for it and the trust it
// has before anything is hashed: kNoDigest, kNotCardFile, or kNotChecked (a digest applies).
std::vector<FileVerification> applicable_digests(const ModelCard& card,
                                                 const WeightsLocation& location) {
  std::vector<FileVerification> files;
  for (std::size_t i = 0; i < location.files.size() && i < card.weight_files.size(); ++i) {
    const std::string& path = location.files[i];
    if (std::find(location.missing.begin(), location.missing.end(), path) !=
        location.missing.end()) {
      continue;
    }
    FileVerification f;
    f.path = path;
    f.card_name = card.weight_files[i].name;
    f.card_sha256 = card.weight_files[i].sha256;
    if (!f.card_sha256) {
      f.trust = FileTrust::kNoDigest;
    } else if (fs::path(path).filename().string() != f.card_name) {
      f.trust = FileTrust::kNotCardFile;
    } else {
      f.trust = FileTrust::kNotChecked;
    }
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace

std::string verification_memo_dir(const std::string& cache_dir) {
  return (fs::path(cache_dir) / "weights-sha256").string();
}

const char* trust_name(FileTrust trust) {
  switch (trust) {
    case FileTrust::kVerified:
      return "verified";
    case FileTrust::kNoDigest:
      return "no sha256 in card";
    case FileTrust::kNotCardFile:
      return "not the card's file";
    case FileTrust::kSkipped:
      return "not verified (--no-verify)";
    case FileTrust::kNotChecked:
      return "not checked yet";
    case FileTrust::kMismatch:
      return "sha256 mismatch";
  }
  return "?";
}

std::vector<FileVerification> verify_weights(const ModelCard& card, const WeightsLocation& location,
                                             const VerifyOptions& options) {
  std::vector<FileVerification> files = applicable_digests(card, location);
  const FileDigestMemo memo(options.memo_dir);
  for (FileVerification& f : files) {
    if (f.trust != FileTrust::kNotChecked) continue;
    if (!options.verify) {
      f.trust = FileTrust::kSkipped;
      continue;
    }
    MemoDigest digest;
    if (options.memo_dir.empty()) {
      digest.sha256 = sha256_file_hex(f.path);
    } else {
      digest = memo.sha256(f.path);
    }
    f.file_sha256 = digest.sha256;
    f.from_record = digest.from_record;
    f.not_remembered = digest.not_remembered;
    if (digest.sha256 != *f.card_sha256) {
      throw Error(f.path, "sha256 mismatch: card says " + *f.card_sha256 + ", file has " +
                              digest.sha256 + " (pass --no-verify to skip)");
    }
    f.trust = FileTrust::kVerified;
  }
  return files;
}

std::vector<FileVerification> remembered_verification(const ModelCard& card,
                                                      const WeightsLocation& location,
                                                      const VerifyOptions& options) {
  std::vector<FileVerification> files = applicable_digests(card, location);
  if (options.memo_dir.empty()) return files;
  const FileDigestMemo memo(options.memo_dir);
  for (FileVerification& f : files) {
    if (f.trust != FileTrust::kNotChecked) continue;
    const std::optional<std::string> digest = memo.remembered(f.path);
    if (!digest) continue;
    f.file_sha256 = *digest;
    f.from_record = true;
    f.trust = *digest == *f.card_sha256 ? FileTrust::kVerified : FileTrust::kMismatch;
  }
  return files;
}

}  // namespace prefscore
