// Strong address types, so a physical address is never passed where a file offset belongs.
//
//   PhysAddr pa{0x1000};
//   Pfn pfn = ToPfn(pa, 4096);
#pragma once

#include <compare>
#include <cstdint>

namespace coroner {

template <typename Tag>
struct StrongU64 {
  uint64_t value = 0;
  constexpr StrongU64() = default;
  constexpr explicit StrongU64(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const StrongU64&) const = default;
};

struct PhysAddrTag {};
struct KVAddrTag {};
struct UVAddrTag {};
struct PfnTag {};
struct FileOffsetTag {};

using PhysAddr = StrongU64<PhysAddrTag>;
using KVAddr = StrongU64<KVAddrTag>;
using UVAddr = StrongU64<UVAddrTag>;
using Pfn = StrongU64<PfnTag>;
using FileOffset = StrongU64<FileOffsetTag>;

constexpr Pfn ToPfn(PhysAddr pa, uint64_t page_size) { return Pfn{pa.value / page_size}; }
constexpr PhysAddr ToPhys(Pfn pfn, uint64_t page_size) { return PhysAddr{pfn.value * page_size}; }

}  // namespace coroner
