// A bounds-checked cursor over untrusted bytes, with the byte order fixed at construction.
// A failed read does not advance, and the error names the absolute offset (base + position),
// so messages point into the file:
//
//   ByteReader r(bytes, Endian::kLittle, /*base_offset=*/hdr_offset);
//   CORONER_TRY(uint32_t version, r.U32());
//   CORONER_TRY(std::string_view sig, r.Bytes(8));
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

#include "lib/base/error.h"

namespace coroner {

enum class Endian { kLittle, kBig };

class ByteReader {
 public:
  ByteReader(std::span<const std::byte> data, Endian endian, uint64_t base_offset = 0)
      : data_(data), endian_(endian), base_(base_offset) {}

  size_t pos() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  uint64_t offset() const { return base_ + pos_; }  // absolute offset for messages
  bool empty() const { return pos_ >= data_.size(); }

  Result<void> Seek(size_t pos);
  Result<void> Skip(size_t n);
  Result<void> AlignTo(size_t alignment);

  Result<uint8_t> U8() { return Int<uint8_t>(); }
  Result<uint16_t> U16() { return Int<uint16_t>(); }
  Result<uint32_t> U32() { return Int<uint32_t>(); }
  Result<uint64_t> U64() { return Int<uint64_t>(); }
  Result<int32_t> I32() { return Int<int32_t>(); }
  Result<int64_t> I64() { return Int<int64_t>(); }

  // The next n bytes, as a view (no copy).
  Result<std::span<const std::byte>> Bytes(size_t n);
  // The next n bytes as characters, cut at the first NUL.
  Result<std::string_view> FixedString(size_t n);

 private:
  template <typename T>
  Result<T> Int() {
    if (remaining() < sizeof(T)) return Short(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    if constexpr (sizeof(T) > 1) {
      if (endian_ == Endian::kBig) v = static_cast<T>(ByteSwap(static_cast<std::make_unsigned_t<T>>(v)));
    }
    pos_ += sizeof(T);
    return v;
  }
  template <typename U>
  static U ByteSwap(U v) {
    if constexpr (sizeof(U) == 2) return __builtin_bswap16(v);
    if constexpr (sizeof(U) == 4) return __builtin_bswap32(v);
    if constexpr (sizeof(U) == 8) return __builtin_bswap64(v);
    return v;
  }
  Error Short(size_t wanted) const;

  std::span<const std::byte> data_;
  Endian endian_;
  uint64_t base_;
  size_t pos_ = 0;
};

// Little-endian loads from a buffer the caller has already bounds-checked.
inline uint64_t LoadLE64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t LoadLE32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace coroner
