#include "lib/commands/kmem.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace coroner {
namespace {

constexpr uint64_t kPageSize = 4096;

// One element of vm_zone_stat / vm_node_stat (atomic_long_t[]), by enumerator name.
Result<int64_t> VmStat(const Kernel& k, std::string_view array, std::string_view item) {
  CORONER_TRY(int64_t idx, k.EnumValue(item));
  CORONER_TRY(uint64_t base, k.SymbolAddress(array));
  CORONER_TRY(uint64_t v, k.ReadU64(base + 8 * static_cast<uint64_t>(idx)));
  return static_cast<int64_t>(v);
}

// A percpu_counter's full value: count plus every CPU's unfolded delta.
Result<int64_t> PercpuCounterSum(const Kernel& k, uint64_t counter) {
  CORONER_TRY(int64_t count, k.ReadSignedField(counter, "percpu_counter", "count"));
  CORONER_TRY(uint64_t counters, k.ReadField(counter, "percpu_counter", "counters"));
  CORONER_TRY(int cpus, k.PossibleCpus());
  for (int cpu = 0; cpu < cpus && counters; ++cpu) {
    CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
    CORONER_TRY(uint32_t d, k.ReadU32(counters + off));
    count += static_cast<int32_t>(d);
  }
  return count;
}

uint64_t Positive(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

// nr_blockdev_pages(): the page cache of every block-device inode.
Result<uint64_t> BlockdevPages(const Kernel& k) {
  CORONER_TRY(uint64_t sbp, k.SymbolAddress("blockdev_superblock"));
  CORONER_TRY(uint64_t sb, k.ReadU64(sbp));
  CORONER_TRY(uint64_t head, k.FieldAddress(sb, "super_block", "s_inodes"));
  CORONER_TRY(auto inodes, k.ListEntries(head, "inode", "i_sb_list"));
  uint64_t pages = 0;
  for (uint64_t inode : inodes) {
    CORONER_TRY(uint64_t mapping, k.ReadField(inode, "inode", "i_mapping"));
    if (!mapping) continue;
    CORONER_TRY(uint64_t n, k.ReadField(mapping, "address_space", "nrpages"));
    pages += n;
  }
  return pages;
}

// total_swapcache_pages(): the pages of every swap device's address spaces (swapper_spaces[type]
// is an array of nr_swapper_spaces[type] address_space structs).
Result<uint64_t> SwapperSpacePages(const Kernel& k) {
  CORONER_TRY(uint64_t spaces, k.SymbolAddress("swapper_spaces"));
  CORONER_TRY(uint64_t counts, k.SymbolAddress("nr_swapper_spaces"));
  CORONER_TRY(uint64_t as_size, k.SizeOf("address_space"));
  uint64_t nr_types = 32;  // MAX_SWAPFILES is below this
  if (auto n = k.SymbolAddress("nr_swapfiles")) nr_types = std::min<uint64_t>(k.ReadU32(*n).value_or(0), 32);
  uint64_t pages = 0;
  for (uint64_t t = 0; t < nr_types; ++t) {
    CORONER_TRY(uint64_t base, k.ReadU64(spaces + 8 * t));
    CORONER_TRY(uint32_t n, k.ReadU32(counts + 4 * t));
    for (uint64_t i = 0; base && i < n && i < (1u << 20); ++i) {
      CORONER_TRY(uint64_t nr, k.ReadField(base + i * as_size, "address_space", "nrpages"));
      pages += nr;
    }
  }
  return pages;
}

// crash's SHARED: pages, other than reserved ones, whose reference count is above one, from
// every struct page.
Result<uint64_t> SharedPages(const Kernel& k) {
  CORONER_TRY(uint64_t vmemmap_sym, k.SymbolAddress("vmemmap_base"));
  CORONER_TRY(uint64_t vmemmap, k.ReadU64(vmemmap_sym));
  CORONER_TRY(uint64_t max_pfn_sym, k.SymbolAddress("max_pfn"));
  CORONER_TRY(uint64_t max_pfn, k.ReadU64(max_pfn_sym));
  CORONER_TRY(uint64_t page_size, k.SizeOf("page"));
  CORONER_TRY(Field refcount, k.FieldOf("page", "_refcount"));
  CORONER_TRY(Field flags, k.FieldOf("page", "flags"));
  CORONER_TRY(int64_t pg_reserved, k.EnumValue("PG_reserved"));
  if (page_size == 0 || page_size > 256 || max_pfn > (1ull << 40)) {
    return Error(ErrorCode::kBadData, fmt::format("implausible struct page size {} or max_pfn {}", page_size, max_pfn));
  }
  constexpr uint64_t kChunk = 64;  // pages per read
  std::vector<std::byte> buf(kChunk * page_size);
  uint64_t shared = 0;
  for (uint64_t pfn = 0; pfn < max_pfn; pfn += kChunk) {
    uint64_t n = std::min(kChunk, max_pfn - pfn);
    std::span<std::byte> span(buf.data(), n * page_size);
    if (!k.memory().Read(vmemmap + pfn * page_size, span)) continue;  // a hole in the memory map
    for (uint64_t i = 0; i < n; ++i) {
      int32_t count;
      uint64_t page_flags;
      std::memcpy(&count, buf.data() + i * page_size + refcount.offset, 4);
      std::memcpy(&page_flags, buf.data() + i * page_size + flags.offset, 8);
      if ((page_flags >> pg_reserved) & 1) continue;
      if (count > 1) ++shared;
    }
  }
  return shared;
}

// The enumerators of `enum NAME` below its terminator (NR_VM_ZONE_STAT_ITEMS, ...), by value.
Result<std::vector<std::string>> EnumNames(const Kernel& k, std::string_view enum_name, std::string_view terminator) {
  auto id = k.types().Find(fmt::format("enum {}", enum_name));
  if (!id) return Error(ErrorCode::kNotFound, fmt::format("the kernel's types have no enum {}", enum_name));
  const Type& t = k.types().Get(*id);
  int64_t count = -1;
  for (const TypeEnumerator& e : t.enumerators) {
    if (e.name == terminator) count = e.value;
  }
  if (count < 0 || count > 1024) {
    return Error(ErrorCode::kNotFound, fmt::format("enum {} has no {}", enum_name, terminator));
  }
  std::vector<std::string> names(static_cast<size_t>(count));
  for (const TypeEnumerator& e : t.enumerators) {
    // Of aliases (NR_ZONE_LRU_BASE = NR_ZONE_INACTIVE_ANON), the last declared, as crash.
    if (e.value >= 0 && e.value < count) names[static_cast<size_t>(e.value)] = e.name;
  }
  return names;
}

// An atomic_long_t array of counters at `at`, named by an enum.
Result<StatBlock> ReadCounters(const Kernel& k, std::string title, uint64_t at, std::string_view enum_name,
                               std::string_view terminator) {
  CORONER_TRY(std::vector<std::string> names, EnumNames(k, enum_name, terminator));
  StatBlock b{std::move(title), {}};
  std::vector<std::byte> raw(names.size() * 8);
  CORONER_TRY_VOID(k.memory().Read(at, raw));
  for (size_t i = 0; i < names.size(); ++i) {
    int64_t v;
    std::memcpy(&v, raw.data() + 8 * i, 8);
    b.items.emplace_back(names[i], v);
  }
  return b;
}

Result<void> ReadVmStats(const Kernel& k, KmemResult& r) {
  CORONER_TRY(uint64_t zone_stat, k.SymbolAddress("vm_zone_stat"));
  CORONER_TRY(StatBlock zone, ReadCounters(k, "VM_ZONE_STAT", zone_stat, "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS"));
  r.stats.push_back(std::move(zone));
  CORONER_TRY(uint64_t node_stat, k.SymbolAddress("vm_node_stat"));
  CORONER_TRY(StatBlock node, ReadCounters(k, "VM_NODE_STAT", node_stat, "node_stat_item", "NR_VM_NODE_STAT_ITEMS"));
  r.stats.push_back(std::move(node));
  // vm_numa_stat until 5.13 (crash 8.0.2 shows only that one; 5.14+ counts NUMA events per CPU).
  if (auto numa = k.SymbolAddress("vm_numa_stat")) {
    CORONER_TRY(StatBlock b, ReadCounters(k, "VM_NUMA_STAT", *numa, "numa_stat_item", "NR_VM_NUMA_STAT_ITEMS"));
    r.stats.push_back(std::move(b));
  }
  // vm_event_states: per CPU, summed.
  CORONER_TRY(std::vector<std::string> events, EnumNames(k, "vm_event_item", "NR_VM_EVENT_ITEMS"));
  CORONER_TRY(uint64_t ev, k.SymbolAddress("vm_event_states"));
  CORONER_TRY(int cpus, k.PossibleCpus());
  StatBlock b{"VM_EVENT_STATES", {}};
  std::vector<uint64_t> sum(events.size());
  std::vector<std::byte> raw(events.size() * 8);
  for (int c = 0; c < cpus; ++c) {
    CORONER_TRY(uint64_t off, k.PerCpuOffset(c));
    CORONER_TRY_VOID(k.memory().Read(ev + off, raw));
    for (size_t i = 0; i < events.size(); ++i) {
      uint64_t v;
      std::memcpy(&v, raw.data() + 8 * i, 8);
      sum[i] += v;
    }
  }
  for (size_t i = 0; i < events.size(); ++i) b.items.emplace_back(events[i], static_cast<int64_t>(sum[i]));
  r.stats.push_back(std::move(b));
  return Ok();
}

Result<void> ReadZones(const Kernel& k, KmemResult& r) {
  CORONER_TRY(std::vector<uint64_t> nodes, NodePgdats(k));
  CORONER_TRY(Field zones, k.FieldOf("pglist_data", "node_zones"));
  CORONER_TRY(uint64_t zone_size, k.SizeOf("zone"));
  const Type& arr = k.types().Get(k.types().Resolve(zones.type));
  if (arr.kind != TypeKind::kArray || arr.count == 0 || arr.count > 16) {
    return Error(ErrorCode::kBadData, "pglist_data.node_zones is not an array of zones");
  }
  CORONER_TRY(std::string_view wm, k.FirstField("zone", {"_watermark", "watermark"}));
  CORONER_TRY(Field wmf, k.FieldOf("zone", wm));
  CORONER_TRY(Field vm_stat, k.FieldOf("zone", "vm_stat"));
  CORONER_TRY(int64_t wmin, k.EnumValue("WMARK_MIN"));
  CORONER_TRY(int64_t wlow, k.EnumValue("WMARK_LOW"));
  CORONER_TRY(int64_t whigh, k.EnumValue("WMARK_HIGH"));
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (uint64_t i = 0; i < arr.count; ++i) {
      ZoneStats z;
      z.node = static_cast<int>(n);
      z.index = static_cast<int>(i);
      z.zone = nodes[n] + zones.offset + i * zone_size;
      CORONER_TRY(uint64_t name, k.ReadField(z.zone, "zone", "name"));
      z.name = k.memory().ReadCString(name, 64).value_or("(unknown)");
      CORONER_TRY(z.spanned, k.ReadField(z.zone, "zone", "spanned_pages"));
      CORONER_TRY(z.present, k.ReadField(z.zone, "zone", "present_pages"));
      CORONER_TRY(z.min, k.ReadU64(z.zone + wmf.offset + 8 * static_cast<uint64_t>(wmin)));
      CORONER_TRY(z.low, k.ReadU64(z.zone + wmf.offset + 8 * static_cast<uint64_t>(wlow)));
      CORONER_TRY(z.high, k.ReadU64(z.zone + wmf.offset + 8 * static_cast<uint64_t>(whigh)));
      if (z.spanned) {
        CORONER_TRY(z.vm_stat, ReadCounters(k, "VM_STAT", z.zone + vm_stat.offset, "zone_stat_item",
                                            "NR_VM_ZONE_STAT_ITEMS"));
      }
      r.zones.push_back(std::move(z));
    }
  }
  return Ok();
}

Result<void> ReadFreeAreas(const Kernel& k, KmemResult& r) {
  CORONER_TRY(std::vector<uint64_t> nodes, NodePgdats(k));
  r.nodes = static_cast<int>(nodes.size());
  CORONER_TRY(Field zones, k.FieldOf("pglist_data", "node_zones"));
  CORONER_TRY(uint64_t zone_size, k.SizeOf("zone"));
  const Type& zarr = k.types().Get(k.types().Resolve(zones.type));
  CORONER_TRY(Field fa, k.FieldOf("zone", "free_area"));
  const Type& faarr = k.types().Get(k.types().Resolve(fa.type));
  CORONER_TRY(uint64_t fa_size, k.SizeOf("free_area"));
  CORONER_TRY(Field fl, k.FieldOf("free_area", "free_list"));
  const Type& flarr = k.types().Get(k.types().Resolve(fl.type));
  if (zarr.kind != TypeKind::kArray || faarr.kind != TypeKind::kArray || flarr.kind != TypeKind::kArray ||
      zarr.count > 16 || faarr.count > 16 || flarr.count > 16) {
    return Error(ErrorCode::kBadData, "pglist_data.node_zones, zone.free_area or free_area.free_list is not a small array");
  }
  CORONER_TRY(Field vm_stat, k.FieldOf("zone", "vm_stat"));
  CORONER_TRY(int64_t nr_free_idx, k.EnumValue("NR_FREE_PAGES"));
  CORONER_TRY(uint64_t vmemmap_sym, k.SymbolAddress("vmemmap_base"));
  CORONER_TRY(uint64_t vmemmap, k.ReadU64(vmemmap_sym));
  CORONER_TRY(uint64_t page_size, k.SizeOf("page"));
  // Free pages are on their free list by page.lru (6.x: page.buddy_list, the same place).
  CORONER_TRY(std::string_view link, k.FirstField("page", {"buddy_list", "lru"}));
  for (size_t n = 0; n < nodes.size(); ++n) {
    CORONER_TRY(uint64_t node_start, k.ReadField(nodes[n], "pglist_data", "node_start_pfn"));
    for (uint64_t i = 0; i < zarr.count; ++i) {
      uint64_t zone = nodes[n] + zones.offset + i * zone_size;
      ZoneFreeArea z;
      z.node = static_cast<int>(n);
      z.index = static_cast<int>(i);
      CORONER_TRY(uint64_t name, k.ReadField(zone, "zone", "name"));
      z.name = k.memory().ReadCString(name, 64).value_or("(unknown)");
      CORONER_TRY(z.spanned, k.ReadField(zone, "zone", "spanned_pages"));
      CORONER_TRY(z.free, k.ReadU64(zone + vm_stat.offset + 8 * static_cast<uint64_t>(nr_free_idx)));
      CORONER_TRY(z.start_pfn, k.ReadField(zone, "zone", "zone_start_pfn"));
      if (z.spanned) {
        z.mem_map = vmemmap + z.start_pfn * page_size;
        z.start_mapnr = z.start_pfn - node_start;
      }
      for (uint64_t order = 0; order < faarr.count; ++order) {
        for (uint64_t t = 0; t < flarr.count; ++t) {
          FreeList f;
          f.order = static_cast<int>(order);
          f.list = zone + fa.offset + order * fa_size + fl.offset + t * 16;
          if (z.spanned) {
            CORONER_TRY(std::vector<uint64_t> pages, k.ListEntries(f.list, "page", link));
            f.blocks = pages.size();
          }
          z.lists.push_back(f);
        }
      }
      r.free_areas.push_back(std::move(z));
    }
  }
  CORONER_TRY(int64_t total, VmStat(k, "vm_zone_stat", "NR_FREE_PAGES"));
  r.nr_free_pages = Positive(total);
  return Ok();
}

}  // namespace

