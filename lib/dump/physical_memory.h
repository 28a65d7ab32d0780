// PhysicalMemory: the one interface every dump reader presents. Pages are addressed by pfn;
// each page is in exactly one state, and a read of a page that is not dumped fails with an
// Error naming why (excluded by the filter, never present, cut off by truncation, I/O).
//
//   std::vector<std::byte> page(mem.page_size());
//   if (auto r = mem.ReadPage(Pfn{0x1234}, page); !r) {
//     if (r.error().code() == ErrorCode::kExcluded) ...
//   }
//   CORONER_TRY_VOID(mem.Read(PhysAddr{0x1000040}, std::span(buf)));  // crosses pages
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "lib/base/error.h"
#include "lib/base/types.h"

namespace coroner {

enum class PageState : uint8_t {
  kDumped,      // the dump holds the page's bytes
  kExcluded,    // RAM, but left out by the dump's filter (dump level)
  kNotPresent,  // a hole: no RAM there, or outside every region the dump describes
  kTruncated,   // the dump should hold it, but the file ends (or the writer stopped) first
};

std::string_view PageStateName(PageState state);

struct PageCounts {
  uint64_t total = 0;      // pfns from 0 to the highest the dump describes
  uint64_t present = 0;    // pages of RAM the dump knows of (dumped + excluded + truncated)
  uint64_t dumped = 0;     // pages whose bytes are in the dump (readable)
  uint64_t excluded = 0;   // RAM pages left out by the filter
  uint64_t truncated = 0;  // pages that should be there but are cut off
};

struct PfnRange {
  uint64_t start;
  uint64_t count;
};

class PhysicalMemory {
 public:
  virtual ~PhysicalMemory() = default;

  virtual uint64_t page_size() const = 0;
  // Every pfn the dump describes is below this.
  virtual uint64_t pfn_limit() const = 0;
  virtual PageState StateOf(Pfn pfn) const = 0;
  // Reads one whole page; out.size() must equal page_size(). Thread-safe.
  virtual Result<void> ReadPage(Pfn pfn, std::span<std::byte> out) const = 0;
  // Reads any byte range (may cross pages). Fails at the first byte that cannot be read.
  virtual Result<void> Read(PhysAddr addr, std::span<std::byte> out) const;
  // Calls fn for each maximal run of pfns in state kDumped, in ascending order.
  virtual void ForEachDumpedRange(const std::function<void(PfnRange)>& fn) const = 0;
  // Page counts by state (may scan the dump's index once).
  virtual PageCounts CountPages() const = 0;

 protected:
  // Builds the error for a page that is not readable in the given state.
  Error PageError(Pfn pfn, PageState state) const;
};

}  // namespace coroner
