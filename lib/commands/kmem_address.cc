#include "lib/commands/kmem_address.h"

#include <fmt/format.h>

#include "lib/commands/kmem.h"
#include "lib/commands/memory_commands.h"
#include "lib/kernel/containers.h"

namespace coroner {
namespace {

constexpr uint64_t kThreadSize = 16384;  // x86_64 THREAD_SIZE (KASAN kernels aside)

// The page flag names, by bit (enum pageflags below __NR_PAGEFLAGS; of aliases the first).
Result<std::vector<std::string>> PageFlagNames(const Kernel& k) {
  auto id = k.types().Find("enum pageflags");
  if (!id) return Error(ErrorCode::kNotFound, "the kernel's types have no enum pageflags");
  const Type& t = k.types().Get(*id);
  int64_t nr = 0;
  for (const TypeEnumerator& e : t.enumerators) {
    if (e.name == "__NR_PAGEFLAGS") nr = e.value;
  }
  std::vector<std::string> names(static_cast<size_t>(std::clamp<int64_t>(nr, 0, 64)));
  for (const TypeEnumerator& e : t.enumerators) {
    if (e.value >= 0 && e.value < nr && names[static_cast<size_t>(e.value)].empty() && e.name.rfind("PG_", 0) == 0) {
      names[static_cast<size_t>(e.value)] = e.name.substr(3);
    }
  }
  return names;
}

Result<PageLine> ReadPageLine(const Kernel& k, uint64_t vmemmap, uint64_t page_size, uint64_t phys,
                              const std::vector<std::string>& flag_names) {
  PageLine p;
  p.phys = phys & ~0xfffull;
  p.page = vmemmap + (phys >> 12) * page_size;
  CORONER_TRY(p.flags, k.ReadField(p.page, "page", "flags"));
  CORONER_TRY(p.mapping, k.ReadField(p.page, "page", "mapping"));
  CORONER_TRY(std::string_view index, k.FirstField("page", {"index", "__folio_index"}));  // 7.x renamed it
  CORONER_TRY(p.index, k.ReadField(p.page, "page", index));
  CORONER_TRY(uint64_t count, k.ReadField(p.page, "page", "_refcount"));
  p.count = static_cast<int32_t>(count);
  for (size_t b = 0; b < flag_names.size(); ++b) {
    if (((p.flags >> b) & 1) && !flag_names[b].empty()) p.names += (p.names.empty() ? "" : ",") + flag_names[b];
  }
  return p;
}

// The vmalloc areas: vmap_area_list (up to 6.8), or each vmap_nodes[i].busy.root tree (6.9+).
Result<std::vector<uint64_t>> VmapAreas(const Kernel& k) {
  if (auto head = k.SymbolAddress("vmap_area_list")) return k.ListEntries(*head, "vmap_area", "list");
  CORONER_TRY(uint64_t nodes_sym, k.SymbolAddress("vmap_nodes"));
  CORONER_TRY(uint64_t nodes, k.ReadU64(nodes_sym));
  uint64_t nr = 1;
  if (auto a = k.SymbolAddress("nr_vmap_nodes")) nr = k.ReadU32(*a).value_or(1);
  CORONER_TRY(uint64_t node_size, k.SizeOf("vmap_node"));
  CORONER_TRY(Field root, k.FieldOf("vmap_node", "busy.root"));
  CORONER_TRY(Field rb, k.FieldOf("vmap_area", "rb_node"));
  std::vector<uint64_t> out;
  for (uint64_t i = 0; i < nr && i < 4096; ++i) {
    CORONER_TRY(auto n, RbTreeNodes(k, nodes + i * node_size + root.offset));
    for (uint64_t node : n) out.push_back(node - rb.offset);
  }
  return out;
}

}  // namespace

Result<PageLine> PageLineOf(const Session& s, uint64_t phys) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(uint64_t vmemmap_sym, k->SymbolAddress("vmemmap_base"));
  CORONER_TRY(uint64_t vmemmap, k->ReadU64(vmemmap_sym));
  CORONER_TRY(uint64_t page_size, k->SizeOf("page"));
  CORONER_TRY(std::vector<std::string> flag_names, PageFlagNames(*k));
  return ReadPageLine(*k, vmemmap, page_size, phys, flag_names);
}

