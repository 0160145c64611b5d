// A whole file mapped read-only into memory (or, for tests and in-memory checkpoints, an owned
// buffer with the same interface). Shared by the safetensors reader and the packed-weights cache:
// tensors are views of the mapping, so it lives as long as the last of them (shared_ptr).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace prefscore {

class MappedFile {
 public:
  // Throws Error(path, ...) when the file cannot be opened, is a directory or cannot be mapped.
  // `populate`: map every page up front (MAP_POPULATE), for a caller that reads all of it at once:
  // one pass in the kernel instead of a page fault per 4 KiB.
  explicit MappedFile(const std::string& path, bool populate = false);
  struct OwnedBytes {};
  MappedFile(OwnedBytes, std::string bytes);
  // The first `size` bytes of the open file `fd`, mapped shared and writable: stores go to the
  // file's pages (the page cache) directly. The caller keeps `fd` and must have reserved the
  // blocks (fallocate): a store to a page the disk has no room for would be a SIGBUS.
  struct SharedWritable {};
  MappedFile(SharedWritable, int fd, uint64_t size, const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const {
    return mapped_ != nullptr ? mapped_ : reinterpret_cast<const std::byte*>(owned_.data());
  }
  uint64_t size() const { return size_; }
  // For a SharedWritable mapping only.
  std::byte* writable_data() const { return const_cast<std::byte*>(mapped_); }
  // madvise(MADV_DONTNEED) on the whole pages inside [offset, offset + length): safe on this
  // read-only private file mapping, which holds no private changes to lose.
  void drop_pages(uint64_t offset, uint64_t length) const;

 private:
  const std::byte* mapped_ = nullptr;
  std::string owned_;
  uint64_t size_ = 0;
};

}  // namespace prefscore
