#include "lib/collect/page_filter.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace coroner {
namespace {

constexpr uint64_t kPageMappingAnon = 1;  // include/linux/page-flags.h PAGE_MAPPING_ANON
constexpr uint64_t kMemMapBatch = 512;    // struct pages read at once (aligned: see Apply)
constexpr uint64_t kSectionHasMemMap = 2; // include/linux/mmzone.h SECTION_HAS_MEM_MAP
// The mem_map pointer's low bits hold section flags (SECTION_MAP_LAST_BIT is at most 1 << 6 up
// to Linux 7.2); the pointer itself is struct-page aligned (64 bytes).
constexpr uint64_t kSectionMapMask = ~uint64_t{0x3f};

uint64_t Le64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t Le32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

bool TestBit(uint64_t flags, const std::optional<int64_t>& bit) {
  return bit && *bit >= 0 && *bit < 64 && ((flags >> *bit) & 1);
}

}  // namespace

std::string_view PageVerdictName(PageVerdict v) {
  switch (v) {
    case PageVerdict::kCache: return "cache";
    case PageVerdict::kCachePrivate: return "cache private";
    case PageVerdict::kUser: return "user";
    case PageVerdict::kFree: return "free";
    case PageVerdict::kHwpoison: return "hwpoison";
    case PageVerdict::kOffline: return "offline";
    case PageVerdict::kKept: return "kept";
    case PageVerdict::kSlab: return "slab";
    case PageVerdict::kTyped: return "typed";
    case PageVerdict::kTail: return "tail";
    case PageVerdict::kKernelImage: return "kernel image";
    case PageVerdict::kNoStructPage: return "no struct page";
  }
  return "?";
}

uint64_t PageFilterStats::Excluded() const {
  uint64_t n = 0;
  for (size_t i = 0; i < kPageVerdictCount; ++i) {
    if (IsExcluded(static_cast<PageVerdict>(i))) n += pages[i];
  }
  return n;
}

