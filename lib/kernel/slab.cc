#include "lib/kernel/slab.h"

#include <fmt/format.h>

#include <algorithm>

namespace coroner {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kMaxChain = 1 << 16;  // objects in one freelist or slabs in one chain

struct SlabLayout {
  std::string slab_type;        // "slab" (5.17+) or "page"
  std::string cpu_slab_member;  // kmem_cache_cpu.slab or .page
  bool hardened = false;        // kmem_cache.random exists
  bool sheaves = false;         // 7.x
  bool per_node_ptrs = false;   // kmem_cache.per_node[] (7.1+) instead of node[]
};

// 7.x: every CPU's main and spare sheaf (slub_percpu_sheaves) of a cache.
Result<std::vector<uint64_t>> CpuSheaves(const Kernel& k, uint64_t cache, int cpus) {
  std::vector<uint64_t> out;
  CORONER_TRY(uint64_t pcs, k.ReadField(cache, "kmem_cache", "cpu_sheaves"));
  for (int cpu = 0; cpu < cpus && pcs; ++cpu) {
    CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
    for (std::string_view which : {"main", "spare"}) {
      CORONER_TRY(uint64_t sheaf, k.ReadField(pcs + off, "slub_percpu_sheaves", which));
      if (sheaf) out.push_back(sheaf);
    }
  }
  return out;
}

// Objects not in use in one slab: objects - inuse.
Result<uint64_t> SlabFree(const Kernel& k, const SlabLayout& l, uint64_t slab) {
  CORONER_TRY(uint64_t objects, k.ReadField(slab, l.slab_type, "objects"));
  CORONER_TRY(uint64_t inuse, k.ReadField(slab, l.slab_type, "inuse"));
  return objects > inuse ? objects - inuse : 0;
}

Result<void> FreelistObjects(const Kernel& k, const SlabLayout& l, uint64_t head, uint64_t offset, uint64_t random,
                             std::vector<uint64_t>& out);

// The length of a lockless freelist.
Result<uint64_t> FreelistLength(const Kernel& k, const SlabLayout& l, uint64_t head, uint64_t offset,
                                uint64_t random) {
  std::vector<uint64_t> objects;
  CORONER_TRY_VOID(FreelistObjects(k, l, head, offset, random, objects));
  return objects.size();
}

Result<void> CountCache(const Kernel& k, const SlabLayout& l, SlabCacheInfo& c, int nodes, int cpus) {
  CORONER_TRY(Field node_arr, k.FieldOf("kmem_cache", l.per_node_ptrs ? "per_node" : "node"));
  uint64_t stride = 8;
  uint64_t node_in_entry = 0, barn_in_entry = 0;
  if (l.per_node_ptrs) {
    CORONER_TRY(stride, k.SizeOf("kmem_cache_per_node_ptrs"));
    CORONER_TRY(Field nf, k.FieldOf("kmem_cache_per_node_ptrs", "node"));
    CORONER_TRY(Field bf, k.FieldOf("kmem_cache_per_node_ptrs", "barn"));
    node_in_entry = nf.offset;
    barn_in_entry = bf.offset;
  }
  for (int n = 0; n < nodes; ++n) {
    uint64_t entry = c.cache + node_arr.offset + stride * static_cast<uint64_t>(n);
    CORONER_TRY(uint64_t node, k.ReadU64(entry + node_in_entry));
    if (!node) continue;
    CORONER_TRY(uint64_t nr_slabs, k.ReadField(node, "kmem_cache_node", "nr_slabs"));
    CORONER_TRY(uint64_t total, k.ReadField(node, "kmem_cache_node", "total_objects"));
    c.slabs += nr_slabs;
    c.total += total;
    CORONER_TRY(uint64_t head, k.FieldAddress(node, "kmem_cache_node", "partial"));
    CORONER_TRY(auto partial, k.ListEntries(head, l.slab_type, "slab_list", kMaxChain));
    for (uint64_t s : partial) {
      CORONER_TRY(uint64_t f, SlabFree(k, l, s));
      c.free += f;
    }
    if (l.sheaves) {
      CORONER_TRY(uint64_t barn, k.ReadU64(entry + barn_in_entry));
      if (barn) {
        CORONER_TRY(uint64_t full, k.FieldAddress(barn, "node_barn", "sheaves_full"));
        CORONER_TRY(auto sheaves, k.ListEntries(full, "slab_sheaf", "barn_list", kMaxChain));
        for (uint64_t sh : sheaves) {
          CORONER_TRY(uint64_t size, k.ReadField(sh, "slab_sheaf", "size"));
          c.free += size;
        }
      }
    }
  }
  if (l.sheaves) {
    CORONER_TRY(std::vector<uint64_t> sheaves, CpuSheaves(k, c.cache, cpus));
    for (uint64_t sheaf : sheaves) {
      CORONER_TRY(uint64_t size, k.ReadField(sheaf, "slab_sheaf", "size"));
      c.free += size;
    }
    return Ok();
  }
  CORONER_TRY(uint64_t cpu_slab, k.ReadField(c.cache, "kmem_cache", "cpu_slab"));
  CORONER_TRY(uint64_t offset, k.ReadField(c.cache, "kmem_cache", "offset"));
  uint64_t random = 0;
  if (l.hardened) CORONER_TRY_VOID([&]() -> Result<void> {
    CORONER_TRY(random, k.ReadField(c.cache, "kmem_cache", "random"));
    return Ok();
  }());
  bool cpu_partial = k.HasField("kmem_cache_cpu", "partial");
  for (int cpu = 0; cpu < cpus && cpu_slab; ++cpu) {
    CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
    uint64_t kcc = cpu_slab + off;
    CORONER_TRY(uint64_t slab, k.ReadField(kcc, "kmem_cache_cpu", l.cpu_slab_member));
    if (slab) {
      CORONER_TRY(uint64_t f, SlabFree(k, l, slab));
      CORONER_TRY(uint64_t freelist, k.ReadField(kcc, "kmem_cache_cpu", "freelist"));
      CORONER_TRY(uint64_t chain, FreelistLength(k, l, freelist, offset, random));
      c.free += f + chain;
    }
    if (!cpu_partial) continue;
    CORONER_TRY(uint64_t p, k.ReadField(kcc, "kmem_cache_cpu", "partial"));
    for (uint64_t n = 0; p; ++n) {
      if (n > kMaxChain) return Error(ErrorCode::kRecursion, fmt::format("CPU {} partial slabs do not end", cpu));
      CORONER_TRY(uint64_t f, SlabFree(k, l, p));
      c.free += f;
      CORONER_TRY(p, k.ReadField(p, l.slab_type, "next"));
    }
  }
  return Ok();
}

SlabLayout ReadLayout(const Kernel& k) {
  SlabLayout l;
  l.slab_type = k.StructType("slab") && k.HasField("slab", "slab_list") ? "slab" : "page";
  l.sheaves = k.HasField("kmem_cache", "cpu_sheaves") && !k.HasField("kmem_cache", "cpu_slab");
  if (!l.sheaves) {
    if (auto m = k.FirstField("kmem_cache_cpu", {"slab", "page"})) l.cpu_slab_member = *m;
  }
  l.hardened = k.HasField("kmem_cache", "random");
  l.per_node_ptrs = k.HasField("kmem_cache", "per_node");
  return l;
}

// The objects of a lockless freelist: each free object holds the next one at `offset`
// (obfuscated with CONFIG_SLAB_FREELIST_HARDENED).
Result<void> FreelistObjects(const Kernel& k, const SlabLayout& l, uint64_t head, uint64_t offset, uint64_t random,
                             std::vector<uint64_t>& out) {
  uint64_t n = 0;
  for (uint64_t obj = head; obj; ++n) {
    if (n > kMaxChain) return Error(ErrorCode::kRecursion, fmt::format("freelist at {:#x} does not end", head));
    if (!IsKernelAddress(obj)) {
      return Error(ErrorCode::kBadData, fmt::format("freelist at {:#x}: {:#x} is not a kernel address", head, obj));
    }
    out.push_back(obj);
    uint64_t slot = obj + offset;
    CORONER_TRY(uint64_t raw, k.ReadU64(slot));
    obj = l.hardened ? raw ^ random ^ __builtin_bswap64(slot) : raw;
  }
  return Ok();
}

}  // namespace

