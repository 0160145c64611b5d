// safetensors files (https://github.com/huggingface/safetensors, format in its README): an 8-byte
// little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {str: str}}`, then the tensor bytes. Real weights are GBs, so the reader maps
// the file read-only and validates the whole header before handing out any byte; the torch side
// (zero-copy at::Tensor views) is in safetensors_torch.h so that this header stays LibTorch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace prefscore {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as written in safetensors headers.
std::string_view dtype_name(DType dtype);
std::size_t dtype_size_bytes(DType dtype);
// Returns false when `name` is not one of the ten dtypes prefscore reads.
bool parse_dtype(std::string_view name, DType* dtype);

// "[2, 3]": how errors and `prefscore inspect` print a shape.
std::string format_shape(const std::vector<int64_t>& shape);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  // Byte range [begin, end) relative to the start of the data section.
  uint64_t begin = 0;
  uint64_t end = 0;

  int64_t numel() const;
};

// Limits on what the reader accepts before it looks at a byte of tensor data.
struct SafetensorsLimits {
  uint64_t max_header_bytes = 100ull << 20;  // 100 MiB; real CLIP-H headers are ~100 KiB
};

class MappedFile;

// A validated, read-only memory mapping of one safetensors file. Copies share the mapping; it is
// unmapped when the last copy and the last tensor view made from it are gone.
class SafetensorsFile {
 public:
  // Maps and validates `path`; throws prefscore::Error naming the file (and tensor) on any problem:
  // header length and JSON, dtypes, shapes, offsets inside the file, no overlaps, no gaps.
  static SafetensorsFile open(const std::string& path, const SafetensorsLimits& limits = {});
  // Validates an in-memory buffer (copied); `label` names it in errors. Used by tests and fuzzing.
  static SafetensorsFile from_bytes(std::string label, const std::string& bytes,
                                    const SafetensorsLimits& limits = {});

  const std::string& path() const { return path_; }
  // Tensors in the order of their data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(std::string_view name) const { return find(name) != nullptr; }
  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  // Throws Error("<file>", "no tensor named '<name>'") when absent.
  const TensorInfo& at(std::string_view name) const;
  // First byte of the tensor's data inside the mapping.
  const std::byte* data(const TensorInfo& info) const;
  // After a converting copy: drops this tensor's pages of the mapping from the process's resident
  // set (they stay in the page cache; reading them again faults them back in), so that loading in
  // another dtype does not hold both copies. No effect on an in-memory buffer.
  void drop_pages(const TensorInfo& info) const;
  // The same for the bytes [data, data + length) when they lie inside the mapping (a zero-copy view
  // whose values were copied elsewhere); no effect otherwise.
  void drop_pages(const void* data, uint64_t length) const;
  // Keeps the mapping alive (for zero-copy views).
  std::shared_ptr<const MappedFile> mapping() const { return mapping_; }
  uint64_t file_size() const;

 private:
  void parse(const SafetensorsLimits& limits);

  std::string path_;
  std::shared_ptr<const MappedFile> mapping_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_start_ = 0;
};

// Collects tensors and writes one safetensors file atomically (temporary file in the same folder,
// fsync, rename): a reader never sees a partial file, and a failed write leaves no file behind.
class SafetensorsWriter {
 public:
  // Copies `bytes` (must be numel * dtype size, little-endian). Throws on a duplicate name.
  void add(std::string name, DType dtype, std::vector<int64_t> shape, const void* bytes,
           std::size_t num_bytes);
  void set_metadata(std::string key, std::string value);
  // Header + data, exactly as `write` puts them on disk.
  std::string serialize() const;
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace prefscore