Result<PageFilter> PageFilter::Create(const PhysicalMemory& mem, const Vmcoreinfo& vi,
                                      const KernelMemory& km, const SymbolTable* symbols) {
  PageFilter f(mem, km);
  f.page_size_ = mem.page_size();
  auto need_off = [&](std::string_view member) -> Result<uint64_t> {
    auto o = vi.Offset("page", member);
    if (!o) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("VMCOREINFO has no OFFSET(page.{}): cannot filter pages", member));
    }
    return *o;
  };
  auto size = vi.Size("page");
  if (!size || *size < 48 || *size > 256) {
    return Error(ErrorCode::kNotFound, "VMCOREINFO has no usable SIZE(page): cannot filter pages");
  }
  f.size_page_ = *size;
  CORONER_TRY(f.off_flags_, need_off("flags"));
  CORONER_TRY(f.off_mapping_, need_off("mapping"));
  CORONER_TRY(f.off_mapcount_, need_off("_mapcount"));
  CORONER_TRY(f.off_private_, need_off("private"));
  // 7.2 renamed compound_head to compound_info; bit 0 still marks a tail page.
  f.off_compound_head_ = vi.Offset("page", "compound_head");
  if (!f.off_compound_head_) f.off_compound_head_ = vi.Offset("page", "compound_info");
  f.off_compound_order_ = vi.Offset("page", "compound_order");
  f.off_compound_dtor_ = vi.Offset("page", "compound_dtor");
  for (uint64_t* o : {&f.off_flags_, &f.off_mapping_, &f.off_mapcount_, &f.off_private_}) {
    if (*o + 8 > f.size_page_) return Error(ErrorCode::kBadData, "a struct page offset is past SIZE(page)");
  }
  f.pg_lru_ = vi.Number("PG_lru");
  f.pg_private_ = vi.Number("PG_private");
  f.pg_swapcache_ = vi.Number("PG_swapcache");
  f.pg_swapbacked_ = vi.Number("PG_swapbacked");
  f.pg_slab_ = vi.Number("PG_slab");
  f.pg_hwpoison_ = vi.Number("PG_hwpoison");
  f.pg_hugetlb_ = vi.Number("PG_hugetlb");
  if (auto m = vi.Number("PG_head_mask")) f.pg_head_mask_ = static_cast<uint64_t>(*m);
  f.buddy_value_ = vi.Number("PAGE_BUDDY_MAPCOUNT_VALUE");
  f.offline_value_ = vi.Number("PAGE_OFFLINE_MAPCOUNT_VALUE");
  f.slab_value_ = vi.Number("PAGE_SLAB_MAPCOUNT_VALUE");
  f.hugetlb_value_ = vi.Number("PAGE_HUGETLB_MAPCOUNT_VALUE");
  f.hugetlb_dtor_ = vi.Number("HUGETLB_PAGE_DTOR");
  f.max_order_ = vi.Length("zone.free_area");
  // Linux 6.10 moved page types to the top byte of page_type (PGTY_*), the low 24 bits free for
  // the type's own use; before, each type was one cleared bit, compared whole.
  if (f.buddy_value_) f.page_type_top_byte_ = (static_cast<uint32_t>(*f.buddy_value_) & 0xffffff) == 0;
  if (!f.pg_lru_ || !f.buddy_value_) {
    return Error(ErrorCode::kNotFound,
                 "VMCOREINFO has no NUMBER(PG_lru) or NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE): cannot filter pages");
  }

  // mem_section (SPARSEMEM_EXTREME): LENGTH(mem_section) roots, each a page of struct
  // mem_section {section_mem_map, ...}; section_mem_map = mem_map - section_start_pfn, plus flags.
  auto ms = vi.Symbol("mem_section");
  auto bits = vi.Number("SECTION_SIZE_BITS");
  auto ms_size = vi.Size("mem_section");
  auto roots = vi.Length("mem_section");
  uint64_t smm_off = vi.Offset("mem_section", "section_mem_map").value_or(0);
  uint64_t page_shift = static_cast<uint64_t>(std::countr_zero(f.page_size_));
  if (!ms || !bits || !ms_size || !roots || *ms_size == 0 || *bits <= static_cast<int64_t>(page_shift) ||
      *bits > 40 || *roots > (1u << 20)) {
    return Error(ErrorCode::kNotFound,
                 "VMCOREINFO lacks SYMBOL/SIZE/LENGTH(mem_section) or SECTION_SIZE_BITS: cannot find struct pages");
  }
  f.section_shift_ = static_cast<uint64_t>(*bits) - page_shift;
  // The root table itself, and each node's pglist_data: crash reads them at start-up.
  for (uint64_t off = 0; off < *roots * 8; off += f.page_size_) {
    if (auto pa = km.ToPhys(*ms + off)) f.memmap_meta_.push_back(pa->value / f.page_size_);
  }
  if (auto nd = vi.Symbol("node_data"); nd) {
    const uint64_t pgdat_size = vi.Size("pglist_data").value_or(0);
    const uint64_t nodes = std::min<uint64_t>(vi.Length("node_data").value_or(1), 64);
    for (uint64_t n = 0; n < nodes && pgdat_size && pgdat_size < (16u << 20); ++n) {
      auto pgdat = km.ReadU64(*nd + n * 8);
      if (!pgdat || !*pgdat) continue;
      for (uint64_t off = 0; off < pgdat_size + f.page_size_; off += f.page_size_) {
        if (auto pa = km.ToPhys(*pgdat + off)) f.memmap_meta_.push_back(pa->value / f.page_size_);
      }
    }
  }
  const uint64_t per_root = f.page_size_ / *ms_size;
  const uint64_t sections_needed = (mem.pfn_limit() >> f.section_shift_) + 1;
  f.section_mem_map_.assign(sections_needed, 0);
  std::vector<std::byte> root_page(per_root * *ms_size);
  for (uint64_t r = 0; r < *roots && r * per_root < sections_needed; ++r) {
    auto root = km.ReadU64(*ms + r * 8);
    if (!root || *root == 0) continue;
    if (auto pa = km.ToPhys(*root)) f.memmap_meta_.push_back(pa->value / f.page_size_);
    if (!km.Read(*root, root_page)) continue;
    for (uint64_t i = 0; i < per_root && r * per_root + i < sections_needed; ++i) {
      uint64_t smm = Le64(root_page.data() + i * *ms_size + smm_off);
      if (!(smm & kSectionHasMemMap)) continue;
      f.section_mem_map_[r * per_root + i] = smm & kSectionMapMask;
    }
  }
  if (symbols) f.FindPercpu(*symbols);
  f.FindPageTables();
  if (symbols && !f.FindKernelImage(*symbols)) {
    // Without it the filter still keeps every kernel page by its struct page.
    f.kernel_image_.clear();
    f.kernel_sections_.clear();
  }
  f.zone_free_pages_ = f.ZoneFreePages(vi);
  return f;
}

