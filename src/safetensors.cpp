#include "prefscore/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "mapped_file.h"
#include "prefscore/error.h"
#include "prefscore/io.h"

namespace prefscore {

namespace {

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},    {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeEntry& entry_of(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e;
  }
  return kDTypes[0];
}

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Reads a JSON number that must be a non-negative integer.
bool as_u64(const nlohmann::json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

}  // namespace

std::string_view dtype_name(DType dtype) { return entry_of(dtype).name; }

std::string format_shape(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}
std::size_t dtype_size_bytes(DType dtype) { return entry_of(dtype).size; }

bool parse_dtype(std::string_view name, DType* dtype) {
  for (const auto& e : kDTypes) {
    if (e.name == name) {
      *dtype = e.dtype;
      return true;
    }
  }
  return false;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::string& path, const SafetensorsLimits& limits) {
  SafetensorsFile file;
  file.path_ = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(path, "is a directory, expected a .safetensors file");
  }
  file.mapping_ = std::make_shared<const MappedFile>(path);
  file.parse(limits);
  return file;
}

SafetensorsFile SafetensorsFile::from_bytes(std::string label, const std::string& bytes,
                                            const SafetensorsLimits& limits) {
  SafetensorsFile file;
  file.path_ = std::move(label);
  file.mapping_ = std::make_shared<const MappedFile>(MappedFile::OwnedBytes{}, bytes);
  file.parse(limits);
  return file;
}

uint64_t SafetensorsFile::file_size() const { return mapping_->size(); }

