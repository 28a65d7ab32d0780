#include "lib/collect/collector.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "lib/debuginfo/kallsyms.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/elf_writer.h"
#include "lib/dump/kdump_writer.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {
namespace {

constexpr size_t kMaxErrorsKept = 10;

bool AllZero(std::span<const std::byte> page) {
  uint64_t acc = 0;
  for (size_t i = 0; i + 8 <= page.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, page.data() + i, 8);
    acc |= w;
  }
  return acc == 0;
}

// The encoded pages of one window of pfns [index * kWindowPages, (index + 1) * kWindowPages).
struct Window {
  uint64_t index = UINT64_MAX;
  bool ready = false;
  size_t count = 0;  // pages used in pfns/pages
  std::vector<uint64_t> pfns;
  std::vector<EncodedPage> pages;
  uint64_t read_errors = 0;
  uint64_t deflate_check_failures = 0;  // this window's (see PageEncoder)
  std::vector<std::string> errors;
};

// A set of pfns (the pages written first).
class PfnSet {
 public:
  explicit PfnSet(uint64_t n = 0) : bits_((n + 63) / 64) {}
  void Set(uint64_t pfn) {
    if (pfn / 64 < bits_.size()) bits_[pfn / 64] |= uint64_t{1} << (pfn % 64);
  }
  bool Test(uint64_t pfn) const { return pfn / 64 < bits_.size() && ((bits_[pfn / 64] >> (pfn % 64)) & 1); }

 private:
  std::vector<uint64_t> bits_;
};

class PageListEncoder {
 public:
  PageListEncoder(const PhysicalMemory& mem, Compression c, bool zero)
      : mem_(mem), encoder_(c, zero), page_(mem.page_size()) {}

  // Encodes the pages `pfns` into w (reusing its buffers).
  void Encode(uint64_t index, const std::vector<uint64_t>& pfns, Window& w) {
    w.index = index;
    w.count = 0;
    w.read_errors = 0;
    w.errors.clear();
    const uint64_t failures_before = encoder_.deflate_check_failures();
    for (uint64_t pfn : pfns) {
      if (w.pages.size() <= w.count) {
        w.pages.emplace_back();
        w.pfns.push_back(0);
      }
      EncodedPage& e = w.pages[w.count];
      w.pfns[w.count++] = pfn;
      auto r = mem_.ReadPage(Pfn{pfn}, page_);
      if (r) r = encoder_.Encode(page_, e);
      if (!r) {
        e.kind = EncodedPage::Kind::kMissing;
        e.bytes.clear();
        if (r.error().code() != ErrorCode::kTruncated) {
          ++w.read_errors;
          if (w.errors.size() < kMaxErrorsKept) w.errors.push_back(r.error().ToString());
        }
      }
    }
    w.deflate_check_failures = encoder_.deflate_check_failures() - failures_before;
  }

 private:
  const PhysicalMemory& mem_;
  PageEncoder encoder_;
  std::vector<std::byte> page_;
};

// Moves each boundary of a split set up to a multiple of 4096 pfns (crash's BITMAP_SECT_LEN):
// crash 8.0.2 counts a split file's dumped pages a 64-bit bitmap word at a time from its
// start_pfn, so a start inside a word miscounts and every page read from that file is wrong.
// (A dump smaller than that per file leaves later files empty, as makedumpfile's do.)
std::vector<PfnRange> AlignSplitRanges(const std::vector<PfnRange>& in, uint64_t max) {
  std::vector<uint64_t> bounds{0};
  for (size_t i = 1; i < in.size(); ++i) {
    bounds.push_back(std::max(bounds.back(), std::min(max, (in[i].start + 4095) / 4096 * 4096)));
  }
  bounds.push_back(max);
  std::vector<PfnRange> out;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) out.push_back({bounds[i], bounds[i + 1] - bounds[i]});
  return out;
}

