// The collector (`coroner collect`, makedumpfile's job): reads a dump (an ELF /proc/vmcore or
// any dump coroner opens), leaves out the pages the dump level does not want (PageFilter),
// and writes the rest as a kdump-compressed file (one, flattened, or a --split set) or an ELF
// vmcore. Pages are read and compressed by `threads` workers and written in pfn order by the
// calling thread, so the output is byte-for-byte the same whatever the thread count.
//
//   CORONER_TRY(auto dump, OpenDump({"/proc/vmcore"}));
//   CollectOptions o;
//   o.dump_level = 31;
//   o.compression = Compression::kZlib;
//   o.threads = 2;
//   std::vector<std::unique_ptr<ByteSink>> out;
//   out.push_back(std::move(file_sink));
//   CORONER_TRY(CollectStats st, Collect(*dump, o, std::move(out)));
//
// Memory: the bitmaps (2 bits per pfn, plus 1 for the pages written first and 8 bytes per such
// page), one batch of struct pages, at most 4 * max(threads, 1) jobs of kWindowPages pages in
// flight (each page at most its own size once compressed: about 4 MiB per thread), and, while
// the filter is set up, the kernel's symbol table (kallsyms). Measured on the 768 MB test
// guests: 16.7 MB of anonymous memory at its peak, with 0 or 2 threads (the input is mapped,
// not copied).
//
// The pages analysis needs most (the kernel image's sections, slab and page-typed pages, found by
// the filter) are written first (KdumpFileWriter::AddPageEarly), the rest after in pfn order.
// A write error (ENOSPC, ...) or a cancel request ends every output file as a valid dump
// marked incomplete (KdumpFileWriter::Abort) holding what was written; a page that cannot be
// read is written as missing, counted, and also marks the dump incomplete.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/collect/page_filter.h"
#include "lib/dump/byte_sink.h"
#include "lib/dump/compression.h"
#include "lib/dump/dump.h"

namespace coroner {

inline constexpr uint64_t kWindowPages = 256;  // pfns a worker takes at once

struct CollectOptions {
  int dump_level = 0;
  Compression compression = Compression::kNone;
  bool elf = false;          // -E: an ELF vmcore instead of kdump-compressed
  unsigned threads = 0;      // 0: read and compress on the calling thread
  // Called from the writing thread as pages go out (pages written, pages to write).
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Set (e.g. by a SIGINT handler) to stop early; the output is then marked incomplete.
  const std::atomic<bool>* cancel = nullptr;
};

struct CollectStats {
  PageFilterStats filter;          // verdicts (zero pages are counted below)
  bool filtered = false;           // false at -d 0/1: no struct page looked at
  uint64_t ram_pages = 0;          // RAM pages the input describes
  uint64_t input_excluded = 0;     // already excluded by the input's own filter
  uint64_t dumped_pages = 0;       // pages the output's bitmap marks dumped
  uint64_t zero_pages = 0;         // of those, all-zero pages sharing one descriptor (-d 1)
  uint64_t written_pages = 0;      // pages whose data was written
  // zlib pages whose page-sized encoding did not inflate back to the page, so libdeflate's was
  // written instead (a bug in PageDeflater to report; the dump is not affected).
  uint64_t deflate_check_failures = 0;
  uint64_t repeated_pages = 0;     // of those, pages of one repeated byte pointing at an earlier
                                   // such page's data (kdump output)
  uint64_t priority_pages = 0;     // of the dumped pages, those written first (kernel image,
                                   // slab, page tables, ...): a run cut short keeps them
  uint64_t missing_pages = 0;      // dumped pages written without data (incomplete)
  uint64_t read_errors = 0;        // input pages that could not be read
  std::vector<std::string> errors; // the first few read errors
  uint64_t bytes = 0;              // output bytes (all files)
  bool incomplete = false;
  std::vector<std::string> incomplete_reasons;
  double seconds = 0;
};

Result<CollectStats> Collect(const Dump& dump, const CollectOptions& options,
                             std::vector<std::unique_ptr<ByteSink>> sinks);

// makedumpfile --mem-usage: what each kind of page adds up to (run it on /proc/kcore in the
// first kernel, or on any dump), to size the dump target. Every page is classified at level 31;
// zero pages are counted among the pages no other kind excludes, by reading them.
struct MemUsage {
  PageFilterStats filter;
  uint64_t ram_pages = 0;
  uint64_t zero_pages = 0;
  uint64_t page_size = 0;
  // RAM pages a dump at `level` keeps (zero pages count as left out: they share one
  // descriptor in a kdump file).
  uint64_t KeptAt(int level) const;
};
Result<MemUsage> MeasureMemUsage(const Dump& dump);

}  // namespace coroner
