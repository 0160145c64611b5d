// bf16 as raw 16-bit patterns, for loops that convert without going through at::BFloat16.
#pragma once

#include <cstdint>
#include <cstring>

namespace prefscore {

// float -> bf16, round to nearest even, NaN kept NaN (what at::BFloat16's conversion does).
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline float from_bf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace prefscore