Result<std::vector<uint64_t>> NodePgdats(const Kernel& k) {
  std::vector<uint64_t> nodes;
  if (auto nd = k.SymbolAddress("node_data")) {
    uint64_t nr = 1;
    if (auto n = k.SymbolAddress("nr_node_ids")) {
      if (auto v = k.ReadU32(*n); v && *v > 0 && *v <= 1024) nr = *v;
    }
    for (uint64_t i = 0; i < nr; ++i) {
      CORONER_TRY(uint64_t p, k.ReadU64(*nd + 8 * i));
      if (p) nodes.push_back(p);
    }
  } else if (auto c = k.SymbolAddress("contig_page_data")) {
    nodes.push_back(*c);
  } else {
    return Error(ErrorCode::kNotFound, "neither node_data nor contig_page_data is in the symbols");
  }
  return nodes;
}

Result<KmemResult> RunKmem(const Session& s, const std::vector<std::string>& args) {
  static const std::vector<std::string> kModes = {"-i", "-s", "-V", "-z", "-f"};
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    KmemResult r;
    r.mode = KmemResult::Mode::kAddress;
    r.panic_cpu = s.PanicCpu();
    CORONER_TRY(r.addresses, RunKmemAddresses(s, args));
    return r;
  }
  if (args.size() != 1 || std::find(kModes.begin(), kModes.end(), args[0]) == kModes.end()) {
    return Error(ErrorCode::kUnsupported, "kmem: -i, -s, -V, -z, -f (one at a time) or ADDRESS... are supported");
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  KmemResult r;
  if (args[0] == "-s") {
    r.mode = KmemResult::Mode::kSlabs;
    CORONER_TRY(r.caches, ReadSlabCaches(*k));
    return r;
  }
  if (args[0] == "-V") {
    r.mode = KmemResult::Mode::kVmStat;
    CORONER_TRY_VOID(ReadVmStats(*k, r));
    return r;
  }
  if (args[0] == "-f") {
    r.mode = KmemResult::Mode::kFree;
    CORONER_TRY_VOID(ReadFreeAreas(*k, r));
    return r;
  }
  if (args[0] == "-z") {
    r.mode = KmemResult::Mode::kZones;
    CORONER_TRY_VOID(ReadZones(*k, r));
    return r;
  }
  KmemInfo& m = r.info;
  auto note = [&](std::string_view row, const Error& e) { m.warnings.push_back(fmt::format("{}: {}", row, e.ToString())); };

  CORONER_TRY(uint64_t totalram_sym, k->SymbolAddress("_totalram_pages"));
  CORONER_TRY(m.total, k->ReadU64(totalram_sym));
  CORONER_TRY(int64_t free_pages, VmStat(*k, "vm_zone_stat", "NR_FREE_PAGES"));
  m.free = Positive(free_pages);
  if (auto v = SharedPages(*k)) m.shared = *v; else note("SHARED", v.error());
  if (auto v = BlockdevPages(*k)) m.buffers = *v; else note("BUFFERS", v.error());
  int64_t swapcache = 0;
  if (auto v = VmStat(*k, "vm_node_stat", "NR_SWAPCACHE")) {
    swapcache = *v;
  } else if (auto pages = SwapperSpacePages(*k)) {
    swapcache = static_cast<int64_t>(*pages);  // before 5.13: total_swapcache_pages()
  } else {
    note("CACHED (swap cache)", pages.error());
  }
  if (auto v = VmStat(*k, "vm_node_stat", "NR_FILE_PAGES")) {
    m.cached = Positive(*v - swapcache - static_cast<int64_t>(m.buffers));
  } else {
    note("CACHED", v.error());
  }
  auto slab = [&](std::string_view rec, std::string_view unrec) -> Result<int64_t> {
    CORONER_TRY(int64_t a, VmStat(*k, "vm_node_stat", rec));
    CORONER_TRY(int64_t b, VmStat(*k, "vm_node_stat", unrec));
    return a + b;
  };
  auto slab_pages = slab("NR_SLAB_RECLAIMABLE_B", "NR_SLAB_UNRECLAIMABLE_B");
  if (!slab_pages) slab_pages = slab("NR_SLAB_RECLAIMABLE", "NR_SLAB_UNRECLAIMABLE");
  if (slab_pages) m.slab = Positive(*slab_pages); else note("SLAB", slab_pages.error());

  // The default huge page size's pool.
  if (auto hs = k->SymbolAddress("hstates")) {
    uint64_t idx = 0;
    if (auto di = k->SymbolAddress("default_hstate_idx")) idx = k->ReadU32(*di).value_or(0);
    auto size = k->SizeOf("hstate");
    if (size) {
      uint64_t h = *hs + idx * *size;
      auto order = k->ReadField(h, "hstate", "order");
      auto nr = k->ReadField(h, "hstate", "nr_huge_pages");
      auto fr = k->ReadField(h, "hstate", "free_huge_pages");
      if (order && nr && fr && *order < 30) {
        m.huge_page_pages = uint64_t{1} << *order;
        m.huge_total = *nr * m.huge_page_pages;
        m.huge_free = *fr * m.huge_page_pages;
      }
    }
  }

  int64_t total_swap = 0;
  if (auto a = k->SymbolAddress("total_swap_pages")) total_swap = static_cast<int64_t>(k->ReadU64(*a).value_or(0));
  if (auto a = k->SymbolAddress("nr_swap_pages")) m.swap_free = Positive(static_cast<int64_t>(k->ReadU64(*a).value_or(0)));
  m.swap_total = Positive(total_swap);

  // vm_commit_limit().
  uint64_t kbytes = 0, ratio = 50;
  if (auto a = k->SymbolAddress("sysctl_overcommit_kbytes")) kbytes = k->ReadU64(*a).value_or(0);
  if (auto a = k->SymbolAddress("sysctl_overcommit_ratio")) ratio = k->ReadU32(*a).value_or(50);
  if (kbytes) {
    m.commit_limit = kbytes / (kPageSize / 1024) + m.swap_total;
  } else {
    m.commit_limit = (m.total - m.huge_total) * ratio / 100 + m.swap_total;
  }
  if (auto a = k->SymbolAddress("vm_committed_as")) {
    if (auto v = PercpuCounterSum(*k, *a)) m.committed = Positive(*v); else note("COMMITTED", v.error());
  }
  return r;
}

}  // namespace coroner