std::optional<uint64_t> PageFilter::StructPageAddr(uint64_t pfn) const {
  uint64_t s = pfn >> section_shift_;
  if (s >= section_mem_map_.size() || section_mem_map_[s] == 0) return std::nullopt;
  return section_mem_map_[s] + pfn * size_page_;
}

namespace {
constexpr std::pair<const char*, const char*> kSections[] = {
    {"_sdata", "_edata"}, {"__bss_start", "__bss_stop"}, {"__start_rodata", "__end_rodata"}, {"_stext", "_etext"}};
constexpr const char* kOtherSymbols[] = {"__start_bss_decrypted_unused", "__end_bss_decrypted", "__per_cpu_offset",
                                         "pcpu_unit_size", "nr_cpu_ids"};
}  // namespace

std::vector<std::string_view> PageFilter::SymbolsUsed() {
  std::vector<std::string_view> out;
  for (auto [from, to] : kSections) {
    out.emplace_back(from);
    out.emplace_back(to);
  }
  for (const char* s : kOtherSymbols) out.emplace_back(s);
  return out;
}

// The kernel image's sections, in physical pages (x86_64: pa = va - __START_KERNEL_map +
// phys_base).
Result<void> PageFilter::FindKernelImage(const SymbolTable& symbols) {
  for (auto [from, to] : kSections) {
    auto a = symbols.AddressOf(from);
    auto b = symbols.AddressOf(to);
    if (!a || !b || *b <= *a || *a < KernelMemory::kStartKernelMap || *b - *a > (1ull << 30)) {
      return Error(ErrorCode::kNotFound, fmt::format("kernel image section {}..{} not found", from, to));
    }
    const uint64_t pa = *a - KernelMemory::kStartKernelMap + km_->phys_base();
    const uint64_t pe = *b - KernelMemory::kStartKernelMap + km_->phys_base();
    const PfnRange r{pa / page_size_, (pe + page_size_ - 1) / page_size_ - pa / page_size_};
    kernel_image_.push_back(r);
    kernel_sections_.push_back({from, r});
  }
  std::sort(kernel_image_.begin(), kernel_image_.end(),
            [](const PfnRange& x, const PfnRange& y) { return x.start < y.start; });
  // The unused part of .bss..decrypted is freed at boot (mem_encrypt_free_decrypted_mem).
  auto ua = symbols.AddressOf("__start_bss_decrypted_unused");
  auto ub = symbols.AddressOf("__end_bss_decrypted");
  if (ua && ub && *ua < *ub && *ua >= KernelMemory::kStartKernelMap) {
    const uint64_t fa = (*ua - KernelMemory::kStartKernelMap + km_->phys_base() + page_size_ - 1) / page_size_;
    const uint64_t fb = (*ub - KernelMemory::kStartKernelMap + km_->phys_base()) / page_size_;
    std::vector<PfnRange> cut;
    for (const PfnRange& r : kernel_image_) {
      const uint64_t e = r.start + r.count;
      if (e <= fa || r.start >= fb) {
        cut.push_back(r);
        continue;
      }
      if (r.start < fa) cut.push_back({r.start, fa - r.start});
      if (e > fb) cut.push_back({fb, e - fb});
    }
    kernel_image_ = std::move(cut);
  }
  return Ok();
}

