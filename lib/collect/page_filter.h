// The collector's page filter: which RAM pages a dump level (makedumpfile's -d bits) leaves out,
// decided from each page's struct page in the dump itself (flags, mapping, _mapcount/page_type,
// private, compound order), with only the numbers VMCOREINFO gives, so no vmlinux is needed.
//
//   -d bit  1 zero pages (by content: decided when the page is written, not here)
//           2 page cache that is not private (PG_lru, or PG_swapcache with PG_swapbacked;
//             not PG_private; not anonymous)
//           4 all page cache (PG_private too)
//           8 user data: anonymous pages (mapping bit 0, not slab) and hugetlbfs pages
//          16 free pages: buddy blocks (PAGE_BUDDY_MAPCOUNT_VALUE in _mapcount/page_type), the
//             whole 2^private block
//   always  hwpoison pages and logically offline pages (their contents are not readable)
//
// A compound page (folio) is decided by its head for all its 2^order pages (the order is
// page[1]'s compound_order byte before Linux 6.6, the low byte of page[1].flags after). Tail
// pages are never decided on their own fields (those hold folio metadata, not page state).
//
// What analysis needs is never left out, whatever the level: slab pages (PG_slab, or the
// page_type slab on 6.10+), pages with any other page_type (page tables, ...), pages whose
// struct page cannot be read, and every page of the kernel image's sections (text, rodata,
// data, bss: [_stext, _etext), [__start_rodata, __end_rodata), [_sdata, _edata),
// [__bss_start, __bss_stop), from kallsyms), which hold the printk ring, kallsyms, BTF, ORC and
// the IDT. Not the whole kernel mapping: its 2 MiB pages also cover the freed init area, the
// gaps between sections, .smp_locks, the unused brk and the unused part of .bss..decrypted,
// all of which the kernel gives back to the page allocator (seen reused as page cache).
//
//   CORONER_TRY(PageFilter f, PageFilter::Create(mem, vmcoreinfo, kernel_memory, &symbols));
//   KdumpPageMap map = KdumpPageMap::FromMemory(mem);
//   CORONER_TRY(PageFilterStats st, f.Apply(31, map));   // clears the excluded pages' bits
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/symbol_table.h"
#include "lib/dump/kdump_writer.h"
#include "lib/dump/physical_memory.h"
#include "lib/dump/vmcoreinfo.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {

// makedumpfile's dump level bits.
inline constexpr int kDumpLevelZero = 1;
inline constexpr int kDumpLevelCache = 2;
inline constexpr int kDumpLevelCachePrivate = 4;
inline constexpr int kDumpLevelUser = 8;
inline constexpr int kDumpLevelFree = 16;
inline constexpr int kDumpLevelMax = 31;

// What the filter decided about one page.
enum class PageVerdict : uint8_t {
  // Left out:
  kCache,         // page cache, not private
  kCachePrivate,  // page cache with PG_private
  kUser,          // anonymous or hugetlbfs
  kFree,          // in the buddy allocator
  kHwpoison,
  kOffline,
  // Kept:
  kKept,            // an ordinary kernel page, or of a kind the level keeps
  kSlab,            // a slab page (kept whatever the level)
  kTyped,           // another page_type (page table, zsmalloc, ...): kernel-owned
  kTail,            // a tail page of a kept compound page
  kKernelImage,     // mapped by the kernel image: would have been left out, kept on purpose
  kNoStructPage,    // its struct page could not be read: kept, since nothing is known of it
};
inline constexpr size_t kPageVerdictCount = 12;
std::string_view PageVerdictName(PageVerdict v);
inline bool IsExcluded(PageVerdict v) { return v < PageVerdict::kKept; }

struct PageFilterStats {
  // Pages per verdict (RAM pages the input holds; excluded-in-input pages are not counted).
  std::array<uint64_t, kPageVerdictCount> pages{};
  uint64_t scanned = 0;          // RAM pages looked at
  uint64_t free_blocks = 0;      // buddy blocks found
  std::optional<uint64_t> zone_free_pages;  // sum of the zones' NR_FREE_PAGES, if readable
  std::vector<std::string> warnings;

  uint64_t Count(PageVerdict v) const { return pages[static_cast<size_t>(v)]; }
  uint64_t Excluded() const;
};