Result<void> WriteElf(const Dump& dump, const CollectOptions& o, const KdumpPageMap& map,
                      const DumpDescription& desc, std::unique_ptr<ByteSink> sink, CollectStats& st) {
  const PhysicalMemory& mem = *dump.memory;
  std::vector<std::byte> page(mem.page_size());
  ElfWriterOptions eo;
  eo.spare_segments = 64;
  eo.select = [&](Pfn pfn) {
    if (!map.IsDumped(pfn.value)) return false;
    if (!(o.dump_level & kDumpLevelZero)) return true;
    // ELF has no shared zero page: -d 1 leaves zero pages out, as makedumpfile -E does.
    if (!mem.ReadPage(pfn, page)) return true;  // the writer reports the read error
    if (AllZero(page)) {
      ++st.zero_pages;
      return false;
    }
    return true;
  };
  CORONER_TRY(ElfWriteStats es, WriteElfVmcore(mem, desc, eo, std::move(sink)));
  st.dumped_pages = es.dumped_pages;
  st.written_pages = es.dumped_pages;
  st.missing_pages = es.missing_pages;
  st.read_errors = es.read_errors;
  st.errors = es.errors;
  st.bytes = es.bytes;
  if (es.incomplete) {
    st.incomplete = true;
    st.incomplete_reasons.push_back(fmt::format("{} pages could not be read", es.missing_pages));
  }
  return Ok();
}

}  // namespace

