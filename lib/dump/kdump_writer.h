// Writes kdump-compressed files (makedumpfile's format, header_version 6, x86_64 native layout)
// from any PhysicalMemory, as makedumpfile 1.7.2 writes them and crash 8.0.2 / libkdumpfile
// read them: block 0 disk_dump_header; block 1.. kdump_sub_header followed by the ELF notes
// (VMCOREINFO among them); bitmap 1 (RAM) and bitmap 2 (dumped), each
// ceil(ceil(max_mapnr / 8) / block_size) blocks; one 24-byte page_desc per dumped page in pfn
// order; then the page data, each page compressed on its own or stored raw when compression
// does not shrink it. Output goes to ByteSinks, so it can be a file, memory, or a flattened
// stream (wrap the sink in a FlattenedSink); several sinks make a --split set.
//
// The one-call form:
//
//   std::vector<std::unique_ptr<ByteSink>> out;
//   out.push_back(std::make_unique<FlattenedSink>(std::move(file_sink)));  // or plain
//   KdumpWriterOptions opts;
//   opts.compression = Compression::kZstd;
//   CORONER_TRY(KdumpWriteStats st,
//               WriteKdump(*dump->memory, DescribeDump(*dump), opts, std::move(out)));
//
// The parts, for a multi-threaded collector: KdumpPageMap (which pfns are RAM / dumped: the
// bitmaps) -> PageEncoder (one per thread; compresses a page, no shared state) ->
// KdumpFileWriter::AddPage (in pfn order, single thread; buffers descriptors and data).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/base/types.h"
#include "lib/dump/byte_sink.h"
#include "lib/dump/compression.h"
#include "lib/dump/kdump_compressed.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/physical_memory.h"

namespace coroner {

// Which pages a kdump file marks as RAM (bitmap 1) and as dumped (bitmap 2).
class KdumpPageMap {
 public:
  KdumpPageMap() = default;
  KdumpPageMap(uint64_t max_mapnr, uint64_t page_size);

  // From a dump's page states: kDumped pages that `select` accepts (all when it is empty) and
  // kTruncated pages are dumped (the latter are written as missing, and counted in
  // *truncated); other kDumped pages and kExcluded pages are RAM only; kNotPresent pages are
  // neither.
  static KdumpPageMap FromMemory(const PhysicalMemory& mem,
                                 const std::function<bool(Pfn)>& select = {},
                                 uint64_t* truncated = nullptr);

  uint64_t max_mapnr() const { return max_mapnr_; }
  uint64_t page_size() const { return page_size_; }
  void SetRam(uint64_t pfn) { Set(ram_, pfn); }
  void SetDumped(uint64_t pfn) { Set(dumped_, pfn); }  // also call SetRam
  void ClearDumped(uint64_t pfn) {
    if (pfn < max_mapnr_) dumped_[pfn / 64] &= ~(uint64_t{1} << (pfn % 64));
  }
  bool IsRam(uint64_t pfn) const { return Test(ram_, pfn); }
  bool IsDumped(uint64_t pfn) const { return Test(dumped_, pfn); }
  // Next dumped pfn at or after `pfn`, or `limit` if none below it.
  uint64_t NextDumped(uint64_t pfn, uint64_t limit) const;
  uint64_t CountDumped(uint64_t start, uint64_t end) const { return Count(dumped_, start, end); }
  uint64_t CountRam(uint64_t start, uint64_t end) const { return Count(ram_, start, end); }
  // Splits [0, max_mapnr) into n consecutive ranges holding about as many dumped pages each
  // (makedumpfile --split balances the same way).
  std::vector<PfnRange> SplitRanges(size_t n) const;
  // The bitmap as stored: bit (pfn % 8) of byte (pfn / 8), `bytes` long.
  std::vector<std::byte> RamBitmap(size_t bytes) const { return Bytes(ram_, bytes); }
  std::vector<std::byte> DumpedBitmap(size_t bytes) const { return Bytes(dumped_, bytes); }

 private:
  void Set(std::vector<uint64_t>& bits, uint64_t pfn) {
    if (pfn < max_mapnr_) bits[pfn / 64] |= uint64_t{1} << (pfn % 64);
  }
  bool Test(const std::vector<uint64_t>& bits, uint64_t pfn) const {
    return pfn < max_mapnr_ && ((bits[pfn / 64] >> (pfn % 64)) & 1);
  }
  std::vector<std::byte> Bytes(const std::vector<uint64_t>& bits, size_t bytes) const;
  uint64_t Count(const std::vector<uint64_t>& bits, uint64_t start, uint64_t end) const;