void SafetensorsFile::parse(const SafetensorsLimits& limits) {
  const uint64_t size = mapping_->size();
  const std::byte* base = mapping_->data();
  if (size < 8) {
    throw Error(path_, "file is " + std::to_string(size) +
                           " bytes, too short for a safetensors header (need at least 8)");
  }
  const uint64_t header_len = read_u64_le(base);
  if (header_len > limits.max_header_bytes) {
    throw Error(path_, "header length " + std::to_string(header_len) + " bytes exceeds the limit of " +
                           std::to_string(limits.max_header_bytes) +
                           " bytes (not a safetensors file, or corrupt; raise the limit with "
                           "--max-header-bytes)");
  }
  if (header_len > size - 8) {
    throw Error(path_, "truncated: header says " + std::to_string(header_len) +
                           " header bytes but the file has only " + std::to_string(size - 8) +
                           " after the length prefix");
  }
  if (header_len < 2) {
    throw Error(path_, "header is " + std::to_string(header_len) + " bytes, need a JSON object");
  }
  const char* header_begin = reinterpret_cast<const char*>(base + 8);
  const std::string_view header(header_begin, header_len);
  data_start_ = 8 + header_len;
  const uint64_t data_size = size - data_start_;

  // nlohmann keeps the last of duplicate keys silently; a duplicated tensor name is an error here.
  // A real header nests 3 levels; deeper nesting is refused while parsing, because the error
  // messages below dump() values and dump() recurses once per level (a 100 MiB header of '['
  // would overflow the stack).
  constexpr int kMaxDepth = 8;
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(
        header.begin(), header.end(),
        [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if ((event == nlohmann::json::parse_event_t::object_start ||
               event == nlohmann::json::parse_event_t::array_start) &&
              depth >= kMaxDepth) {
            throw Error(path_, "header JSON nests deeper than " + std::to_string(kMaxDepth) +
                                   " levels");
          }
          if (depth == 1 && event == nlohmann::json::parse_event_t::key && duplicate.empty()) {
            const std::string key = parsed.get<std::string>();
            if (!seen.insert(key).second) duplicate = key;
          }
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    throw Error(path_, "header is not valid JSON (" + what + ")");
  }
  if (!root.is_object()) throw Error(path_, "header JSON is not an object");
  if (!duplicate.empty()) throw Error(path_, "tensor '" + duplicate + "' appears twice in the header");

  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& value = it.value();
    if (name == "__metadata__") {
      if (!value.is_object()) throw Error(path_, "__metadata__ is not a JSON object");
      for (auto m = value.begin(); m != value.end(); ++m) {
        if (!m.value().is_string()) {
          throw Error(path_, "__metadata__ value '" + m.key() + "' is not a string");
        }
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!value.is_object()) throw Error(path_, where + "entry is not a JSON object");
    auto dtype_it = value.find("dtype");
    auto shape_it = value.find("shape");
    auto offsets_it = value.find("data_offsets");
    if (dtype_it == value.end() || shape_it == value.end() || offsets_it == value.end()) {
      throw Error(path_, where + "entry needs dtype, shape and data_offsets");
    }
    TensorInfo info;
    info.name = name;
    if (!dtype_it->is_string() || !parse_dtype(dtype_it->get<std::string>(), &info.dtype)) {
      throw Error(path_, where + "unknown dtype " + dtype_it->dump() +
                             " (expected one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    }
    if (!shape_it->is_array()) throw Error(path_, where + "shape is not an array");
    // The element count is bounded by the file size, so any product above it is an error; checking
    // before each multiplication keeps the arithmetic from overflowing.
    uint64_t numel = 1;
    bool too_big = false;
    for (const auto& d : *shape_it) {
      uint64_t dim = 0;
      if (!as_u64(d, &dim) || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw Error(path_, where + "shape " + shape_it->dump() +
                               " has an entry that is not a non-negative integer");
      }
      info.shape.push_back(static_cast<int64_t>(dim));
      if (dim == 0) {
        numel = 0;
      } else if (!too_big && numel != 0) {
        if (numel > size / dim) too_big = true; else numel *= dim;
      }
    }
    if (numel == 0) too_big = false;
    if (!offsets_it->is_array() || offsets_it->size() != 2 || !as_u64((*offsets_it)[0], &info.begin) ||
        !as_u64((*offsets_it)[1], &info.end)) {
      throw Error(path_, where + "data_offsets " + offsets_it->dump() +
                             " is not a pair of non-negative integers");
    }
    if (info.begin > info.end) {
      throw Error(path_, where + "data_offsets [" + std::to_string(info.begin) + ", " +
                             std::to_string(info.end) + "] end before they begin");
    }
    const uint64_t span = info.end - info.begin;
    const uint64_t elem = dtype_size_bytes(info.dtype);
    if (too_big || numel > span / elem || numel * elem != span) {
      throw Error(path_, where + "shape " + format_shape(info.shape) + " x " +
                             std::string(dtype_name(info.dtype)) + " needs " +
                             (too_big ? std::string("more bytes than the file has")
                                      : std::to_string(numel * elem) + " bytes") +
                             " but data_offsets span " + std::to_string(span) + " bytes");
    }
    if (info.end > data_size) {
      throw Error(path_, where + "data_offsets end at " + std::to_string(info.end) +
                             " but the data section has only " + std::to_string(data_size) +
                             " bytes (file truncated?)");
    }
    tensors_.push_back(std::move(info));
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected_begin = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors_) {
    if (t.begin < expected_begin) {
      throw Error(path_, "tensor '" + t.name + "': data_offsets [" + std::to_string(t.begin) + ", " +
                             std::to_string(t.end) + "] overlap tensor '" + previous->name + "'");
    }
    if (t.begin > expected_begin) {
      throw Error(path_, "tensor '" + t.name + "': data_offsets begin at " +
                             std::to_string(t.begin) + " leaving a gap of " +
                             std::to_string(t.begin - expected_begin) + " unused bytes before it");
    }
    expected_begin = t.end;
    previous = &t;
  }
  if (expected_begin != data_size) {
    throw Error(path_, "data section has " + std::to_string(data_size - expected_begin) +
                           " trailing bytes that belong to no tensor");
  }
  for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::at(std::string_view name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) throw Error(path_, "no tensor named '" + std::string(name) + "'");
  return *info;
}

const std::byte* SafetensorsFile::data(const TensorInfo& info) const {
  return mapping_->data() + data_start_ + info.begin;
}

void SafetensorsFile::drop_pages(const TensorInfo& info) const {
  mapping_->drop_pages(data_start_ + info.begin, info.end - info.begin);
}

void SafetensorsFile::drop_pages(const void* data, uint64_t length) const {
  const auto begin = reinterpret_cast<uintptr_t>(mapping_->data());
  const auto at = reinterpret_cast<uintptr_t>(data);
  if (at < begin || at - begin > mapping_->size() || length > mapping_->size() - (at - begin)) {
    return;
  }
  mapping_->drop_pages(at - begin, length);
}

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape,
                            const void* bytes, std::size_t num_bytes) {
  if (name == "__metadata__") throw Error(name, "reserved name, cannot be a tensor");
  for (const Entry& e : entries_) {
    if (e.name == name) throw Error(name, "tensor added twice to one safetensors file");
  }
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(name, "negative dimension in shape " + format_shape(shape));
    numel *= static_cast<uint64_t>(d);
  }
  if (numel * dtype_size_bytes(dtype) != num_bytes) {
    throw Error(name, "shape " + format_shape(shape) + " x " + std::string(dtype_name(dtype)) +
                          " needs " + std::to_string(numel * dtype_size_bytes(dtype)) +
                          " bytes, got " + std::to_string(num_bytes));
  }
  entries_.push_back(Entry{std::move(name), dtype, std::move(shape),
                           std::string(static_cast<const char*>(bytes), num_bytes)});
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
}

std::string SafetensorsWriter::serialize() const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  // Widest dtypes first: every tensor's byte count is a multiple of its element size, so each
  // tensor then starts aligned to its element size and views need no copy.
  std::vector<const Entry*> order;
  for (const Entry& e : entries_) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return dtype_size_bytes(a->dtype) > dtype_size_bytes(b->dtype);
  });
  uint64_t offset = 0;
  for (const Entry* entry : order) {
    const Entry& e = *entry;
    header[e.name] = {{"dtype", dtype_name(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string json = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned (zero-copy views stay aligned).
  while ((8 + json.size()) % 8 != 0) json.push_back(' ');
  std::string out;
  out.reserve(8 + json.size() + offset);
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += json;
  for (const Entry* e : order) out += e->bytes;
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  write_file_atomic(path, serialize());
}

}  // namespace prefscore
