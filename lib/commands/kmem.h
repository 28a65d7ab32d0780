// `kmem -s`: the SLUB caches (lib/kernel/slab.h), crash's layout.
// `kmem -i`: crash's memory summary (TOTAL MEM, FREE, USED, SHARED, BUFFERS, CACHED, SLAB, huge
// pages, swap, commit limit) from the kernel's own counters, with no vmlinux: vm_zone_stat and
// vm_node_stat indexed by the enumerators in BTF, totalram, swap and overcommit globals, the
// block-device inodes for BUFFERS, and a walk of every struct page for SHARED, as crash does.
// `kmem -V`: the kernel's vm_zone_stat, vm_node_stat (and vm_numa_stat where the kernel has it)
// counters and the per-CPU vm_event_states summed, named by their enums.
// `kmem -z`: every zone of every node: spanned and present pages, watermarks, its vm_stat.
// `kmem -f`: every zone's buddy free lists walked (blocks per order and migrate type), their sum
// verified against the kernel's NR_FREE_PAGES.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/commands/kmem_address.h"
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

// kmem -f: one zone's buddy free lists, per order and migrate type.
struct FreeList {
  int order = 0;
  uint64_t list = 0;     // the free_list[type] list_head
  uint64_t blocks = 0;   // entries on it (each 2^order pages)
};
struct ZoneFreeArea {
  int node = 0, index = 0;
  std::string name;
  uint64_t spanned = 0, free = 0;  // free: the zone's NR_FREE_PAGES counter
  uint64_t mem_map = 0;            // struct page of the zone's first pfn (0 when empty)
  uint64_t start_pfn = 0, start_mapnr = 0;
  std::vector<FreeList> lists;
};

struct KmemResult {
  enum class Mode { kInfo, kSlabs, kVmStat, kZones, kFree, kAddress } mode = Mode::kInfo;
  std::vector<KmemAddress> addresses;  // kmem ADDR...
  int panic_cpu = -1;                  // kmem ADDR: for the task header's (PANIC)
  std::vector<ZoneFreeArea> free_areas;  // kmem -f
  uint64_t nr_free_pages = 0;            // kmem -f: the kernel's own count, to verify against
  int nodes = 1;
  std::vector<StatBlock> stats;  // kmem -V
  std::vector<ZoneStats> zones;  // kmem -z
  KmemInfo info;
  std::vector<SlabCacheInfo> caches;  // kmem -s
};

Result<KmemResult> RunKmem(const Session& s, const std::vector<std::string>& args);

// Every memory node's pglist_data (node_data[], or contig_page_data on a non-NUMA kernel).
Result<std::vector<uint64_t>> NodePgdats(const Kernel& k);

}  // namespace coroner