Result<CollectStats> Collect(const Dump& dump, const CollectOptions& o,
                             std::vector<std::unique_ptr<ByteSink>> sinks) {
  const auto t0 = std::chrono::steady_clock::now();
  if (sinks.empty()) return Error(ErrorCode::kInvalidArgument, "no output file given");
  if (o.dump_level < 0 || o.dump_level > kDumpLevelMax) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("dump level {} is not 0-31", o.dump_level));
  }
  if (o.elf && sinks.size() > 1) return Error(ErrorCode::kInvalidArgument, "an ELF dump cannot be split");
  CollectStats st;
  const PhysicalMemory& mem = *dump.memory;
  uint64_t truncated = 0;
  KdumpPageMap map = KdumpPageMap::FromMemory(mem, {}, &truncated);
  const uint64_t max = map.max_mapnr();
  st.ram_pages = map.CountRam(0, max);
  st.input_excluded = st.ram_pages - map.CountDumped(0, max);
  if (truncated) {
    st.incomplete = true;
    st.incomplete_reasons.push_back(fmt::format("the input lacks {} pages (truncated)", truncated));
  }

  // The filter runs at every level when it can (at 0 and 1 it excludes nothing, but finds the
  // pages to write first); above 1 it must.
  const bool must_filter = o.dump_level & ~kDumpLevelZero;
  PfnSet priority(max);
  std::vector<PageFilter::ImageSection> image_sections;
  std::vector<PfnRange> percpu;
  std::vector<uint64_t> page_tables;
  std::vector<uint64_t> model_pages;
  auto filter_pages = [&]() -> Result<void> {
    if (!dump.info.vmcoreinfo) {
      return Error(ErrorCode::kNotFound, "the input has no VMCOREINFO: cannot filter pages (use -d 0 or 1)");
    }
    const Vmcoreinfo& vi = *dump.info.vmcoreinfo;
    CORONER_TRY(auto km, KernelMemory::Create(mem, vi));
    auto syms = ReadKallsyms(*km, vi, PageFilter::SymbolsUsed());
    CORONER_TRY(PageFilter filter, PageFilter::Create(mem, vi, *km, syms ? &syms->symbols : nullptr));
    std::vector<std::string> warnings;
    if (filter.kernel_image().empty()) {
      warnings.push_back("kernel image sections not found (no kallsyms): kept by struct page only");
    }
    image_sections = filter.kernel_sections();
    percpu = filter.percpu_areas();
    page_tables = filter.kernel_page_tables();
    model_pages = filter.memory_model_pages();
    CORONER_TRY(PageFilterStats fs, filter.Apply(o.dump_level, map, [&](uint64_t pfn, uint64_t n, PageVerdict v) {
      if (v == PageVerdict::kSlab || v == PageVerdict::kTyped || v == PageVerdict::kTail) {
        for (uint64_t p = pfn; p < pfn + n; ++p) priority.Set(p);
      }
    }));
    fs.warnings.insert(fs.warnings.begin(), warnings.begin(), warnings.end());
    st.filter = std::move(fs);
    st.filtered = must_filter;
    return Ok();
  };
  if (auto r = filter_pages(); !r) {
    if (must_filter) return r.error();
    priority = PfnSet(max);
    image_sections.clear();
    percpu.clear();
    page_tables.clear();
    model_pages.clear();
  }
  if (st.filtered && (o.dump_level & kDumpLevelFree) && st.filter.zone_free_pages) {
    const uint64_t found = st.filter.Count(PageVerdict::kFree);
    const uint64_t zone = *st.filter.zone_free_pages;
    const uint64_t diff = found > zone ? found - zone : zone - found;
    if (diff > 1024 + zone / 100) {
      st.filter.warnings.push_back(fmt::format(
          "free pages found in struct pages ({}) differ from the zones' NR_FREE_PAGES ({})", found, zone));
    }
  }
  DumpDescription desc = DescribeDump(dump);
  desc.dump_level = o.dump_level;

  if (o.elf) {
    CORONER_TRY_VOID(WriteElf(dump, o, map, desc, std::move(sinks[0]), st));
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
  }

  // ---- kdump-compressed ----
  const bool zero = o.dump_level & kDumpLevelZero;
  const std::vector<PfnRange> ranges =
      sinks.size() > 1 ? AlignSplitRanges(map.SplitRanges(sinks.size()), max) : std::vector<PfnRange>{{0, max}};
  std::vector<std::unique_ptr<KdumpFileWriter>> writers;
  for (size_t i = 0; i < sinks.size(); ++i) {
    KdumpFileOptions fo;
    fo.compression = o.compression;
    fo.share_zero_pages = zero;
    fo.incomplete = truncated > 0;
    fo.split = sinks.size() > 1;
    fo.start_pfn = ranges[i].start;
    fo.end_pfn = ranges[i].start + ranges[i].count;
    CORONER_TRY(auto w, KdumpFileWriter::Create(map, desc, fo, std::move(sinks[i])));
    writers.push_back(std::move(w));
  }
  st.dumped_pages = map.CountDumped(0, max);

  // Jobs: lists of up to kWindowPages pfns, encoded by the workers (or inline), written in
  // job order. Phase 1 (the first `first_jobs` jobs): the pages analysis needs most, written
  // ahead of pfn order (AddPageEarly), most needed first: the kernel's data and bss, its page
  // tables, the per-CPU areas, rodata (kallsyms, BTF, ORC), text (crash reads it at start-up),
  // then slab and page-typed pages; so a run cut short (a full disk, Ctrl-C) still leaves a
  // dump crash and coroner can start on. Phase 2: every other dumped page, in pfn order.
  std::vector<uint64_t> first;  // phase 1 pfns, in order
  {
    PfnSet taken(max);
    auto take = [&](uint64_t p) {
      if (p < max && map.IsDumped(p) && !taken.Test(p)) {
        taken.Set(p);
        first.push_back(p);
      }
    };
    auto take_section = [&](std::string_view name) {
      for (const auto& sec : image_sections) {
        if (sec.name != name) continue;
        for (uint64_t p = sec.pfns.start; p < sec.pfns.start + sec.pfns.count; ++p) take(p);
      }
    };
    take_section("_sdata");
    take_section("__bss_start");
    for (uint64_t p : page_tables) take(p);
    for (uint64_t p : model_pages) take(p);
    for (const PfnRange& r : percpu) {
      for (uint64_t p = r.start; p < r.start + r.count; ++p) take(p);
    }
    take_section("__start_rodata");
    take_section("_stext");
    for (uint64_t p = map.NextDumped(0, max); p < max; p = map.NextDumped(p + 1, max)) {
      if (priority.Test(p)) take(p);
    }
    priority = std::move(taken);
  }
  st.priority_pages = first.size();
  const uint64_t first_jobs = (first.size() + kWindowPages - 1) / kWindowPages;
  const uint64_t windows = (max + kWindowPages - 1) / kWindowPages;
  const uint64_t jobs = first_jobs + windows;
  auto job_pfns = [&](uint64_t j, std::vector<uint64_t>& pfns) {
    pfns.clear();
    if (j < first_jobs) {
      const uint64_t b = j * kWindowPages;
      pfns.assign(first.begin() + static_cast<ptrdiff_t>(b),
                  first.begin() + static_cast<ptrdiff_t>(std::min<uint64_t>(first.size(), b + kWindowPages)));
      return;
    }
    const uint64_t w = j - first_jobs;
    const uint64_t end = std::min(max, (w + 1) * kWindowPages);
    for (uint64_t p = map.NextDumped(w * kWindowPages, end); p < end; p = map.NextDumped(p + 1, end)) {
      if (!priority.Test(p)) pfns.push_back(p);
    }
  };

  const unsigned nthreads = o.threads;
  const size_t nslots = 4 * std::max(1u, nthreads);
  std::vector<Window> slots(nslots);
  std::mutex mu;
  std::condition_variable cv;
  uint64_t claimed = 0;  // next job a worker takes
  uint64_t written = 0;  // jobs written (slots before this are free)
  bool stop = false;

  auto worker = [&] {
    PageListEncoder enc(mem, o.compression, zero);
    std::vector<uint64_t> pfns;
    for (;;) {
      uint64_t j;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stop || claimed >= jobs || claimed - written < nslots; });
        if (stop || claimed >= jobs) return;
        j = claimed++;
      }
      Window& slot = slots[j % nslots];
      job_pfns(j, pfns);
      enc.Encode(j, pfns, slot);
      {
        std::lock_guard lk(mu);
        slot.ready = true;
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  std::unique_ptr<PageListEncoder> inline_enc;
  std::vector<uint64_t> inline_pfns;
  if (nthreads == 0) {
    inline_enc = std::make_unique<PageListEncoder>(mem, o.compression, zero);
  } else {
    for (unsigned i = 0; i < nthreads; ++i) pool.emplace_back(worker);
  }

  std::optional<Error> failure;
  uint64_t done = 0;
  size_t cur = 0;  // writer taking the current pfns (phase 2)
  for (uint64_t j = 0; j < jobs && !failure; ++j) {
    if (o.cancel && o.cancel->load(std::memory_order_relaxed)) {
      failure = Error(ErrorCode::kIo, "interrupted");
      break;
    }
    const bool early = j < first_jobs;
    if (j == first_jobs) {
      for (auto& w : writers) {
        if (auto r = w->EndEarly(); !r) {
          failure = r.error();
          break;
        }
      }
      if (failure) break;
    }
    Window* slot = &slots[j % nslots];
    if (inline_enc) {
      if (!early && map.CountDumped((j - first_jobs) * kWindowPages, (j - first_jobs + 1) * kWindowPages) == 0) {
        continue;
      }
      job_pfns(j, inline_pfns);
      inline_enc->Encode(j, inline_pfns, *slot);
    } else {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return slot->ready && slot->index == j; });
    }
    for (size_t i = 0; i < slot->count; ++i) {
      const uint64_t pfn = slot->pfns[i];
      size_t wi = cur;
      if (early) {
        wi = 0;
        while (wi + 1 < writers.size() && pfn >= ranges[wi].start + ranges[wi].count) ++wi;
      } else {
        while (cur + 1 < writers.size() && pfn >= ranges[cur].start + ranges[cur].count) ++cur;
        wi = cur;
      }
      const EncodedPage& e = slot->pages[i];
      auto r = early ? writers[wi]->AddPageEarly(pfn, e) : writers[wi]->AddPage(pfn, e);
      if (!r) {
        failure = r.error();
        break;
      }
      if (e.kind == EncodedPage::Kind::kMissing) ++st.missing_pages;
      if (e.kind == EncodedPage::Kind::kZero) ++st.zero_pages;
      if (e.kind == EncodedPage::Kind::kData) ++st.written_pages;
      ++done;
    }
    st.read_errors += slot->read_errors;
    st.deflate_check_failures += slot->deflate_check_failures;
    for (auto& e : slot->errors) {
      if (st.errors.size() < kMaxErrorsKept) st.errors.push_back(e);
    }
    if (!inline_enc) {
      {
        std::lock_guard lk(mu);
        slot->ready = false;
        ++written;
      }
      cv.notify_all();
    }
    if (o.progress && slot->count) o.progress(done, st.dumped_pages);
  }
  {
    std::lock_guard lk(mu);
    stop = true;
  }
  cv.notify_all();
  for (auto& t : pool) t.join();

  if (failure) {
    st.incomplete = true;
    st.incomplete_reasons.push_back(failure->ToString());
    for (auto& w : writers) {
      auto fs = w->Abort();
      if (!fs) {
        st.incomplete_reasons.push_back(fs.error().ToString());
        continue;
      }
      st.bytes += fs->bytes;
      st.repeated_pages += fs->repeated_pages;
    }
    st.missing_pages = st.dumped_pages - std::min(st.dumped_pages, st.written_pages + st.zero_pages);
  } else {
    if (st.missing_pages > 0) {
      st.incomplete = true;
      if (st.read_errors) {
        st.incomplete_reasons.push_back(fmt::format("{} pages could not be read", st.read_errors));
      }
    }
    for (auto& w : writers) {
      if (st.incomplete) w->MarkIncomplete();
      auto fs = w->Finish();
      if (!fs) {
        // The last buffered pages did not fit (or another write failed): end it as above.
        st.incomplete = true;
        st.incomplete_reasons.push_back(fs.error().ToString());
        fs = w->Abort();
        if (!fs) {
          st.incomplete_reasons.push_back(fs.error().ToString());
          continue;
        }
        st.missing_pages += fs->missing_pages;
        st.written_pages -= std::min(st.written_pages, fs->missing_pages);
      }
      st.bytes += fs->bytes;
      st.repeated_pages += fs->repeated_pages;
    }
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return st;
}