  uint64_t max_mapnr_ = 0;
  uint64_t page_size_ = 0;
  std::vector<uint64_t> ram_, dumped_;
};

// One page as it goes into a kdump file.
struct EncodedPage {
  enum class Kind {
    kData,     // `bytes` hold the page, compressed with `flags` (0: raw)
    kZero,     // all zeros: shares the one zero-page descriptor (share_zero_pages)
    kMissing,  // could not be read: an empty descriptor (offset 0), the dump is incomplete
  };
  Kind kind = Kind::kData;
  uint32_t flags = 0;            // kPageFlagZlib / Lzo / Snappy / Zstd, or 0
  std::vector<std::byte> bytes;
  // For kData: the byte the whole page repeats (1-255; zero pages are kZero or written each), or -1. A writer stores such a page's
  // data once per file and points every later one's descriptor at it (x86 kernels fill freed
  // init memory and text padding with int3, 0xcc: 11 MB of a 6.1 guest's -d 31 dump).
  int fill = -1;
};

// Compresses pages the way makedumpfile does (zlib, zstd level 1, lzo1x_1, snappy;
// raw when the result is not smaller). Keeps its compression contexts, so use one per thread;
// a page of one repeated byte is compressed once per encoder and then copied (EncodedPage::fill).
// `level` > 0 trades speed for size (zlib: libdeflate's 1-12, zstd: 1-22; lzo and snappy have
// none); readers need nothing different.
class PageEncoder {
 public:
  PageEncoder(Compression method, bool detect_zero_pages, int level = 0);
  ~PageEncoder();
  PageEncoder(const PageEncoder&) = delete;
  PageEncoder& operator=(const PageEncoder&) = delete;

  // Fills `out` (reusing its buffer) from one page of bytes.
  Result<void> Encode(std::span<const std::byte> page, EncodedPage& out);

  // zlib pages whose page-sized encoding did not inflate back to the page (then libdeflate's
  // was used): a bug to report, never a corrupt page.
  uint64_t deflate_check_failures() const { return deflate_check_failures_; }

 private:
  Result<void> Compress(std::span<const std::byte> page, EncodedPage& out);
  struct Contexts;
  Compression method_;
  bool detect_zero_;
  int level_;
  uint64_t deflate_check_failures_ = 0;
  std::unique_ptr<Contexts> ctx_;
};

struct KdumpFileOptions {
  Compression compression = Compression::kNone;  // recorded in the header's status
  bool share_zero_pages = false;  // reserve the shared zero page at the start of the data
  bool incomplete = false;        // set DUMP_DH_COMPRESSED_INCOMPLETE from the start
  bool split = false;             // a member of a --split set covering [start_pfn, end_pfn)
  uint64_t start_pfn = 0;
  uint64_t end_pfn = 0;           // split only
};

struct KdumpFileStats {
  uint64_t data_pages = 0;     // pages with their own data
  uint64_t compressed_pages = 0;
  uint64_t zero_pages = 0;     // pages sharing the zero-page descriptor
  uint64_t repeated_pages = 0; // pages of one repeated byte pointing at an earlier page's data
  uint64_t missing_pages = 0;  // empty descriptors
  uint64_t bytes = 0;          // size of the file (as laid out, not counting flattening)
  bool incomplete = false;
};

// Writes one kdump file (or one member of a split set) to a sink. The header, sub-header,
// notes and bitmaps are written on Create; pages are then added in ascending pfn order, one for
// each pfn the map marks dumped in the file's range; Finish() writes what is buffered, marks
// pages never added as missing, and rewrites the header if the status changed (in a flattened
// stream that is a second record for block 0: makedumpfile -R and coroner apply the later one,
// crash 8.0.2's record search may find either; it only happens when a read fails during the
// write, as known-missing pages set the status from the start). In the output
// every page's descriptor is written before its data, so a flattened stream cut anywhere still
// has a descriptor for every page whose data made it. `map` must outlive the writer.
class KdumpFileWriter {
 public:
  static Result<std::unique_ptr<KdumpFileWriter>> Create(const KdumpPageMap& map,
                                                         const DumpDescription& desc,
                                                         const KdumpFileOptions& options,
                                                         std::unique_ptr<ByteSink> sink);
  ~KdumpFileWriter();

