// Checked arithmetic on untrusted numbers (offsets and sizes read from a dump).
//
//   auto end = CheckedAdd(offset, size);
//   if (!end) return Error(ErrorCode::kOverflow, "segment end overflows");
#pragma once

#include <cstdint>
#include <optional>

namespace coroner {

inline std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> CheckedMul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// True when [off, off+len) lies within [0, total).
inline bool RangeFits(uint64_t off, uint64_t len, uint64_t total) {
  return off <= total && len <= total - off;
}

}  // namespace coroner
