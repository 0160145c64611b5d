#include "packed_weights_file.h"

#include <ATen/Parallel.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "mapped_file.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/sha256.h"

namespace prefscore {

namespace {

constexpr char kMagic[8] = {'P', 'S', 'P', 'A', 'C', 'K', 'W', '1'};
constexpr uint64_t kPrefix = 48;  // magic, header length, checksum
constexpr uint64_t kAlign = 4096;
constexpr uint64_t kChunk = uint64_t{4} << 20;
constexpr int kLanes = 8;

uint64_t align_up(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Fletcher-style sums of one chunk in 8 lanes of 64-bit words (a += w; b += a): every changed word
// changes them, and a moved word changes b. Plain adds, so the loop runs at memory speed; the
// chunk sums then go through sha256 (checksum()).
__attribute__((target_clones("avx512f", "avx2", "default"))) void chunk_sums(
    const std::byte* data, uint64_t size, uint64_t* out) {
  uint64_t a[kLanes] = {}, b[kLanes] = {};
  uint64_t words[kLanes];
  uint64_t i = 0;
  for (; i + sizeof words <= size; i += sizeof words) {
    std::memcpy(words, data + i, sizeof words);
    for (int l = 0; l < kLanes; ++l) {
      a[l] += words[l];
      b[l] += a[l];
    }
  }
  if (i < size) {
    std::memset(words, 0, sizeof words);
    std::memcpy(words, data + i, size - i);
    for (int l = 0; l < kLanes; ++l) {
      a[l] += words[l];
      b[l] += a[l];
    }
  }
  std::memcpy(out, a, sizeof a);
  std::memcpy(out + kLanes, b, sizeof b);
}

// sha256 of the header and of every entry's chunk sums (entries are not contiguous in memory when
// written, and the padding between them is never read, so it is not covered).
std::array<uint8_t, 32> checksum(std::string_view header,
                                 const std::vector<PackedWeightsFile::Entry>& entries) {
  struct Chunk {
    const std::byte* data;
    uint64_t size;
  };
  std::vector<Chunk> chunks;
  for (const PackedWeightsFile::Entry& e : entries) {
    for (uint64_t offset = 0; offset < e.size; offset += kChunk) {
      chunks.push_back({e.data + offset, std::min(kChunk, e.size - offset)});
    }
  }
  std::vector<uint64_t> sums(chunks.size() * 2 * kLanes);
  at::parallel_for(0, static_cast<int64_t>(chunks.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      chunk_sums(chunks[c].data, chunks[c].size, &sums[c * 2 * kLanes]);
    }
  });
  Sha256 sha;
  sha.update(header);
  sha.update(sums.data(), sums.size() * sizeof(uint64_t));
  return sha.finish();
}

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads the header fields in order; any read past the end marks the header bad.
class HeaderReader {
 public:
  explicit HeaderReader(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    T value{};
    if (!ok_ || bytes_.size() - pos_ < sizeof value) {
      ok_ = false;
      return value;
    }
    std::memcpy(&value, bytes_.data() + pos_, sizeof value);
    pos_ += sizeof value;
    return value;
  }
  std::string get_bytes(uint64_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string value(bytes_.substr(pos_, n));
    pos_ += n;
    return value;
  }
  bool ok() const { return ok_ && pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::shared_ptr<PackedWeightsFile> PackedWeightsFile::open(const std::string& path,
                                                           const std::string& key,
                                                           std::string* why) {
  const auto fail = [&](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return nullptr;
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return fail(kAbsent);
  auto file = std::make_shared<PackedWeightsFile>();
  try {
    // Populated: every page is read right away by the checksum, then by the first GEMMs.
    file->mapping_ = std::make_shared<const MappedFile>(path, /*populate=*/true);
  } catch (const Error& e) {
    return fail(e.reason());
  }
  const std::byte* base = file->mapping_->data();
  const uint64_t size = file->mapping_->size();
  if (size < kPrefix || std::memcmp(base, kMagic, sizeof kMagic) != 0) {
    return fail("not a prefscore packed-weights file");
  }
  uint64_t header_size = 0;
  std::memcpy(&header_size, base + 8, sizeof header_size);
  if (header_size > size - kPrefix) return fail("truncated header");
  const std::string_view header(reinterpret_cast<const char*>(base + kPrefix), header_size);

  HeaderReader reader(header);
  const std::string stored_key = reader.get_bytes(reader.get<uint32_t>());
  const uint64_t count = reader.get<uint64_t>();
  if (count > header_size) return fail("damaged header");
  for (uint64_t i = 0; i < count; ++i) {
    Entry entry;
    const uint64_t offset = reader.get<uint64_t>();
    entry.size = reader.get<uint64_t>();
    entry.layout = reader.get_bytes(reader.get<uint32_t>());
    if (offset < kPrefix + header_size || offset % kAlign != 0 || offset > size ||
        entry.size > size - offset) {
      return fail("damaged header (an entry lies outside the file)");
    }
    entry.data = base + offset;
    file->entries_.push_back(std::move(entry));
  }
  if (!reader.ok()) return fail("damaged header");
  if (stored_key != key) return fail("made from other weights or by another build");
  const std::array<uint8_t, 32> sum = checksum(header, file->entries_);
  if (std::memcmp(sum.data(), base + 16, sum.size()) != 0) return fail("checksum mismatch");
  file->complete_ = true;
  return file;
}

std::shared_ptr<PackedWeightsFile> PackedWeightsFile::create(const std::string& path,
                                                             const std::string& key,
                                                             std::vector<Entry> entries) {
  auto file = std::make_shared<PackedWeightsFile>();
  file->path_ = path;
  // The offsets are in the header, whose length does not depend on their values.
  uint64_t header_size = sizeof(uint32_t) + key.size() + sizeof(uint64_t);
  for (const Entry& e : entries) {
    header_size += 2 * sizeof(uint64_t) + sizeof(uint32_t) + e.layout.size();
  }
  std::string& header = file->header_;
  put(header, static_cast<uint32_t>(key.size()));
  header += key;
  put(header, static_cast<uint64_t>(entries.size()));
  std::vector<uint64_t> offsets;
  uint64_t offset = align_up(kPrefix + header_size);
  for (const Entry& e : entries) {
    offsets.push_back(offset);
    put(header, offset);
    put(header, e.size);
    put(header, static_cast<uint32_t>(e.layout.size()));
    header += e.layout;
    offset = align_up(offset + e.size);
  }
  // The file ends with the last entry's last byte: no unchecked padding at the end.
  const uint64_t size = entries.empty() ? offset : offsets.back() + entries.back().size;

  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!folder.empty()) std::filesystem::create_directories(folder, ec);
  if (ec) throw Error(folder.string(), "cannot create the folder: " + ec.message());
  file->temporary_ = temporary_name(path);
  file->fd_ = ::open(file->temporary_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (file->fd_ < 0) {
    throw Error(path, "cannot create " + file->temporary_ + ": " + std::strerror(errno));
  }
  // Reserve every block now: a store through the mapping to a page the disk has no room for
  // would kill the process (SIGBUS) instead of failing here.
  if (const int err = ::posix_fallocate(file->fd_, 0, static_cast<off_t>(size)); err != 0) {
    throw Error(path, "cannot reserve " + std::to_string(size >> 20) +
                          " MiB for packed weights: " + std::strerror(err));
  }
  file->mapping_ = std::make_shared<const MappedFile>(MappedFile::SharedWritable{}, file->fd_,
                                                      size, file->temporary_);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].data = file->mapping_->data() + offsets[i];
  }
  file->entries_ = std::move(entries);
  return file;
}

std::byte* PackedWeightsFile::writable(std::size_t i) const {
  return mapping_->writable_data() + (entries_[i].data - mapping_->data());
}

void PackedWeightsFile::commit() {
  const std::array<uint8_t, 32> sum = checksum(header_, entries_);
  std::string prefix(kMagic, sizeof kMagic);
  put(prefix, static_cast<uint64_t>(header_.size()));
  prefix.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  prefix += header_;
  for (std::size_t done = 0; done < prefix.size();) {
    const ssize_t n = ::pwrite(fd_, prefix.data() + done, prefix.size() - done,
                               static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path_, std::string("cannot write: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  // No fsync: open() checks every byte, so a file a crash left short or stale is rebuilt, never
  // used; flushing gigabytes would stall the first load for seconds.
  if (::close(fd_) != 0) {
    fd_ = -1;
    throw Error(path_, std::string("cannot write: ") + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    throw Error(path_, std::string("cannot move the finished file into place: ") +
                           std::strerror(errno));
  }
  temporary_.clear();
  complete_ = true;
}

PackedWeightsFile::~PackedWeightsFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
}

}  // namespace prefscore
