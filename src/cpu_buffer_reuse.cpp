#include "prefscore/cpu_buffer_reuse.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace prefscore {
namespace {

// Below this glibc serves blocks from its arenas, which keep freed memory already.
constexpr std::size_t kSmallestReusedBlock = std::size_t{1} << 20;

class ReusingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t bytes) const override {
    if (bytes < kSmallestReusedBlock) {
      void* data = c10::alloc_cpu(bytes);
      return {data, data, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    void* data = take_kept(bytes);
    if (data == nullptr) data = c10::alloc_cpu(bytes);  // throws when out of memory
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_[data] = bytes;
    }
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // For raw_allocate/raw_deallocate: release() frees blocks it did not hand out as large ones.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void set_limit(std::size_t max_cached_bytes) {
    std::vector<void*> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      max_cached_bytes_ = max_cached_bytes;
      drop_oldest_beyond_limit(dropped);
    }
    for (void* data : dropped) c10::free_cpu(data);
  }

  CpuBufferReuseCounts counts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counts_;
  }

  // Never destroyed: tensors may be freed while static objects are being destroyed at exit.
  static ReusingCpuAllocator& instance() {
    static auto* allocator = new ReusingCpuAllocator;
    return *allocator;
  }

 private:
  struct KeptBlock {
    void* data;
    std::size_t bytes;
  };
  using KeptList = std::list<KeptBlock>;

  static void release(void* data) { instance().give_back(data); }

  void* take_kept(std::size_t bytes) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = kept_by_size_.find(bytes);
    if (found == kept_by_size_.end()) {
      ++counts_.allocated;
      return nullptr;
    }
    void* data = found->second->data;
    kept_.erase(found->second);
    kept_by_size_.erase(found);
    counts_.cached_bytes -= bytes;
    ++counts_.reused;
    return data;
  }

  void give_back(void* data) {
    std::vector<void*> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto live = live_.find(data);
      if (live == live_.end()) {
        dropped.push_back(data);  // a small block (raw_deallocate sends every block here)
      } else {
        const std::size_t bytes = live->second;
        live_.erase(live);
        if (bytes > max_cached_bytes_) {
          dropped.push_back(data);
        } else {
          kept_.push_back({data, bytes});
          kept_by_size_.emplace(bytes, std::prev(kept_.end()));
          counts_.cached_bytes += bytes;
          drop_oldest_beyond_limit(dropped);
        }
      }
    }
    // Freeing large blocks is munmap, a system call: done after the lock is released.
    for (void* block : dropped) c10::free_cpu(block);
  }

  // Caller holds mutex_.
  void drop_oldest_beyond_limit(std::vector<void*>& dropped) {
    while (counts_.cached_bytes > max_cached_bytes_ && !kept_.empty()) {
      const KeptBlock oldest = kept_.front();
      auto range = kept_by_size_.equal_range(oldest.bytes);
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == kept_.begin()) {
          kept_by_size_.erase(it);
          break;
        }
      }
      kept_.pop_front();
      counts_.cached_bytes -= oldest.bytes;
      dropped.push_back(oldest.data);
    }
  }

  // allocate() is const in c10::Allocator, hence mutable state.
  mutable std::mutex mutex_;
  mutable KeptList kept_;  // least recently freed first
  mutable std::unordered_multimap<std::size_t, KeptList::iterator> kept_by_size_;
  mutable std::unordered_map<void*, std::size_t> live_;  // large blocks handed out
  mutable CpuBufferReuseCounts counts_;
  std::size_t max_cached_bytes_ = kDefaultCachedCpuBufferBytes;
};

}  // namespace

void reuse_cpu_buffers(std::size_t max_cached_bytes) {
  static std::once_flag installed;
  ReusingCpuAllocator& allocator = ReusingCpuAllocator::instance();
  allocator.set_limit(max_cached_bytes);
  // Priority 1 wins over LibTorch's default CPU allocator, registered with 0. Tensors allocated
  // before keep their own deleters.
  std::call_once(installed, [&] { c10::SetCPUAllocator(&allocator, 1); });
}

CpuBufferReuseCounts cpu_buffer_reuse_counts() { return ReusingCpuAllocator::instance().counts(); }

}  // namespace prefscore