class PageFilter {
 public:
  // `symbols` (kallsyms) locate the kernel image's sections; without them only struct pages
  // protect it.
  static Result<PageFilter> Create(const PhysicalMemory& mem, const Vmcoreinfo& vi,
                                   const KernelMemory& km, const SymbolTable* symbols);
  // The symbols Create looks up (for ReadKallsyms's only_names).
  static std::vector<std::string_view> SymbolsUsed();

  // Clears the dumped bit of every page `dump_level` leaves out (bit 1, zero pages, is left
  // to the writer). `on_verdict`, if given, is called for every run of RAM pages with the same
  // verdict, in pfn order (tests use it to explain differences from makedumpfile).
  Result<PageFilterStats> Apply(
      int dump_level, KdumpPageMap& map,
      const std::function<void(uint64_t pfn, uint64_t count, PageVerdict)>& on_verdict = {}) const;

  // pfns of the kernel image's sections (sorted runs), found at Create.
  const std::vector<PfnRange>& kernel_image() const { return kernel_image_; }
  // The same by section, in the order the sections matter to analysis: data, bss, rodata, text.
  struct ImageSection {
    std::string name;
    PfnRange pfns;
  };
  const std::vector<ImageSection>& kernel_sections() const { return kernel_sections_; }
  // Each CPU's per-CPU area (__per_cpu_offset[cpu], pcpu_unit_size bytes; the first chunk, in
  // the direct map), which crash reads at start-up: not protected (ordinary kernel pages are
  // kept anyway), but the collector writes them early.
  const std::vector<PfnRange>& percpu_areas() const { return percpu_; }
  // Every page of the kernel's own page tables (the kernel half of init_top_pgt, down to the
  // PTE tables), which every virtual read needs; early ones carry no page_type.
  const std::vector<uint64_t>& kernel_page_tables() const { return page_tables_; }
  // Pages of the memory model's own tables: mem_section's root and section arrays, each node's
  // pglist_data (memblock allocations crash reads at start-up).
  const std::vector<uint64_t>& memory_model_pages() const { return memmap_meta_; }

 private:
  struct Layout;
  PageFilter(const PhysicalMemory& mem, const KernelMemory& km) : mem_(&mem), km_(&km) {}
  Result<void> FindKernelImage(const SymbolTable& symbols);
  // Virtual address of pfn's struct page, or nullopt if its section has no mem_map.
  std::optional<uint64_t> StructPageAddr(uint64_t pfn) const;
  std::optional<uint64_t> ZoneFreePages(const Vmcoreinfo& vi) const;

  const PhysicalMemory* mem_;
  const KernelMemory* km_;
  // struct page layout (VMCOREINFO)
  uint64_t page_size_ = 4096;
  uint64_t size_page_ = 0;
  uint64_t off_flags_ = 0, off_mapping_ = 0, off_mapcount_ = 0, off_private_ = 0;
  std::optional<uint64_t> off_compound_head_, off_compound_order_, off_compound_dtor_;
  std::optional<int64_t> pg_lru_, pg_private_, pg_swapcache_, pg_swapbacked_, pg_slab_, pg_hwpoison_,
      pg_hugetlb_;
  uint64_t pg_head_mask_ = 0;
  std::optional<int64_t> buddy_value_, offline_value_, slab_value_, hugetlb_value_, hugetlb_dtor_;
  std::optional<uint64_t> max_order_;  // LENGTH(zone.free_area)
  bool page_type_top_byte_ = false;    // 6.10+: the type is _mapcount's top byte
  // sparse memory model
  uint64_t section_shift_ = 0;  // SECTION_SIZE_BITS - PAGE_SHIFT
  std::vector<uint64_t> section_mem_map_;  // decoded mem_map base per section (0: none)
  std::vector<PfnRange> kernel_image_;
  std::vector<ImageSection> kernel_sections_;
  std::vector<PfnRange> percpu_;
  std::vector<uint64_t> page_tables_;
  std::vector<uint64_t> memmap_meta_;
  void FindPageTables();
  void FindPercpu(const SymbolTable& symbols);
  std::optional<uint64_t> zone_free_pages_;
};

}  // namespace coroner
