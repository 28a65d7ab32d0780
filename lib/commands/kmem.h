// `kmem -s`: the SLUB caches (lib/kernel/slab.h), crash's layout.
// `kmem -i`: crash's memory summary (TOTAL MEM, FREE, USED, SHARED, BUFFERS, CACHED, SLAB, huge
// pages, swap, commit limit) from the kernel's own counters, with no vmlinux: vm_zone_stat and
// vm_node_stat indexed by the enumerators in BTF, totalram, swap and overcommit globals, the
// block-device inodes for BUFFERS, and a walk of every struct page for SHARED, as crash does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/slab.h"

namespace coroner {

struct KmemInfo {
  uint64_t total = 0, free = 0, shared = 0, buffers = 0, cached = 0, slab = 0;
  uint64_t huge_total = 0, huge_free = 0, huge_page_pages = 1;  // huge_page_pages: pages per huge page
  uint64_t swap_total = 0, swap_free = 0;
  uint64_t commit_limit = 0, committed = 0;
  std::vector<std::string> warnings;
};

struct KmemResult {
  enum class Mode { kInfo, kSlabs } mode = Mode::kInfo;
  KmemInfo info;
  std::vector<SlabCacheInfo> caches;  // kmem -s
};

Result<KmemResult> RunKmem(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