void PageFilter::FindPageTables() {
  const int levels = km_->five_level() ? 5 : 4;
  std::vector<std::byte> table(4096);
  constexpr size_t kMaxTables = 1u << 20;
  // (table pfn, level: levels = top ... 1 = PTE table)
  std::vector<std::pair<uint64_t, int>> todo{{km_->pgd().value / 4096, levels}};
  while (!todo.empty() && page_tables_.size() < kMaxTables) {
    auto [pfn, level] = todo.back();
    todo.pop_back();
    page_tables_.push_back(pfn);
    if (level == 1) continue;
    if (!mem_->Read(PhysAddr{pfn * 4096}, table)) continue;
    for (size_t i = level == levels ? 256 : 0; i < 512; ++i) {
      const uint64_t e = Le64(table.data() + i * 8);
      if (!(e & X86_64Paging::kPresent)) continue;
      if (level <= 3 && (e & X86_64Paging::kHuge)) continue;  // 1 GiB / 2 MiB page
      todo.emplace_back((e & X86_64Paging::kAddrMask) / 4096, level - 1);
    }
  }
  std::sort(page_tables_.begin(), page_tables_.end());
  page_tables_.erase(std::unique(page_tables_.begin(), page_tables_.end()), page_tables_.end());
}

void PageFilter::FindPercpu(const SymbolTable& symbols) {
  auto offsets = symbols.AddressOf("__per_cpu_offset");
  auto unit = symbols.AddressOf("pcpu_unit_size");
  auto ncpu = symbols.AddressOf("nr_cpu_ids");
  if (!offsets || !unit || !ncpu) return;
  auto unit_size = km_->ReadU32(*unit);
  auto n = km_->ReadU32(*ncpu);
  if (!unit_size || !n || *n == 0 || *n > 8192 || *unit_size == 0 || *unit_size > (64u << 20)) return;
  for (uint32_t cpu = 0; cpu < *n; ++cpu) {
    auto base = km_->ReadU64(*offsets + cpu * 8);
    if (!base) continue;
    for (uint64_t off = 0; off < *unit_size; off += page_size_) {
      auto pa = km_->ToPhys(*base + off);
      if (!pa) continue;
      const uint64_t pfn = pa->value / page_size_;
      if (!percpu_.empty() && percpu_.back().start + percpu_.back().count == pfn) {
        ++percpu_.back().count;
      } else {
        percpu_.push_back({pfn, 1});
      }
    }
  }
}

// Sum of NR_FREE_PAGES over every zone of every online node (node_data[], node_online_map).
std::optional<uint64_t> PageFilter::ZoneFreePages(const Vmcoreinfo& vi) const {
  auto node_data = vi.Symbol("node_data");
  auto online = vi.Symbol("node_online_map");
  auto nodes = vi.Length("node_data");
  auto nr_zones_off = vi.Offset("pglist_data", "nr_zones");
  auto zones_off = vi.Offset("pglist_data", "node_zones");
  auto zone_size = vi.Size("zone");
  auto vm_stat = vi.Offset("zone", "vm_stat");
  auto nr_free = vi.Number("NR_FREE_PAGES");
  if (!node_data || !online || !nodes || !nr_zones_off || !zones_off || !zone_size || !vm_stat ||
      !nr_free || *nr_free < 0 || *nodes > 4096) {
    return std::nullopt;
  }
  uint64_t total = 0;
  for (uint64_t n = 0; n < *nodes; ++n) {
    auto word = km_->ReadU64(*online + n / 64 * 8);
    if (!word) return std::nullopt;
    if (!((*word >> (n % 64)) & 1)) continue;
    auto pgdat = km_->ReadU64(*node_data + n * 8);
    if (!pgdat || !*pgdat) return std::nullopt;
    auto nz = km_->ReadU32(*pgdat + *nr_zones_off);
    if (!nz || *nz > 8) return std::nullopt;
    for (uint32_t z = 0; z < *nz; ++z) {
      auto v = km_->ReadU64(*pgdat + *zones_off + z * *zone_size + *vm_stat +
                            static_cast<uint64_t>(*nr_free) * 8);
      if (!v) return std::nullopt;
      if (static_cast<int64_t>(*v) > 0) total += *v;
    }
  }
  return total;
}