uint64_t MemUsage::KeptAt(int level) const {
  uint64_t out = ram_pages;
  auto drop = [&](PageVerdict v) { out -= std::min(out, filter.Count(v)); };
  if (level & kDumpLevelZero) out -= std::min(out, zero_pages);
  if (level & (kDumpLevelCache | kDumpLevelCachePrivate)) drop(PageVerdict::kCache);
  if (level & kDumpLevelCachePrivate) drop(PageVerdict::kCachePrivate);
  if (level & kDumpLevelUser) drop(PageVerdict::kUser);
  if (level & kDumpLevelFree) drop(PageVerdict::kFree);
  drop(PageVerdict::kHwpoison);
  drop(PageVerdict::kOffline);
  return out;
}

Result<MemUsage> MeasureMemUsage(const Dump& dump) {
  if (!dump.info.vmcoreinfo) return Error(ErrorCode::kNotFound, "the input has no VMCOREINFO: cannot classify pages");
  const PhysicalMemory& mem = *dump.memory;
  const Vmcoreinfo& vi = *dump.info.vmcoreinfo;
  MemUsage mu;
  mu.page_size = mem.page_size();
  KdumpPageMap map = KdumpPageMap::FromMemory(mem);
  mu.ram_pages = map.CountRam(0, map.max_mapnr());
  CORONER_TRY(auto km, KernelMemory::Create(mem, vi));
  auto syms = ReadKallsyms(*km, vi, PageFilter::SymbolsUsed());
  CORONER_TRY(PageFilter filter, PageFilter::Create(mem, vi, *km, syms ? &syms->symbols : nullptr));
  CORONER_TRY(mu.filter, filter.Apply(kDumpLevelMax, map));
  std::vector<std::byte> page(mem.page_size());
  const uint64_t max = map.max_mapnr();
  for (uint64_t pfn = map.NextDumped(0, max); pfn < max; pfn = map.NextDumped(pfn + 1, max)) {
    if (mem.ReadPage(Pfn{pfn}, page) && AllZero(page)) ++mu.zero_pages;
  }
  return mu;
}

}  // namespace coroner
