#include "lib/arch/x86_64_paging.h"

#include <array>

#include <fmt/format.h>

#include "lib/base/byte_reader.h"

namespace coroner {

bool X86_64Paging::IsCanonical(uint64_t va) const {
  int bits = five_level_ ? 57 : 48;
  int64_t sign_extended = static_cast<int64_t>(va << (64 - bits)) >> (64 - bits);
  return static_cast<uint64_t>(sign_extended) == va;
}

Result<PageWalk> X86_64Paging::Walk(PhysAddr root, uint64_t va) const { return WalkImpl(root, va, false); }

Result<PageWalk> X86_64Paging::WalkToEntry(PhysAddr root, uint64_t va) const { return WalkImpl(root, va, true); }

Result<PageWalk> X86_64Paging::WalkImpl(PhysAddr root, uint64_t va, bool stop_at_absent) const {
  struct Level {
    const char* name;
    int shift;
    bool may_be_huge;
  };
  static constexpr std::array<Level, 5> kLevels = {{{"PGD", 48, false},
                                                    {"PML4", 39, false},
                                                    {"PUD", 30, true},
                                                    {"PMD", 21, true},
                                                    {"PTE", 12, false}}};
  if (!IsCanonical(va)) {
    return Error(ErrorCode::kFault,
                 fmt::format("{:#x} is not a canonical address ({}-level paging)", va, five_level_ ? 5 : 4),
                 AtVirt(va));
  }
  PageWalk w;
  w.va = va;
  uint64_t table = root.value & kAddrMask & ~sme_mask_;
  for (size_t i = five_level_ ? 0 : 1; i < kLevels.size(); ++i) {
    const Level& lv = kLevels[i];
    uint64_t index = (va >> lv.shift) & 511;
    PhysAddr entry_addr{table + index * 8};
    std::array<std::byte, 8> raw{};
    if (auto r = mem_.Read(entry_addr, raw); !r) {
      return std::move(r).error().WithContext(
          fmt::format("translating {:#x}: cannot read the {} table at physical {:#x}", va, lv.name, table));
    }
    uint64_t entry = LoadLE64(raw.data());
    w.steps.push_back({lv.name, entry_addr, entry});
    if (!(entry & kPresent)) {
      if (stop_at_absent) {
        w.present = false;
        return w;
      }
      return Error(ErrorCode::kFault,
                   fmt::format("translating {:#x}: {} entry {:#x} at physical {:#x} is not present", va,
                               lv.name, entry, entry_addr.value),
                   AtVirt(va));
    }
    uint64_t next = entry & kAddrMask & ~sme_mask_;
    if (lv.may_be_huge && (entry & kHuge)) {
      uint64_t size = uint64_t{1} << lv.shift;
      w.page_size = size;
      w.pa = PhysAddr{(next & ~(size - 1)) | (va & (size - 1))};
      return w;
    }
    table = next;
  }
  w.page_size = 4096;
  w.pa = PhysAddr{table | (va & 0xfff)};
  return w;
}

}  // namespace coroner