Result<PageFilterStats> PageFilter::Apply(
    int dump_level, KdumpPageMap& map,
    const std::function<void(uint64_t, uint64_t, PageVerdict)>& on_verdict) const {
  PageFilterStats st;
  st.zone_free_pages = zone_free_pages_;
  const uint64_t limit = map.max_mapnr();
  std::vector<std::byte> batch(kMemMapBatch * size_page_);
  uint64_t batch_start = UINT64_MAX;  // pfn of batch[0]; batch holds kMemMapBatch pages
  bool batch_ok = false;

  // The run of equal verdicts waiting for on_verdict.
  uint64_t run_start = 0, run_count = 0;
  PageVerdict run_verdict = PageVerdict::kKept;
  auto emit = [&](uint64_t pfn, uint64_t n, PageVerdict v) {
    st.pages[static_cast<size_t>(v)] += n;
    if (IsExcluded(v)) {
      for (uint64_t p = pfn; p < pfn + n; ++p) map.ClearDumped(p);
    }
    if (!on_verdict) return;
    if (run_count && run_verdict == v && run_start + run_count == pfn) {
      run_count += n;
      return;
    }
    if (run_count) on_verdict(run_start, run_count, run_verdict);
    run_start = pfn;
    run_count = n;
    run_verdict = v;
  };
  size_t image_idx = 0;
  auto in_image = [&](uint64_t pfn) {
    while (image_idx < kernel_image_.size() &&
           kernel_image_[image_idx].start + kernel_image_[image_idx].count <= pfn) {
      ++image_idx;
    }
    return image_idx < kernel_image_.size() && kernel_image_[image_idx].start <= pfn;
  };
  // Reads the struct pages of [b, b + kMemMapBatch) (b aligned); false if unreadable.
  auto load = [&](uint64_t b) {
    batch_start = b;
    batch_ok = false;
    auto va = StructPageAddr(b);
    // A batch never crosses a section (sections are 2^15+ pages, batches 2^9, both aligned).
    if (!va) return;
    batch_ok = static_cast<bool>(km_->Read(*va, batch));
  };
  auto type_is = [&](uint32_t page_type, const std::optional<int64_t>& value) {
    if (!value) return false;
    uint32_t v = static_cast<uint32_t>(*value);
    return page_type_top_byte_ ? (page_type >> 24) == (v >> 24) : page_type == v;
  };

  for (uint64_t pfn = map.NextDumped(0, limit); pfn < limit;) {
    ++st.scanned;
    const uint64_t b = pfn & ~(kMemMapBatch - 1);
    if (b != batch_start) load(b);
    if (!batch_ok) {
      emit(pfn, 1, PageVerdict::kNoStructPage);
      pfn = map.NextDumped(pfn + 1, limit);
      continue;
    }
    const uint64_t idx = pfn - b;
    const std::byte* page = batch.data() + idx * size_page_;
    const uint64_t flags = Le64(page + off_flags_);
    const uint64_t mapping = Le64(page + off_mapping_);
    const uint32_t mapcount = Le32(page + off_mapcount_);
    const uint64_t priv = Le64(page + off_private_);
    const uint64_t head = off_compound_head_ ? Le64(page + *off_compound_head_) : 0;

    if (head & 1) {
      // A tail whose head was kept (or not seen): keep it.
      emit(pfn, 1, PageVerdict::kTail);
      pfn = map.NextDumped(pfn + 1, limit);
      continue;
    }
    // Compound head: order and hugetlb from page[1] (never past the batch: a head with order
    // >= 1 is 2-page aligned, so it is not a batch's last page).
    uint64_t order = 0;
    bool hugetlb = false;
    if (pg_head_mask_ && (flags & pg_head_mask_) && idx + 1 < kMemMapBatch) {
      const std::byte* tail = page + size_page_;
      if (hugetlb_value_ || pg_hugetlb_) {
        // 6.6+: the order is the low byte of folio._flags_1 (page[1].flags).
        const uint64_t flags1 = Le64(tail + off_flags_);
        order = flags1 & 0xff;
        hugetlb = hugetlb_value_ ? type_is(mapcount, hugetlb_value_) : TestBit(flags1, pg_hugetlb_);
      } else if (off_compound_order_ && *off_compound_order_ < size_page_) {
        order = static_cast<uint8_t>(tail[*off_compound_order_]);  // u8 since 4.16
        if (off_compound_dtor_ && *off_compound_dtor_ < size_page_ && hugetlb_dtor_) {
          hugetlb = static_cast<int64_t>(static_cast<uint8_t>(tail[*off_compound_dtor_])) == *hugetlb_dtor_;
        }
      }
      if (order >= 64 || (pfn & ((uint64_t{1} << order) - 1)) != 0) order = 0;
    }

    const bool typed = mapcount != 0xffffffffu && (mapcount >> 28) == 0xf;
    const bool slab = TestBit(flags, pg_slab_) || (typed && type_is(mapcount, slab_value_));
    const bool anon = (mapping & kPageMappingAnon) && !slab && !typed;
    const bool swapcache = TestBit(flags, pg_swapcache_) && (!pg_swapbacked_ || TestBit(flags, pg_swapbacked_));
    const bool cache = (TestBit(flags, pg_lru_) || swapcache) && !slab && !typed;
    const bool priv_flag = TestBit(flags, pg_private_);

    PageVerdict v = PageVerdict::kKept;
    uint64_t n = uint64_t{1} << order;
    if ((dump_level & kDumpLevelFree) && !slab && type_is(mapcount, buddy_value_)) {
      if (max_order_ && priv >= *max_order_) {
        st.warnings.push_back(fmt::format("pfn {:#x}: free block of order {} (the maximum is {}): kept",
                                          pfn, priv, *max_order_ - 1));
      } else if (priv < 64) {
        v = PageVerdict::kFree;
        n = uint64_t{1} << priv;
        ++st.free_blocks;
      }
    } else if ((dump_level & kDumpLevelCache) && cache && !priv_flag && !anon) {
      v = PageVerdict::kCache;
    } else if ((dump_level & kDumpLevelCachePrivate) && cache && !anon) {
      v = priv_flag ? PageVerdict::kCachePrivate : PageVerdict::kCache;
    } else if ((dump_level & kDumpLevelUser) && (anon || hugetlb)) {
      v = PageVerdict::kUser;
    } else if (TestBit(flags, pg_hwpoison_)) {
      v = PageVerdict::kHwpoison;
    } else if (!slab && type_is(mapcount, offline_value_)) {
      v = PageVerdict::kOffline;
    } else if (slab) {
      v = PageVerdict::kSlab;
    } else if (typed) {
      v = PageVerdict::kTyped;
    }
    if (!IsExcluded(v)) {
      // Kept, with its tails (a free block is never kept whole: n is 1 then).
      const uint64_t end = std::min(limit, pfn + (v == PageVerdict::kKept || v == PageVerdict::kSlab ||
                                                  v == PageVerdict::kTyped ? n : 1));
      emit(pfn, 1, v);
      for (uint64_t p = pfn + 1; p < end; ++p) {
        if (map.IsDumped(p)) {
          ++st.scanned;
          emit(p, 1, PageVerdict::kTail);
        }
      }
      pfn = map.NextDumped(end, limit);
      continue;
    }
    // Excluded: the whole block, except pages the kernel image maps and pages not RAM here.
    const uint64_t end = std::min(limit, pfn + n);
    for (uint64_t p = pfn; p < end; ++p) {
      if (!map.IsDumped(p)) continue;
      if (p != pfn) ++st.scanned;
      emit(p, 1, in_image(p) ? PageVerdict::kKernelImage : v);
    }
    pfn = map.NextDumped(end, limit);
  }
  if (on_verdict && run_count) on_verdict(run_start, run_count, run_verdict);
  return st;
}

}  // namespace coroner
