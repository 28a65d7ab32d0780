#include "lib/dump/physical_memory.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace coroner {

std::string_view PageStateName(PageState state) {
  switch (state) {
    case PageState::kDumped: return "dumped";
    case PageState::kExcluded: return "excluded";
    case PageState::kNotPresent: return "not present";
    case PageState::kTruncated: return "truncated";
  }
  return "unknown";
}

Error PhysicalMemory::PageError(Pfn pfn, PageState state) const {
  uint64_t addr = pfn.value * page_size();
  switch (state) {
    case PageState::kExcluded:
      return Error(ErrorCode::kExcluded,
                   fmt::format("page {:#x} was excluded by the dump's filter", pfn.value),
                   AtPhys(addr));
    case PageState::kNotPresent:
      return Error(ErrorCode::kNotPresent,
                   fmt::format("page {:#x} is not in the dump (no memory there)", pfn.value),
                   AtPhys(addr));
    case PageState::kTruncated:
      return Error(ErrorCode::kTruncated,
                   fmt::format("page {:#x} is missing: the dump is incomplete", pfn.value),
                   AtPhys(addr));
    case PageState::kDumped:
      break;
  }
  return Error(ErrorCode::kIo, fmt::format("page {:#x} could not be read", pfn.value),
               AtPhys(addr));
}

Result<void> PhysicalMemory::Read(PhysAddr addr, std::span<std::byte> out) const {
  const uint64_t ps = page_size();
  std::vector<std::byte> page(ps);
  uint64_t a = addr.value;
  size_t done = 0;
  while (done < out.size()) {
    uint64_t pfn = a / ps;
    uint64_t in_page = a % ps;
    size_t n = static_cast<size_t>(std::min<uint64_t>(ps - in_page, out.size() - done));
    CORONER_TRY_VOID(ReadPage(Pfn{pfn}, page));
    std::copy_n(page.begin() + static_cast<ptrdiff_t>(in_page), n, out.begin() + static_cast<ptrdiff_t>(done));
    done += n;
    a += n;
  }
  return Ok();
}

}  // namespace coroner
