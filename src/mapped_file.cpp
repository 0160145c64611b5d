#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "prefscore/error.h"

namespace prefscore {

MappedFile::MappedFile(const std::string& path, bool populate) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    throw Error(path, "cannot stat: " + why);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(path, "is a directory, expected a file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
      std::string why = std::strerror(errno);
      ::close(fd);
      throw Error(path, "cannot map into memory: " + why);
    }
    mapped_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);
}

MappedFile::MappedFile(OwnedBytes, std::string bytes)
    : owned_(std::move(bytes)), size_(owned_.size()) {}

MappedFile::MappedFile(SharedWritable, int fd, uint64_t size, const std::string& path)
    : size_(size) {
  if (size_ == 0) return;
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw Error(path, std::string("cannot map into memory: ") + std::strerror(errno));
  mapped_ = static_cast<const std::byte*>(p);
}

MappedFile::~MappedFile() {
  if (mapped_ != nullptr) ::munmap(const_cast<std::byte*>(mapped_), size_);
}

void MappedFile::drop_pages(uint64_t offset, uint64_t length) const {
  if (mapped_ == nullptr || length == 0) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(mapped_) + offset;
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + length) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace prefscore
