// Bit-exact conversions between IEEE binary16 / bfloat16 storage and float.
//
// The CPU kernel stores 16-bit values as raw uint16_t (XLA hands them over as
// untyped bytes) and accumulates in float, so it needs exactly two operations
// per format: widen on load, round-to-nearest-even once on store. Writing them
// here keeps the kernel free of compiler-specific half types (`_Float16`
// support varies across the compilers that build wheels for old x86-64).
#pragma once

#include <cstdint>
#include <cstring>

namespace jaxhada {

inline float BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

inline uint32_t FloatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

// bfloat16 is the top half of a float, so widening is a shift.
inline float Bfloat16ToFloat(uint16_t h) {
  return BitsToFloat(static_cast<uint32_t>(h) << 16);
}

inline uint16_t FloatToBfloat16(float f) {
  uint32_t bits = FloatToBits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    // Keep NaN a NaN: rounding could carry a payload-only NaN into infinity.
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  // Round to nearest, ties to even, by adding half an ulp plus the lsb.
  uint32_t lsb = (bits >> 16) & 1u;
  bits += 0x7fffu + lsb;
  return static_cast<uint16_t>(bits >> 16);
}

inline float Float16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1fu) {  // inf or NaN
    return BitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    // Zero or subnormal: value = mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return BitsToFloat(sign | FloatToBits(magnitude));
  }
  return BitsToFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline uint16_t FloatToFloat16(float f) {
  const uint32_t bits = FloatToBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return sign | 0x7e00u;           // NaN
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;          // overflows to inf
  if (abs_bits < 0x38800000u) {
    // Result is subnormal (or zero) in half: scale so the half ulp 2^-24
    // becomes 1 and let float rounding (nearest-even) do the work.
    const float scaled = BitsToFloat(abs_bits) * 16777216.0f;  // 2^24
    // nearbyint-free rounding: adding 2^23 forces rounding at the unit.
    const float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | static_cast<uint16_t>(rounded);
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits, ties to even.
  uint32_t half = abs_bits - (112u << 23);
  const uint32_t lsb = (half >> 13) & 1u;
  half += 0xfffu + lsb;
  return sign | static_cast<uint16_t>(half >> 13);
}

}  // namespace jaxhada
