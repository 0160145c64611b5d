// A file of weights already in the layout a GEMM kernel reads (oneDNN's blocked bf16 or int8 for
// this CPU), written once while packing and mapped on later loads, so that loading ViT-H skips
// converting and packing ~2 GB (seconds on a VM where every fresh page costs a fault). It is a
// cache: anything it holds can be rebuilt from the checkpoint, and a file that is missing, stale or
// damaged is reported as unusable, never trusted.
//
// Layout (little-endian):
//   [0, 8)     magic "PSPACKW1"
//   [8, 16)    u64 H: header length
//   [16, 48)   checksum: sha256 over the header and the 4 MiB chunk sums of each entry's bytes
//   [48, 48+H) header: u32 key length, key; u64 entry count; per entry u64 offset, u64 size,
//              u32 layout length, layout (opaque bytes the writer uses to describe the entry)
//   data       each entry 4096-aligned, up to the end of the file
// The key says what the entries were made from (checkpoint identity, model dims, precision, the
// packing library's version); a file whose key differs is not used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace prefscore {

class MappedFile;

class PackedWeightsFile {
 public:
  struct Entry {
    std::string layout;  // opaque to this file: what the bytes are (shape, type, blocking)
    const std::byte* data = nullptr;
    uint64_t size = 0;
  };

  // The reason open() gives for a file that is not there (the first load: not a problem).
  static constexpr const char* kAbsent = "absent";

  // Maps `path` and checks it: magic, sizes and offsets in range, `key` equal, checksum over every
  // entry. Returns null with the reason in `*why` when the file is absent or cannot be used.
  static std::shared_ptr<PackedWeightsFile> open(const std::string& path, const std::string& key,
                                                 std::string* why);

  // Starts a file for `entries` (their layouts and sizes; data ignored) as a temporary next to
  // `path`, space reserved and mapped writable: the caller packs each entry in place at
  // writable(i), then commit() checksums it and moves it into place. Packing straight into the
  // file's pages costs no more than packing into fresh memory, and there is no copy to write
  // afterwards. A file never committed is removed with the object. Creates the folder; throws
  // Error(path, ...) when the file cannot be created or its space reserved.
  static std::shared_ptr<PackedWeightsFile> create(const std::string& path, const std::string& key,
                                                   std::vector<Entry> entries);
  std::byte* writable(std::size_t i) const;
  // Throws Error(path, ...); the entries stay valid (mapped) either way.
  void commit();

  const std::vector<Entry>& entries() const { return entries_; }
  // True for a file open() accepted or a created one once committed: its entries hold weights.
  bool complete() const { return complete_; }

  PackedWeightsFile() = default;
  ~PackedWeightsFile();
  PackedWeightsFile(const PackedWeightsFile&) = delete;
  PackedWeightsFile& operator=(const PackedWeightsFile&) = delete;

 private:
  std::shared_ptr<const MappedFile> mapping_;
  std::vector<Entry> entries_;
  // create() until commit(): the temporary file, its descriptor, and what commit() still writes.
  std::string path_, temporary_, header_;
  int fd_ = -1;
  bool complete_ = false;
};

}  // namespace prefscore
