#include "cpu_info.h"

#include <sched.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace prefscore::cli {
namespace {

bool read_int(const std::string& path, int& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

#if defined(__x86_64__) || defined(__i386__)
unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

}  // namespace

int physical_cores() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  const int logical = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return logical;
  std::set<std::pair<int, int>> cores;  // (package, core id)
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &mask)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    int package = 0, core = 0;
    if (!read_int(dir + "physical_package_id", package) || !read_int(dir + "core_id", core)) {
      return std::max(1, CPU_COUNT(&mask));
    }
    cores.insert({package, core});
  }
  return cores.empty() ? logical : static_cast<int>(cores.size());
}

bool cpu_has_fast_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return false;  // OSXSAVE
  const unsigned long long xcr0 = xgetbv0();
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx512f = b & (1u << 16), amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
  // XCR0 bits 1-2 (SSE, AVX) and 5-7 (opmask, ZMM) for AVX-512; 17-18 (tile config, data) for AMX.
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6, os_amx = (xcr0 & 0x60000) == 0x60000;
  if (amx_bf16 && amx_tile && os_amx) return true;
  __cpuid_count(7, 1, a, b, c, d);
  const bool avx512_bf16 = a & (1u << 5);
  return avx512f && avx512_bf16 && os_avx512;
#else
  return false;
#endif
}

}  // namespace prefscore::cli
