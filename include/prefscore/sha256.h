// SHA-256 (FIPS 180-4, section 6.2; the same function as FIPS 180-2), streaming. The embedding
// cache keys image files by their content digest and models by their weights file's digest, and
// model cards state weights digests in this form. Portable C++ (no SHA extensions): ~200 MB/s on
// one core, so the digest of a multi-GB weights file is itself cached (embedding_cache.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace prefscore {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> finish();
  // finish() as 64 lowercase hex digits.
  std::string finish_hex();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// Lowercase hex digest of `bytes`.
std::string sha256_hex(std::string_view bytes);
// Lowercase hex digest of a file's contents, read in chunks; throws Error(path, reason).
std::string sha256_file_hex(const std::string& path);

}  // namespace prefscore