Result<std::vector<KmemAddress>> RunKmemAddresses(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  CORONER_TRY(const TaskList* tl, s.Tasks());
  CORONER_TRY(uint64_t page_offset, s.PageOffsetBase());
  CORONER_TRY(uint64_t vmemmap_sym, k->SymbolAddress("vmemmap_base"));
  CORONER_TRY(uint64_t vmemmap, k->ReadU64(vmemmap_sym));
  CORONER_TRY(uint64_t page_size, k->SizeOf("page"));
  CORONER_TRY(std::vector<std::string> flag_names, PageFlagNames(*k));
  // The task_struct's real size: arch_task_struct_size (its FPU state is sized at boot).
  CORONER_TRY(uint64_t task_size, k->SizeOf("task_struct"));
  if (auto a = k->SymbolAddress("arch_task_struct_size")) {
    if (auto v = k->ReadU32(*a); v && *v > 0 && *v <= task_size * 4) task_size = *v;
  }
  CORONER_TRY(uint64_t max_pfn_sym, k->SymbolAddress("max_pfn"));
  CORONER_TRY(uint64_t max_pfn, k->ReadU64(max_pfn_sym));
  std::optional<std::vector<SlabCacheInfo>> caches;
  std::optional<std::vector<uint64_t>> vmaps;
  size_t idle_tasks = 0;
  for (const TaskInfo& t : tl->tasks) idle_tasks += t.pid == 0;
  std::vector<KmemAddress> out;
  for (const std::string& a : args) {
    KmemAddress r;
    r.idle_tasks = idle_tasks;
    CORONER_TRY(r.address, ParseHexArg(a));
    const uint64_t addr = r.address;
    // A kernel-image symbol.
    if (addr >= KernelMemory::kStartKernelMap && addr < KernelMemory::kKernelImageLimit) {
      if (auto m = syms->LookupAddress(addr); m && !m->symbol->percpu) {
        r.symbol = m->offset ? fmt::format("{}+{}", m->symbol->name, m->offset) : std::string(m->symbol->name);
        r.symbol_type = m->symbol->type;
      }
    }
    // The task whose task_struct or kernel stack it is in.
    for (const TaskInfo& t : tl->tasks) {
      if (addr >= t.task && addr < t.task + task_size) {
        r.task = t;
        break;
      }
      if (auto stack = k->ReadField(t.task, "task_struct", "stack"); stack && addr >= *stack && addr < *stack + kThreadSize) {
        r.task = t;
        break;
      }
    }
    auto phys = km->ToPhys(addr);
    if (!phys) {
      r.error = phys.error().ToString();
      out.push_back(std::move(r));
      continue;
    }
    // A vmalloc area (neither the direct map nor the kernel image).
    bool direct = addr >= page_offset && addr < page_offset + max_pfn * 4096;
    bool image = addr >= KernelMemory::kStartKernelMap;
    if (!direct && !image) {
      if (!vmaps) {
        CORONER_TRY(vmaps, VmapAreas(*k));
      }
      for (uint64_t va : *vmaps) {
        CORONER_TRY(uint64_t start, k->ReadField(va, "vmap_area", "va_start"));
        CORONER_TRY(uint64_t end, k->ReadField(va, "vmap_area", "va_end"));
        if (addr < start || addr >= end) continue;
        KmemAddress::Vmap v{va, 0, start, end};
        CORONER_TRY(v.vm, k->ReadField(va, "vmap_area", "vm"));
        r.vmap = v;
        break;
      }
    }
    CORONER_TRY(PageLine pl, ReadPageLine(*k, vmemmap, page_size, phys->value, flag_names));
    // A slab object: the compound head's slab_cache is one of the caches.
    if (direct) {
      // A tail page points at its head with bit 0 set (compound_head). 7.x's compound_info holds
      // either that or, bit 0 set, a mask that aligns the tail's struct page down to its head's.
      CORONER_TRY(std::string_view link, k->FirstField("page", {"compound_head", "compound_info"}));
      CORONER_TRY(uint64_t compound, k->ReadField(pl.page, "page", link));
      uint64_t head = pl.page;
      if (compound & 1) head = compound - 1 >= 0xffffffffff000000ull ? pl.page & (compound - 1) : compound - 1;
      if (head < vmemmap || head > pl.page || (pl.page - head) / page_size >= 1024) head = pl.page;
      {
        if (!caches) {
          CORONER_TRY(caches, ReadSlabCaches(*k));
        }
        uint64_t memory = page_offset + (head - vmemmap) / page_size * 4096;
        CORONER_TRY(std::optional<SlabObject> so, FindSlabObject(*k, *caches, head, memory, addr));
        if (so) {
          for (const SlabCacheInfo& c : *caches) {
            if (c.cache == so->cache) r.cache = c;
          }
          r.slab = so->slab;
          r.slab_memory = so->memory;
          r.object = so->object;
          r.object_free = so->object_free;
          r.slab_total = so->objects;
          r.slab_free = so->free;
          r.slab_note = so->note;
          CORONER_TRY(auto nodes, NodePgdats(*k));
          uint64_t pfn = (memory - page_offset) >> 12;
          for (size_t n = 0; n < nodes.size(); ++n) {
            auto start = k->ReadField(nodes[n], "pglist_data", "node_start_pfn");
            auto span = k->ReadField(nodes[n], "pglist_data", "node_spanned_pages");
            if (start && span && pfn >= *start && pfn < *start + *span) r.node = static_cast<int>(n);
          }
        }
      }
    }
    r.page = pl;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace coroner