  // The next pfn AddPage expects (`end` of the range once all are added).
  uint64_t next_pfn() const { return next_pfn_; }
  Result<void> AddPage(uint64_t pfn, const EncodedPage& page);
  // Pages written ahead of pfn order, before any AddPage, each pfn once, in any order (the
  // order their data goes into the file): EndEarly() (or the first AddPage) then writes their
  // descriptors in place, so a run cut short (a full disk) still holds them. AddPage skips them.
  // The collector puts the pages analysis needs first (kernel image, slab, page tables).
  Result<void> AddPageEarly(uint64_t pfn, const EncodedPage& page);
  Result<void> EndEarly();
  // Sets DUMP_DH_COMPRESSED_INCOMPLETE (written by Finish).
  void MarkIncomplete() { incomplete_ = true; }
  Result<KdumpFileStats> Finish();
  // Ends the file after a failure (a write error such as ENOSPC, or the caller stopping): writes
  // what can still be written, makes sure no descriptor points at page data that did not reach
  // the sink (those are zeroed, in place: offset 0 marks a missing page, and descriptors never
  // written read as zeros, which is the same), sets DUMP_DH_COMPRESSED_INCOMPLETE in block 0
  // (rewritten in place, so it needs no new space on a full disk) and finishes the sink. The
  // result opens as an incomplete dump holding every page written before the failure. Also
  // valid after Finish() failed.
  Result<KdumpFileStats> Abort();

 private:
  KdumpFileWriter() = default;
  Result<void> Start(const DumpDescription& desc);
  uint32_t Status() const;

  // The descriptor of `page`, the data to append for it (empty when it has none or shares
  // another page's) and where the data it points at ends in the file (0 for none).
  Result<void> MakeDesc(uint64_t pfn, const EncodedPage& page, std::array<std::byte, kPageDescSize>& d,
                        std::span<const std::byte>& data, uint64_t& data_end);
  Result<void> SkipEarly();
  struct EarlyPage {
    uint64_t pfn = 0;
    uint64_t index = 0;  // descriptor index
    uint64_t data_end = 0;  // end of its data in the file
    std::array<std::byte, kPageDescSize> desc{};
  };
  std::vector<EarlyPage> early_;
  size_t early_next_ = 0;
  std::vector<uint64_t> rank_index_;  // dumped pages below each 4096-pfn block of the range
  uint64_t Rank(uint64_t pfn);        // descriptor index of a dumped pfn
  bool early_done_ = false, early_written_ = false;

  const KdumpPageMap* map_ = nullptr;
  KdumpFileOptions opts_;
  std::unique_ptr<ByteSink> sink_;
  std::vector<std::byte> header_;  // block 0 as last written
  uint64_t block_size_ = 0;
  uint64_t range_end_ = 0;
  uint64_t next_pfn_ = 0;
  uint64_t zero_page_offset_ = 0;
  // The first page of each repeated byte written to this file: its descriptor and data end.
  struct FillCopy {
    std::array<std::byte, kPageDescSize> desc{};
    uint64_t data_end = 0;
  };
  std::array<std::optional<FillCopy>, 256> fill_copies_;
  std::unique_ptr<SequentialWriter> descs_, data_;
  uint64_t desc_off_ = 0;
  uint64_t descs_added_ = 0;   // descriptors appended so far
  uint64_t descs_total_ = 0;   // descriptors the file's range needs
  // Pages whose data may not be in the sink yet: (descriptor index, end of its data).
  std::vector<std::pair<uint64_t, uint64_t>> pending_;
  size_t pending_head_ = 0;
  bool incomplete_ = false;
  bool finished_ = false;
  KdumpFileStats stats_;
};

struct KdumpWriterOptions {
  Compression compression = Compression::kNone;
  int level = 0;  // 0: makedumpfile's speed (see PageEncoder)
  // makedumpfile -d 1 in kdump format: all-zero pages stay dumped but share one descriptor.
  bool share_zero_pages = false;
  bool mark_incomplete = false;
  // Which dumped pages to write; the rest become excluded (RAM, not dumped). Empty: all.
  std::function<bool(Pfn)> select;
};

struct KdumpWriteStats {
  std::vector<KdumpFileStats> files;  // one per sink
  std::vector<PfnRange> ranges;       // the pfns each file covers
  uint64_t dumped_pages = 0;          // pages in bitmap 2
  uint64_t excluded_pages = 0;        // RAM pages not dumped
  uint64_t missing_pages = 0;         // dumped pages written without data
  uint64_t read_errors = 0;           // of those, pages whose read failed
  std::vector<std::string> errors;    // the first few read errors
  bool incomplete = false;
};

// Writes `mem` as one kdump file per sink: one sink gives a plain file, several a split set
// (every file with the same disk_dump_header, as crash requires). A page whose read fails (kIo,
// a corrupt compressed page in the source, ...) is written as missing, counted, and the dump is
// marked incomplete; so are pages the source itself lacks (kTruncated). Output is deterministic:
// the same input gives the same bytes.
Result<KdumpWriteStats> WriteKdump(const PhysicalMemory& mem, const DumpDescription& desc,
                                   const KdumpWriterOptions& options,
                                   std::vector<std::unique_ptr<ByteSink>> sinks);

}  // namespace coroner
