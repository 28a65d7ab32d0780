// `kmem -s`: the SLUB caches (lib/kernel/slab.h), crash's layout.
// `kmem -i`: crash's memory summary (TOTAL MEM, FREE, USED, SHARED, BUFFERS, CACHED, SLAB, huge
// pages, swap, commit limit) from the kernel's own counters, with no vmlinux: vm_zone_stat and
// vm_node_stat indexed by the enumerators in BTF, totalram, swap and overcommit globals, the
// block-device inodes for BUFFERS, and a walk of every struct page for SHARED, as crash does.
// `kmem -V`: the kernel's vm_zone_stat, vm_node_stat (and vm_numa_stat where the kernel has it)
// counters and the per-CPU vm_event_states summed, named by their enums.
// `kmem -z`: every zone of every node: spanned and present pages, watermarks, its vm_stat.
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

// A block of named counters ("VM_ZONE_STAT", ...), in enum order.
struct StatBlock {
  std::string title;
  std::vector<std::pair<std::string, int64_t>> items;
};

// kmem -z: one zone.
struct ZoneStats {
  int node = 0, index = 0;
  uint64_t zone = 0;  // struct zone address
  std::string name;
  uint64_t spanned = 0, present = 0;
  uint64_t min = 0, low = 0, high = 0;
  StatBlock vm_stat;
};

struct KmemResult {
  enum class Mode { kInfo, kSlabs, kVmStat, kZones } mode = Mode::kInfo;
  std::vector<StatBlock> stats;  // kmem -V
  std::vector<ZoneStats> zones;  // kmem -z
  KmemInfo info;
  std::vector<SlabCacheInfo> caches;  // kmem -s
};

Result<KmemResult> RunKmem(const Session& s, const std::vector<std::string>& args);

// Every memory node's pglist_data (node_data[], or contig_page_data on a non-NUMA kernel).
Result<std::vector<uint64_t>> NodePgdats(const Kernel& k);

}  // namespace coroner
