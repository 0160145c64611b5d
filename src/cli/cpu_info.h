// What the CLI needs to know about the host CPU to pick defaults: the number of physical cores
// this process may run on (SMT siblings counted once) and whether the CPU has a bf16 matrix unit
// (AVX512-BF16 or AMX-BF16, enabled by the OS). Read here, in the CLI, so that the library never
// inspects the machine (../shared/STYLE.md section 5).
#pragma once

namespace prefscore::cli {

// Physical cores among the CPUs in this process's affinity mask (a container's cpuset included),
// from /sys/devices/system/cpu/cpu<N>/topology; the logical CPU count when topology is unreadable.
int physical_cores();

// True when oneDNN's bf16 GEMMs run on hardware bf16 dot products: CPUID reports AVX512-BF16 or
// AMX-BF16 and XGETBV says the OS saves the AVX-512 (or AMX tile) state.
bool cpu_has_fast_bf16();

}  // namespace prefscore::cli
