// Reuse of large CPU tensor buffers from one model call to the next.
#pragma once

#include <cstddef>

namespace prefscore {

// The most bytes of freed buffers kept for reuse by default. The large tensors of a ViT-H call
// on 8 images (the CLI's default batch) take ~58 MB; the limit is also what the kept buffers may
// add to the peak RSS, since buffers freed while the weights load are kept too.
inline constexpr std::size_t kDefaultCachedCpuBufferBytes = std::size_t{128} << 20;

// Makes LibTorch's CPU allocator keep freed buffers of 1 MiB and more (at most max_cached_bytes of
// them, least recently freed dropped first) and hand one back to the next request of exactly the
// same size. A model call allocates the same sizes every time, so from the second call on its
// large tensors come from these buffers instead of new pages. Why it matters: the CLI sends blocks
// of 1 MiB and more to mmap (src/cli/main.cpp), so each such tensor was fresh memory, and a first
// touch of a page is a costly fault on a virtual machine (~7,000 per ViT-H call of 4 images).
// Call it once, before the model runs; later calls only change the limit. Process-wide: every
// tensor allocated on the CPU afterwards goes through it. Thread-safe.
void reuse_cpu_buffers(std::size_t max_cached_bytes = kDefaultCachedCpuBufferBytes);

// What the reuse has done so far, for benchmarks and tests.
struct CpuBufferReuseCounts {
  std::size_t reused = 0;        // requests served from a kept buffer
  std::size_t allocated = 0;     // requests of 1 MiB and more that needed new memory
  std::size_t cached_bytes = 0;  // bytes kept now
};
CpuBufferReuseCounts cpu_buffer_reuse_counts();

}  // namespace prefscore