Result<std::optional<SlabObject>> FindSlabObject(const Kernel& k, const std::vector<SlabCacheInfo>& caches,
                                                 uint64_t head_page, uint64_t memory, uint64_t address) {
  SlabLayout l = ReadLayout(k);
  CORONER_TRY(uint64_t cache, k.ReadField(head_page, l.slab_type, "slab_cache"));
  const SlabCacheInfo* c = nullptr;
  for (const SlabCacheInfo& ci : caches) {
    if (ci.cache == cache) c = &ci;
  }
  if (!c) return std::optional<SlabObject>();
  SlabObject o;
  o.cache = cache;
  o.slab = head_page;
  o.memory = memory;
  CORONER_TRY(o.objects, k.ReadField(head_page, l.slab_type, "objects"));
  CORONER_TRY(uint64_t offset, k.ReadField(cache, "kmem_cache", "offset"));
  uint64_t random = 0;
  if (l.hardened) {
    CORONER_TRY(random, k.ReadField(cache, "kmem_cache", "random"));
  }
  std::vector<uint64_t> free;
  CORONER_TRY(uint64_t freelist, k.ReadField(head_page, l.slab_type, "freelist"));
  CORONER_TRY_VOID(FreelistObjects(k, l, freelist, offset, random, free));
  CORONER_TRY(int cpus, k.PossibleCpus());
  if (l.sheaves) {
    CORONER_TRY(Field objs, k.FieldOf("slab_sheaf", "objects"));
    CORONER_TRY(std::vector<uint64_t> sheaves, CpuSheaves(k, cache, cpus));
    for (uint64_t sheaf : sheaves) {
      CORONER_TRY(uint64_t size, k.ReadField(sheaf, "slab_sheaf", "size"));
      for (uint64_t i = 0; i < size && i < kMaxChain; ++i) {
        CORONER_TRY(uint64_t obj, k.ReadU64(sheaf + objs.offset + 8 * i));
        if (obj >= memory && obj < memory + o.objects * c->size) free.push_back(obj);
      }
    }
    o.note = "objects held in the nodes' barns are not searched";
  } else {
    CORONER_TRY(uint64_t cpu_slab, k.ReadField(cache, "kmem_cache", "cpu_slab"));
    for (int cpu = 0; cpu < cpus && cpu_slab; ++cpu) {
      CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
      CORONER_TRY(uint64_t slab, k.ReadField(cpu_slab + off, "kmem_cache_cpu", l.cpu_slab_member));
      if (slab != head_page) continue;
      CORONER_TRY(uint64_t f, k.ReadField(cpu_slab + off, "kmem_cache_cpu", "freelist"));
      CORONER_TRY_VOID(FreelistObjects(k, l, f, offset, random, free));
    }
  }
  o.free = free.size();
  if (c->size && address >= memory && (address - memory) / c->size < o.objects) {
    o.object = memory + (address - memory) / c->size * c->size;
    o.object_free = std::find(free.begin(), free.end(), o.object) != free.end();
  }
  return std::optional<SlabObject>(o);
}

