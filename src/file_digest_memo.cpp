#include "prefscore/file_digest_memo.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/sha256.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;

// A record is ~250 bytes; anything much larger was not written by prefscore and is not read.
constexpr uintmax_t kMaxRecordBytes = 64 * 1024;

// A path as a JSON string literal. File names need not be UTF-8; their invalid bytes become
// U+FFFD (the record file's name, a digest of the exact bytes, still tells such paths apart).
std::string path_literal(const std::string& path) {
  return nlohmann::json(path).dump(-1, ' ', /*ensure_ascii=*/false,
                                   nlohmann::json::error_handler_t::replace);
}

std::string canonical_path(const std::string& file) {
  std::error_code ec;
  const fs::path absolute = fs::canonical(file, ec);
  if (ec) throw Error(file, "cannot resolve path: " + ec.message());
  return absolute.string();
}

// The digest a record states for `absolute` as it is stamped now; nullopt when the record is
// missing, unreadable, malformed or about another version of the file.
std::optional<std::string> read_record(const fs::path& record, const std::string& absolute,
                                       const FileStamp& now) {
  std::error_code ec;
  const uintmax_t bytes = fs::file_size(record, ec);
  if (ec || bytes > kMaxRecordBytes) return std::nullopt;
  try {
    const nlohmann::json j = parse_json_line(read_file(record.string()), record.string());
    if (j.is_object() && j.contains("path") && j.at("path").is_string() &&
        path_literal(j.at("path").get<std::string>()) == path_literal(absolute) &&
        j.at("size").is_number_unsigned() && j.at("size").get<uint64_t>() == now.size &&
        j.at("mtime_ns").is_number_integer() && j.at("mtime_ns").get<int64_t>() == now.mtime_ns &&
        j.at("sha256").is_string() && is_sha256_hex(j.at("sha256").get<std::string>())) {
      return j.at("sha256").get<std::string>();
    }
  } catch (const std::exception&) {
    // Unreadable or not the expected fields: ignored, the caller recomputes and rewrites it.
  }
  return std::nullopt;
}

}  // namespace

FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(path, std::string("cannot stat: ") + std::strerror(errno));
  }
  return FileStamp{static_cast<uint64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

bool is_sha256_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

FileDigestMemo::FileDigestMemo(std::string dir) : dir_(std::move(dir)) {}

std::string FileDigestMemo::record_path(const std::string& file) const {
  return (fs::path(dir_) / (sha256_hex(canonical_path(file)) + ".json")).string();
}

std::optional<std::string> FileDigestMemo::remembered(const std::string& file) const {
  try {
    const std::string absolute = canonical_path(file);
    return read_record(record_path(absolute), absolute, file_stamp(absolute));
  } catch (const Error&) {
    return std::nullopt;
  }
}

MemoDigest FileDigestMemo::sha256(const std::string& file) const {
  const std::string absolute = canonical_path(file);
  const FileStamp before = file_stamp(absolute);
  const fs::path record = record_path(absolute);
  MemoDigest result;
  if (auto stated = read_record(record, absolute, before)) {
    result.sha256 = *stated;
    result.from_record = true;
    return result;
  }
  result.sha256 = sha256_file_hex(absolute);
  // A file changed while it was read: use the digest for this run, remember nothing.
  const FileStamp after = file_stamp(absolute);
  if (after.size != before.size || after.mtime_ns != before.mtime_ns) return result;
  nlohmann::ordered_json j;
  j["path"] = nlohmann::json::parse(path_literal(absolute));
  j["size"] = before.size;
  j["mtime_ns"] = before.mtime_ns;
  j["sha256"] = result.sha256;
  std::error_code ec;
  fs::create_directories(record.parent_path(), ec);
  if (ec) {
    result.not_remembered =
        Error(record.parent_path().string(), "cannot create folder: " + ec.message());
    return result;
  }
  try {
    write_file_atomic(record.string(), j.dump(2) + "\n");
  } catch (const Error& e) {
    result.not_remembered = e;
  }
  return result;
}

}  // namespace prefscore
