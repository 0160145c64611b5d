// The CPU allocator that keeps large freed buffers: a tensor of a size freed before gets that
// buffer back, small tensors are left to malloc, the limit holds (least recently freed dropped
// first), and results computed in reused buffers are unchanged.
#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include "prefscore/cpu_buffer_reuse.h"
#include "test_utils.h"

using prefscore::cpu_buffer_reuse_counts;
using prefscore::reuse_cpu_buffers;

namespace {
constexpr std::int64_t kMiB = 1 << 20;

torch::Tensor bytes_tensor(std::int64_t bytes) { return torch::empty({bytes}, torch::kUInt8); }
}  // namespace

TEST_CASE("A freed buffer of 1 MiB or more is handed back for the same size",
          "[cpu_buffer_reuse]") {
  reuse_cpu_buffers();
  const void* first = nullptr;
  {
    torch::Tensor t = bytes_tensor(3 * kMiB);
    first = t.data_ptr();
  }
  const auto before = cpu_buffer_reuse_counts();
  CHECK(before.cached_bytes >= std::size_t(3 * kMiB));
  {
    torch::Tensor other_size = bytes_tensor(3 * kMiB + 64);  // not the kept one
    CHECK(other_size.data_ptr() != first);
    torch::Tensor same_size = bytes_tensor(3 * kMiB);
    CHECK(same_size.data_ptr() == first);
  }
  const auto after = cpu_buffer_reuse_counts();
  CHECK(after.reused == before.reused + 1);
  CHECK(after.allocated == before.allocated + 1);
}

TEST_CASE("Small tensors are not kept", "[cpu_buffer_reuse]") {
  reuse_cpu_buffers();
  const auto before = cpu_buffer_reuse_counts();
  for (int i = 0; i < 10; ++i) bytes_tensor(kMiB - 1).fill_(1);
  const auto after = cpu_buffer_reuse_counts();
  CHECK(after.reused == before.reused);
  CHECK(after.allocated == before.allocated);
  CHECK(after.cached_bytes == before.cached_bytes);
}

TEST_CASE("The limit drops the least recently freed buffers", "[cpu_buffer_reuse]") {
  reuse_cpu_buffers(0);  // drops what earlier tests left
  CHECK(cpu_buffer_reuse_counts().cached_bytes == 0);
  reuse_cpu_buffers(5 * kMiB);
  const void* older = nullptr;
  const void* newer = nullptr;
  {
    torch::Tensor a = bytes_tensor(2 * kMiB + 4096);
    torch::Tensor b = bytes_tensor(2 * kMiB + 8192);
    torch::Tensor c = bytes_tensor(2 * kMiB + 4096);
    older = a.data_ptr();
    newer = c.data_ptr();
    a = torch::Tensor();  // freed first
    b = torch::Tensor();
    c = torch::Tensor();  // 6 MiB + 16 KiB kept would pass 5 MiB: a goes
  }
  CHECK(cpu_buffer_reuse_counts().cached_bytes == std::size_t(4 * kMiB + 12288));
  torch::Tensor again = bytes_tensor(2 * kMiB + 4096);
  CHECK(again.data_ptr() == newer);
  CHECK(again.data_ptr() != older);
  torch::Tensor beyond = bytes_tensor(6 * kMiB);
  beyond = torch::Tensor();  // larger than the whole limit: freed at once
  CHECK(cpu_buffer_reuse_counts().cached_bytes == std::size_t(2 * kMiB + 8192));
  reuse_cpu_buffers(0);
  CHECK(cpu_buffer_reuse_counts().cached_bytes == 0);
  reuse_cpu_buffers();
}

TEST_CASE("raw_allocate and raw_deallocate go through the same buffers", "[cpu_buffer_reuse]") {
  reuse_cpu_buffers();
  c10::Allocator* allocator = c10::GetCPUAllocator();
  void* large = allocator->raw_allocate(4 * kMiB);
  void* small = allocator->raw_allocate(100);
  allocator->raw_deallocate(small);
  allocator->raw_deallocate(large);
  torch::Tensor t = bytes_tensor(4 * kMiB);
  CHECK(t.data_ptr() == large);
}

TEST_CASE("Results computed in reused buffers are unchanged", "[cpu_buffer_reuse]") {
  reuse_cpu_buffers();
  torch::manual_seed(7);
  const torch::Tensor a = torch::randn({600, 700});
  const torch::Tensor b = torch::randn({700, 800});
  const torch::Tensor expected = torch::gelu(torch::matmul(a, b)).softmax(-1);
  const auto before = cpu_buffer_reuse_counts();
  for (int i = 0; i < 3; ++i) {
    const torch::Tensor again = torch::gelu(torch::matmul(a, b)).softmax(-1);
    CHECK(torch::equal(again, expected));
  }
  CHECK(cpu_buffer_reuse_counts().reused > before.reused);
}
