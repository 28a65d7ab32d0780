// x86_64 page-table walks (4- and 5-level paging, 1 GiB and 2 MiB pages) over a dump's
// physical memory. Every step is recorded so `vtop` can print the table entries, and a failed
// walk says which level failed and why.
//
//   X86_64Paging paging(mem, /*five_level=*/false, /*sme_mask=*/0);
//   CORONER_TRY(PageWalk w, paging.Walk(PhysAddr{cr3}, 0xffff888000001000));
//   fmt::print("{:#x} -> {:#x}\n", w.va, w.pa.value);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/base/types.h"
#include "lib/dump/physical_memory.h"

namespace coroner {

struct PageWalkStep {
  const char* level;  // "PGD" (5-level top), "PML4", "PUD", "PMD", "PTE"
  PhysAddr entry_addr;
  uint64_t entry;
};

struct PageWalk {
  uint64_t va = 0;
  PhysAddr pa;
  uint64_t page_size = 0;  // 4 KiB, 2 MiB or 1 GiB
  std::vector<PageWalkStep> steps;
  // WalkToEntry only: false when the last step's entry is not present (it may hold a swap
  // entry); pa and page_size are then unset.
  bool present = true;
};

class X86_64Paging {
 public:
  X86_64Paging(const PhysicalMemory& mem, bool five_level, uint64_t sme_mask)
      : mem_(mem), five_level_(five_level), sme_mask_(sme_mask) {}

  bool five_level() const { return five_level_; }
  // True when `va` is canonical for the paging mode (bits above 47/56 copy bit 47/56).
  bool IsCanonical(uint64_t va) const;
  // Translates `va` through the tables rooted at `root` (a CR3 value / pgd physical address).
  Result<PageWalk> Walk(PhysAddr root, uint64_t va) const;
  // The same walk, but a non-present entry ends it without an error (present = false), so a
  // caller can decode what the entry holds (a user page's swap entry).
  Result<PageWalk> WalkToEntry(PhysAddr root, uint64_t va) const;

  // A non-present user PTE that holds a swap entry: arch/x86/include/asm/pgtable_64.h (4.18+,
  // the L1TF layout): type in the top 5 bits (SWP_TYPE_BITS), the offset stored inverted from
  // bit 14 (SWP_OFFSET_FIRST_BIT 9 + SWP_TYPE_BITS).
  struct SwapEntry {
    uint64_t type = 0;
    uint64_t offset = 0;
  };
  static SwapEntry DecodeSwapPte(uint64_t pte) {
    constexpr int kTypeBits = 5;
    constexpr int kOffsetShift = 14;
    return {pte >> (64 - kTypeBits), (~pte << kTypeBits) >> kOffsetShift};
  }

  static constexpr uint64_t kPresent = 1;
  static constexpr uint64_t kHuge = 1 << 7;  // PS bit at PUD (1G) and PMD (2M)
  static constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;

 private:
  Result<PageWalk> WalkImpl(PhysAddr root, uint64_t va, bool stop_at_absent) const;

  const PhysicalMemory& mem_;
  bool five_level_;
  uint64_t sme_mask_;
};

}  // namespace coroner