Result<std::vector<SlabCacheInfo>> ReadSlabCaches(const Kernel& k) {
  SlabLayout l = ReadLayout(k);
  if (!l.sheaves && l.cpu_slab_member.empty()) {
    return Error(ErrorCode::kNotFound, "kmem_cache_cpu has neither slab nor page");
  }
  int nodes = 1;
  if (auto n = k.SymbolAddress("nr_node_ids")) {
    if (auto v = k.ReadU32(*n); v && *v > 0 && *v <= 1024) nodes = static_cast<int>(*v);
  }
  CORONER_TRY(int cpus, k.PossibleCpus());

  CORONER_TRY(uint64_t head, k.SymbolAddress("slab_caches"));
  CORONER_TRY(auto caches, k.ListEntries(head, "kmem_cache", "list", 1 << 16));
  std::vector<SlabCacheInfo> out;
  for (uint64_t cache : caches) {
    SlabCacheInfo c;
    c.cache = cache;
    CORONER_TRY(uint64_t name, k.ReadField(cache, "kmem_cache", "name"));
    c.name = k.memory().ReadCString(name, 64).value_or("(unreadable name)");
    CORONER_TRY(c.object_size, k.ReadField(cache, "kmem_cache", "object_size"));
    CORONER_TRY(c.size, k.ReadField(cache, "kmem_cache", "size"));
    CORONER_TRY(uint64_t oo, k.ReadField(cache, "kmem_cache", "oo.x"));
    c.objects_per_slab = oo & 0xffff;
    c.slab_size = kPageSize << (oo >> 16);
    auto counted = CountCache(k, l, c, nodes, cpus);
    if (!counted) c.error = counted.error().ToString();
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace coroner
