// Remembered sha256 digests of large files. Hashing a 2.5-4 GB weights file takes 10-20 s
// (sha256.h: ~200 MB/s), so a digest, once computed, is kept in a small JSON record and reused
// while the file looks unchanged. Both users of a weights digest share this: the weights
// verification against a model card (weights_verification.h) and the embedding cache's model
// identity (embedding_cache.h).
//
// A record is <dir>/<sha256 of the file's absolute canonical path>.json holding
//   {"path": <absolute path>, "size": <bytes>, "mtime_ns": <mtime, ns>, "sha256": <64 hex>}
// written atomically (io.h). It is used only while all four match the file; a changed size or
// mtime means the digest is computed again, and a record that cannot be read or parsed, or that
// does not hold the expected fields, is ignored and rewritten: a record is never trusted for more
// than it says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "prefscore/error.h"

namespace prefscore {

// What tells a file's versions apart without reading it: its size and modification time.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};
// Throws Error(path, "cannot stat: ...").
FileStamp file_stamp(const std::string& path);

// True for 64 lowercase hex digits, the form model cards and records use.
bool is_sha256_hex(const std::string& text);

struct MemoDigest {
  std::string sha256;        // 64 lowercase hex digits
  bool from_record = false;  // read from a matching record (the file was not read)
  // Set when the digest was computed but could not be remembered (the record's folder or file
  // could not be written): where and why.
  std::optional<Error> not_remembered;
};

class FileDigestMemo {
 public:
  // `dir` holds the records and is created when the first one is written.
  explicit FileDigestMemo(std::string dir);
  const std::string& dir() const { return dir_; }

  // The file's sha256: from its record when that matches, else computed (and remembered unless
  // the file changed while it was read). Throws Error(file, ...) when the file cannot be
  // resolved, stat'ed or read; a record that cannot be written is reported in `not_remembered`.
  MemoDigest sha256(const std::string& file) const;

  // The remembered digest when a record matches the file as it is now; never reads the file.
  // nullopt when there is no usable record or the file cannot be stat'ed.
  std::optional<std::string> remembered(const std::string& file) const;

  // Where the record of `file` is (or would be); throws Error(file, ...) when the path cannot be
  // resolved.
  std::string record_path(const std::string& file) const;

 private:
  std::string dir_;
};

}  // namespace prefscore
