#include "lib/dump/kdump_writer.h"

#include "lib/dump/page_deflate.h"

#include <libdeflate.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "lib/base/checked.h"
#include "lib/dump/kdump_compressed.h"

namespace coroner {
namespace {

constexpr int32_t kHeaderVersion = 6;  // what makedumpfile 1.7.x writes
constexpr size_t kUtsFieldSize = 65;
constexpr size_t kMaxErrorsKept = 10;

void Put32(std::byte* p, uint32_t v) { std::memcpy(p, &v, 4); }  // x86_64: little-endian
void Put64(std::byte* p, uint64_t v) { std::memcpy(p, &v, 8); }

uint32_t StatusFlagOf(Compression c) {
  switch (c) {
    case Compression::kZlib: return kPageFlagZlib;
    case Compression::kLzo: return kPageFlagLzo;
    case Compression::kSnappy: return kPageFlagSnappy;
    case Compression::kZstd: return kPageFlagZstd;
    case Compression::kNone: break;
  }
  return 0;
}

uint64_t DivideUp(uint64_t a, uint64_t b) { return a / b + (a % b ? 1 : 0); }

}  // namespace

// ---- KdumpPageMap ----

KdumpPageMap::KdumpPageMap(uint64_t max_mapnr, uint64_t page_size)
    : max_mapnr_(max_mapnr),
      page_size_(page_size),
      ram_(DivideUp(max_mapnr, 64)),
      dumped_(DivideUp(max_mapnr, 64)) {}

KdumpPageMap KdumpPageMap::FromMemory(const PhysicalMemory& mem,
                                      const std::function<bool(Pfn)>& select,
                                      uint64_t* truncated) {
  KdumpPageMap m(mem.pfn_limit(), mem.page_size());
  uint64_t missing = 0;
  for (uint64_t pfn = 0; pfn < m.max_mapnr_; ++pfn) {
    switch (mem.StateOf(Pfn{pfn})) {
      case PageState::kDumped:
        m.SetRam(pfn);
        if (!select || select(Pfn{pfn})) m.SetDumped(pfn);
        break;
      case PageState::kTruncated:
        m.SetRam(pfn);
        m.SetDumped(pfn);
        ++missing;
        break;
      case PageState::kExcluded:
        m.SetRam(pfn);
        break;
      case PageState::kNotPresent:
        break;
    }
  }
  if (truncated) *truncated = missing;
  return m;
}

uint64_t KdumpPageMap::NextDumped(uint64_t pfn, uint64_t limit) const {
  limit = std::min(limit, max_mapnr_);
  while (pfn < limit) {
    uint64_t w = dumped_[pfn / 64] >> (pfn % 64);
    if (w) return std::min(limit, pfn + static_cast<uint64_t>(std::countr_zero(w)));
    pfn = (pfn / 64 + 1) * 64;
  }
  return limit;
}

uint64_t KdumpPageMap::Count(const std::vector<uint64_t>& bits, uint64_t start, uint64_t end) const {
  end = std::min(end, max_mapnr_);
  uint64_t n = 0;
  while (start < end) {
    uint64_t w = bits[start / 64] >> (start % 64);
    uint64_t span = std::min<uint64_t>(64 - start % 64, end - start);
    if (span < 64) w &= (uint64_t{1} << span) - 1;
    n += static_cast<uint64_t>(std::popcount(w));
    start += span;
  }
  return n;
}

std::vector<PfnRange> KdumpPageMap::SplitRanges(size_t n) const {
  std::vector<PfnRange> out;
  if (n == 0) return out;
  const uint64_t total = CountDumped(0, max_mapnr_);
  uint64_t start = 0;
  uint64_t seen = 0;  // dumped pages below `pfn`
  uint64_t pfn = 0;
  for (size_t i = 1; i < n; ++i) {
    // File i-1 holds the dumped pages numbered [total*(i-1)/n, total*i/n).
    uint64_t want = total / n * i + total % n * i / n;  // floor(total * i / n), no overflow
    while (seen < want) {
      pfn = NextDumped(pfn, max_mapnr_);
      ++seen;
      ++pfn;
    }
    out.push_back({start, pfn - start});
    start = pfn;
  }
  out.push_back({start, max_mapnr_ - start});
  return out;
}

std::vector<std::byte> KdumpPageMap::Bytes(const std::vector<uint64_t>& bits, size_t bytes) const {
  std::vector<std::byte> out(bytes);
  size_t n = std::min(bytes, bits.size() * 8);
  if (n) std::memcpy(out.data(), bits.data(), n);  // x86_64: words are little-endian
  return out;
}

// ---- PageEncoder ----

struct PageEncoder::Contexts {
  // zlib pages are made by PageDeflater (page_deflate.h; a page-sized encoder, no per-page
  // set-up of tables sized for 32 KiB) and, with an explicit level or a page too big for it, by
  // libdeflate: the zlib stream format (RFC 1950) crash, makedumpfile and libkdumpfile inflate.
  // Each PageDeflater stream is inflated again and compared before it is used; one that does
  // not give the page back is made by libdeflate instead (and counted).
  PageDeflater page_deflate;
  libdeflate_decompressor* inflate = nullptr;
  std::vector<std::byte> check;
  libdeflate_compressor* deflate = nullptr;
  z_stream zlib{};
  bool zlib_ready = false;
  ZSTD_CCtx* zstd = nullptr;
  std::vector<unsigned char> lzo_work;
  // Each repeated-byte page as compressed the first time (page_size 0: not yet).
  struct Fill {
    std::vector<std::byte> bytes;
    uint32_t flags = 0;
    size_t page_size = 0;
  };
  std::array<Fill, 256> fills;
  ~Contexts() {
    if (zlib_ready) deflateEnd(&zlib);
    if (deflate) libdeflate_free_compressor(deflate);
    if (inflate) libdeflate_free_decompressor(inflate);
    if (zstd) ZSTD_freeCCtx(zstd);
  }
};

PageEncoder::PageEncoder(Compression method, bool detect_zero_pages, int level)
    : method_(method), detect_zero_(detect_zero_pages), level_(level), ctx_(std::make_unique<Contexts>()) {}

PageEncoder::~PageEncoder() = default;

Result<void> PageEncoder::Encode(std::span<const std::byte> page, EncodedPage& out) {
  out.flags = 0;
  out.fill = -1;
  // One repeated byte: page[i] == page[i + 1] for every i.
  const bool uniform = !page.empty() && std::memcmp(page.data(), page.data() + 1, page.size() - 1) == 0;
  if (!uniform) {
    out.kind = EncodedPage::Kind::kData;
    return Compress(page, out);
  }
  const auto value = static_cast<uint8_t>(page[0]);
  if (value == 0) {
    // Zero pages share a descriptor only when asked (-d 1); else each is written, as by
    // makedumpfile.
    if (detect_zero_) {
      out.kind = EncodedPage::Kind::kZero;
      out.bytes.clear();
      return Ok();
    }
    out.kind = EncodedPage::Kind::kData;
    return Compress(page, out);
  }
  out.kind = EncodedPage::Kind::kData;
  out.fill = value;
  Contexts::Fill& copy = ctx_->fills[value];
  if (copy.page_size != page.size()) {
    CORONER_TRY_VOID(Compress(page, out));
    copy.bytes = out.bytes;
    copy.flags = out.flags;
    copy.page_size = page.size();
    return Ok();
  }
  out.bytes = copy.bytes;
  out.flags = copy.flags;
  return Ok();
}

Result<void> PageEncoder::Compress(std::span<const std::byte> page, EncodedPage& out) {
  size_t len = 0;
  bool ok = false;
  switch (method_) {
    case Compression::kNone:
      break;
    case Compression::kZlib: {
      if (level_ == 0 && page.size() <= PageDeflater::kMaxInput) {
        if (!ctx_->inflate) ctx_->inflate = libdeflate_alloc_decompressor();
        out.bytes.resize(PageDeflater::Bound(page.size()));
        len = ctx_->page_deflate.Compress(page, out.bytes);
        if (len == 0) break;  // not smaller: stored raw
        ctx_->check.resize(page.size());
        size_t got = 0;
        if (ctx_->inflate &&
            libdeflate_zlib_decompress(ctx_->inflate, out.bytes.data(), len, ctx_->check.data(),
                                       page.size(), &got) == LIBDEFLATE_SUCCESS &&
            got == page.size() && std::memcmp(ctx_->check.data(), page.data(), got) == 0) {
          ok = true;
          break;
        }
        ++deflate_check_failures_;
      }
      if (!ctx_->deflate) ctx_->deflate = libdeflate_alloc_compressor(level_ > 0 ? std::min(level_, 12) : 2);
      if (ctx_->deflate) {
        out.bytes.resize(libdeflate_zlib_compress_bound(ctx_->deflate, page.size()));
        len = libdeflate_zlib_compress(ctx_->deflate, page.data(), page.size(), out.bytes.data(),
                                       out.bytes.size());
        ok = len > 0;
        break;
      }
      if (!ctx_->zlib_ready) {
        if (deflateInit(&ctx_->zlib, Z_BEST_SPEED) != Z_OK) break;
        ctx_->zlib_ready = true;
      } else if (deflateReset(&ctx_->zlib) != Z_OK) {
        break;
      }
      out.bytes.resize(deflateBound(&ctx_->zlib, page.size()));
      ctx_->zlib.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(page.data()));
      ctx_->zlib.avail_in = static_cast<uInt>(page.size());
      ctx_->zlib.next_out = reinterpret_cast<Bytef*>(out.bytes.data());
      ctx_->zlib.avail_out = static_cast<uInt>(out.bytes.size());
      ok = deflate(&ctx_->zlib, Z_FINISH) == Z_STREAM_END;
      len = ctx_->zlib.total_out;
      break;
    }
    case Compression::kLzo: {
      static const bool lzo_ready = lzo_init() == LZO_E_OK;
      if (!lzo_ready) break;
      ctx_->lzo_work.resize(LZO1X_1_MEM_COMPRESS);
      lzo_uint n = page.size() + page.size() / 16 + 64 + 3;
      out.bytes.resize(n);
      ok = lzo1x_1_compress(reinterpret_cast<const unsigned char*>(page.data()), page.size(),
                            reinterpret_cast<unsigned char*>(out.bytes.data()), &n,
                            ctx_->lzo_work.data()) == LZO_E_OK;
      len = n;
      break;
    }
    case Compression::kSnappy: {
      size_t n = snappy_max_compressed_length(page.size());
      out.bytes.resize(n);
      ok = snappy_compress(reinterpret_cast<const char*>(page.data()), page.size(),
                           reinterpret_cast<char*>(out.bytes.data()), &n) == SNAPPY_OK;
      len = n;
      break;
    }
    case Compression::kZstd: {
      if (!ctx_->zstd) ctx_->zstd = ZSTD_createCCtx();
      if (!ctx_->zstd) break;
      out.bytes.resize(ZSTD_compressBound(page.size()));
      size_t n = ZSTD_compressCCtx(ctx_->zstd, out.bytes.data(), out.bytes.size(), page.data(),
                                   page.size(), level_ > 0 ? std::min(level_, ZSTD_maxCLevel()) : 1);
      ok = !ZSTD_isError(n);
      len = n;
      break;
    }
  }
  // Like makedumpfile: a page compression does not shrink (or that fails) is stored raw.
  if (ok && len < page.size()) {
    out.bytes.resize(len);
    out.flags = StatusFlagOf(method_);
    return Ok();
  }
  out.bytes.assign(page.begin(), page.end());
  return Ok();
}

// ---- KdumpFileWriter ----

KdumpFileWriter::~KdumpFileWriter() = default;

Result<std::unique_ptr<KdumpFileWriter>> KdumpFileWriter::Create(const KdumpPageMap& map,
                                                                 const DumpDescription& desc,
                                                                 const KdumpFileOptions& options,
                                                                 std::unique_ptr<ByteSink> sink) {
  const uint64_t ps = map.page_size();
  if (ps < 512 || ps > (1u << 20) || !std::has_single_bit(ps)) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("page size {} is not a kdump block size", ps));
  }
  if (options.split && (options.start_pfn > options.end_pfn || options.end_pfn > map.max_mapnr())) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("split range {:#x}-{:#x} is outside max_mapnr {:#x}", options.start_pfn,
                             options.end_pfn, map.max_mapnr()));
  }
  auto w = std::unique_ptr<KdumpFileWriter>(new KdumpFileWriter());
  w->map_ = &map;
  w->opts_ = options;
  w->sink_ = std::move(sink);
  w->block_size_ = ps;
  w->incomplete_ = options.incomplete;
  CORONER_TRY_VOID(w->Start(desc));
  return w;
}

uint32_t KdumpFileWriter::Status() const {
  return StatusFlagOf(opts_.compression) | (incomplete_ ? kDumpStatusIncomplete : 0);
}

Result<void> KdumpFileWriter::Start(const DumpDescription& desc) {
  const uint64_t bs = block_size_;
  const KdumpPageMap& map = *map_;
  const uint64_t start = opts_.split ? opts_.start_pfn : 0;
  range_end_ = opts_.split ? opts_.end_pfn : map.max_mapnr();

  NoteBlob notes = BuildNoteBlob(desc);
  const uint64_t sub_hdr_blocks = DivideUp(kKdumpSubHeaderSize + notes.bytes.size(), bs);
  const uint64_t bitmap_bytes = std::max<uint64_t>(1, DivideUp(DivideUp(map.max_mapnr(), 8), bs)) * bs;
  const uint64_t bitmap_blocks = 2 * bitmap_bytes / bs;
  if (sub_hdr_blocks > INT32_MAX || bitmap_blocks > UINT32_MAX) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: notes or bitmaps too large for a kdump header", sink_->name()));
  }
  const uint64_t bitmap_off = (1 + sub_hdr_blocks) * bs;
  const uint64_t desc_off = bitmap_off + 2 * bitmap_bytes;
  const uint64_t ndesc = map.CountDumped(start, range_end_);
  const uint64_t data_off = desc_off + ndesc * kPageDescSize;

  // Block 0: struct disk_dump_header (diskdump_mod.h), x86_64 layout.
  header_.assign(bs, std::byte{0});
  std::byte* h = header_.data();
  std::memcpy(h, "KDUMP   ", 8);
  Put32(h + 8, static_cast<uint32_t>(kHeaderVersion));
  for (size_t i = 0; i < 6; ++i) {
    const std::string& s = desc.utsname[i];
    std::memcpy(h + 12 + i * kUtsFieldSize, s.data(), std::min(s.size(), kUtsFieldSize - 1));
  }
  Put64(h + 408, static_cast<uint64_t>(desc.timestamp_sec));  // struct timeval, 8-aligned
  Put64(h + 416, static_cast<uint64_t>(desc.timestamp_usec));
  Put32(h + 424, Status());
  Put32(h + 428, static_cast<uint32_t>(bs));
  Put32(h + 432, static_cast<uint32_t>(sub_hdr_blocks));
  Put32(h + 436, static_cast<uint32_t>(bitmap_blocks));
  Put32(h + 440, static_cast<uint32_t>(std::min<uint64_t>(map.max_mapnr(), UINT32_MAX)));
  // total_ram_blocks, device_blocks, written_blocks: left 0 as makedumpfile does.
  Put32(h + 456, desc.current_cpu);
  int32_t nr_cpus = desc.nr_cpus > 0 ? desc.nr_cpus : std::max(1, notes.prstatus_count);
  Put32(h + 460, static_cast<uint32_t>(nr_cpus));
  CORONER_TRY_VOID(sink_->WriteAt(0, header_));

  // Blocks 1..sub_hdr_size: struct kdump_sub_header, then the notes (makedumpfile puts them
  // right after it; offset_vmcoreinfo points into them).
  std::vector<std::byte> sub(sub_hdr_blocks * bs);
  std::byte* s = sub.data();
  Put64(s + 0, desc.phys_base);
  Put32(s + 8, static_cast<uint32_t>(desc.dump_level));
  if (opts_.split) {
    Put32(s + 12, 1);
    Put64(s + 16, std::min<uint64_t>(opts_.start_pfn, UINT32_MAX));
    Put64(s + 24, std::min<uint64_t>(opts_.end_pfn, UINT32_MAX));
    Put64(s + 80, opts_.start_pfn);
    Put64(s + 88, opts_.end_pfn);
  }
  if (!notes.bytes.empty()) {
    const uint64_t note_off = bs + kKdumpSubHeaderSize;
    if (notes.vmcoreinfo_offset) {
      Put64(s + 32, note_off + *notes.vmcoreinfo_offset);
      Put64(s + 40, notes.vmcoreinfo_size);
    }
    Put64(s + 48, note_off);
    Put64(s + 56, notes.bytes.size());
    std::memcpy(s + kKdumpSubHeaderSize, notes.bytes.data(), notes.bytes.size());
  }
  Put64(s + 96, map.max_mapnr());
  CORONER_TRY_VOID(sink_->WriteAt(bs, sub));

  // The bitmaps: whole in every file of a split set.
  CORONER_TRY_VOID(sink_->WriteAt(bitmap_off, map.RamBitmap(bitmap_bytes)));
  CORONER_TRY_VOID(sink_->WriteAt(bitmap_off + bitmap_bytes, map.DumpedBitmap(bitmap_bytes)));

  desc_off_ = desc_off;
  descs_total_ = ndesc;
  // The descriptor area is written last in places (early pages, Abort): have its blocks now,
  // so a disk that fills with page data can still take them.
  sink_->Reserve(desc_off, ndesc * kPageDescSize);
  descs_ = std::make_unique<SequentialWriter>(*sink_, desc_off);
  data_ = std::make_unique<SequentialWriter>(*sink_, data_off);
  if (opts_.share_zero_pages) {
    zero_page_offset_ = data_off;
    std::vector<std::byte> zeros(bs);
    CORONER_TRY_VOID(data_->Append(zeros));
  }
  next_pfn_ = map.NextDumped(start, range_end_);
  return Ok();
}

Result<void> KdumpFileWriter::MakeDesc(uint64_t pfn, const EncodedPage& page,
                                       std::array<std::byte, kPageDescSize>& d,
                                       std::span<const std::byte>& data, uint64_t& data_end) {
  d = {};
  data = {};
  data_end = 0;
  switch (page.kind) {
    case EncodedPage::Kind::kData: {
      const uint64_t n = page.bytes.size();
      if (n == 0 || n > block_size_ || (page.flags == 0 && n != block_size_) || page.fill > 255) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("page {:#x}: {} bytes with flags {:#x} (block size {}, fill {})", pfn, n,
                                 page.flags, block_size_, page.fill),
                     AtPfn(pfn));
      }
      if (page.fill >= 0) {
        if (const auto& copy = fill_copies_[static_cast<size_t>(page.fill)]) {
          // The same bytes as an earlier page of this file: the same descriptor.
          d = copy->desc;
          data_end = copy->data_end;
          ++stats_.repeated_pages;
          break;
        }
      }
      Put64(d.data(), data_->offset());
      Put32(d.data() + 8, static_cast<uint32_t>(n));
      Put32(d.data() + 12, page.flags);
      data = page.bytes;
      data_end = data_->offset() + n;
      if (page.fill >= 0) fill_copies_[static_cast<size_t>(page.fill)] = FillCopy{d, data_end};
      ++stats_.data_pages;
      if (page.flags) ++stats_.compressed_pages;
      break;
    }
    case EncodedPage::Kind::kZero:
      if (!opts_.share_zero_pages) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("page {:#x}: a shared zero page, but share_zero_pages is off", pfn),
                     AtPfn(pfn));
      }
      Put64(d.data(), zero_page_offset_);
      Put32(d.data() + 8, static_cast<uint32_t>(block_size_));
      ++stats_.zero_pages;
      break;
    case EncodedPage::Kind::kMissing:
      // offset 0: crash reports the page as incomplete, and so do we (kTruncated).
      ++stats_.missing_pages;
      incomplete_ = true;
      break;
  }
  return Ok();
}

Result<void> KdumpFileWriter::AddPageEarly(uint64_t pfn, const EncodedPage& page) {
  if (finished_ || early_done_ || descs_added_ > 0) {
    return Error(ErrorCode::kInvalidArgument, "AddPageEarly after AddPage, EndEarly or Finish");
  }
  const uint64_t start = opts_.split ? opts_.start_pfn : 0;
  if (pfn < start || pfn >= range_end_ || !map_->IsDumped(pfn)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: early page {:#x} is not a dumped page of this file", sink_->name(), pfn),
                 AtPfn(pfn));
  }
  EarlyPage e;
  e.pfn = pfn;
  e.index = Rank(pfn);
  std::span<const std::byte> data;
  CORONER_TRY_VOID(MakeDesc(pfn, page, e.desc, data, e.data_end));
  early_.push_back(e);
  if (!data.empty()) return data_->Append(data);
  return Ok();
}

Result<void> KdumpFileWriter::EndEarly() {
  if (early_done_) return Ok();
  early_done_ = true;
  if (!early_.empty()) {
    // The data first, then the descriptors at their places (so none points at data not there).
    CORONER_TRY_VOID(data_->Flush());
    std::sort(early_.begin(), early_.end(), [](const EarlyPage& a, const EarlyPage& b) { return a.pfn < b.pfn; });
    for (size_t i = 1; i < early_.size(); ++i) {
      if (early_[i].pfn == early_[i - 1].pfn) {
        return Error(ErrorCode::kInvalidArgument, fmt::format("early page {:#x} added twice", early_[i].pfn));
      }
    }
    std::vector<std::byte> run;
    uint64_t run_index = 0;
    for (size_t i = 0; i <= early_.size(); ++i) {
      if (i == early_.size() || (i > 0 && early_[i].index != early_[i - 1].index + 1)) {
        CORONER_TRY_VOID(sink_->WriteAt(desc_off_ + run_index * kPageDescSize, run));
        run.clear();
        if (i == early_.size()) break;
      }
      if (run.empty()) run_index = early_[i].index;
      run.insert(run.end(), early_[i].desc.begin(), early_[i].desc.end());
    }
    early_written_ = true;
  }
  return SkipEarly();
}

uint64_t KdumpFileWriter::Rank(uint64_t pfn) {
  constexpr uint64_t kBlock = 4096;
  const uint64_t start = opts_.split ? opts_.start_pfn : 0;
  if (rank_index_.empty()) {
    uint64_t n = 0;
    for (uint64_t b = start; b < range_end_; b += kBlock) {
      rank_index_.push_back(n);
      n += map_->CountDumped(b, std::min(range_end_, b + kBlock));
    }
  }
  const uint64_t block = (pfn - start) / kBlock;
  return rank_index_[block] + map_->CountDumped(start + block * kBlock, pfn);
}

// Appends the saved descriptors of early pages that come next in pfn order.
Result<void> KdumpFileWriter::SkipEarly() {
  while (early_next_ < early_.size() && next_pfn_ == early_[early_next_].pfn) {
    CORONER_TRY_VOID(descs_->Append(early_[early_next_].desc));
    ++descs_added_;
    ++early_next_;
    next_pfn_ = map_->NextDumped(next_pfn_ + 1, range_end_);
  }
  return Ok();
}

Result<void> KdumpFileWriter::AddPage(uint64_t pfn, const EncodedPage& page) {
  if (finished_) return Error(ErrorCode::kInvalidArgument, "AddPage after Finish");
  if (!early_done_) CORONER_TRY_VOID(EndEarly());
  if (pfn != next_pfn_) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: page {:#x} added, but the next dumped page is {:#x}", sink_->name(),
                             pfn, next_pfn_),
                 AtPfn(pfn));
  }
  std::array<std::byte, kPageDescSize> d{};
  std::span<const std::byte> data;
  uint64_t data_end = 0;
  CORONER_TRY_VOID(MakeDesc(pfn, page, d, data, data_end));
  CORONER_TRY_VOID(descs_->Append(d));
  ++descs_added_;
  if (data.empty() && data_end > data_->flushed()) {
    // A repeated page pointing at data still buffered: Abort must know, as for that page.
    pending_.emplace_back(descs_added_ - 1, data_end);
  }
  if (!data.empty()) {
    // The descriptors go out before the data they point at (see the class comment).
    if (data_->WouldFlush(data.size())) CORONER_TRY_VOID(descs_->Flush());
    pending_.emplace_back(descs_added_ - 1, data_end);
    CORONER_TRY_VOID(data_->Append(data));
    const uint64_t durable = data_->flushed();
    while (pending_head_ < pending_.size() && pending_[pending_head_].second <= durable) ++pending_head_;
    if (pending_head_ == pending_.size()) {
      pending_.clear();
      pending_head_ = 0;
    }
  }
  next_pfn_ = map_->NextDumped(pfn + 1, range_end_);
  return SkipEarly();
}

Result<KdumpFileStats> KdumpFileWriter::Finish() {
  if (finished_) return Error(ErrorCode::kInvalidArgument, "Finish called twice");
  EncodedPage missing;
  missing.kind = EncodedPage::Kind::kMissing;
  if (!early_done_) CORONER_TRY_VOID(EndEarly());
  while (next_pfn_ < range_end_) CORONER_TRY_VOID(AddPage(next_pfn_, missing));
  // On a failure here the writer is not finished: Abort() can still end the file.
  CORONER_TRY_VOID(descs_->Flush());
  CORONER_TRY_VOID(data_->Flush());
  finished_ = true;
  std::array<std::byte, 4> status;
  Put32(status.data(), Status());
  if (std::memcmp(header_.data() + 424, status.data(), 4) != 0) {
    // Rewritten in place; in a flattened stream this is a second record for block 0, which
    // makedumpfile -R and coroner apply last-wins.
    std::memcpy(header_.data() + 424, status.data(), 4);
    CORONER_TRY_VOID(sink_->WriteAt(0, header_));
  }
  CORONER_TRY_VOID(sink_->Finish());
  stats_.bytes = data_->offset();
  stats_.incomplete = incomplete_;
  return stats_;
}

Result<KdumpFileStats> KdumpFileWriter::Abort() {
  if (finished_) return Error(ErrorCode::kInvalidArgument, "Abort after Finish");
  finished_ = true;
  incomplete_ = true;
  // Best effort, a block at a time: on a full disk, what fits is kept.
  descs_->FlushWhatFits(block_size_);
  data_->FlushWhatFits(block_size_);
  const uint64_t durable_data = data_->flushed();
  const uint64_t durable_descs = (descs_->flushed() - desc_off_) / kPageDescSize;
  // A descriptor cut by the failure (partly written) is zeroed too.
  const uint64_t touched_descs = (descs_->flushed() - desc_off_ + kPageDescSize - 1) / kPageDescSize;
  uint64_t first_bad = descs_added_;
  for (size_t i = pending_head_; i < pending_.size(); ++i) {
    if (pending_[i].second > durable_data) {
      first_bad = pending_[i].first;
      break;
    }
  }
  first_bad = std::min(first_bad, durable_descs);
  if (first_bad < touched_descs) {
    std::vector<std::byte> zeros((touched_descs - first_bad) * kPageDescSize);
    CORONER_TRY_VOID(sink_->WriteAt(desc_off_ + first_bad * kPageDescSize, zeros));
  }
  const uint64_t good = std::min(first_bad, durable_descs);
  // Early pages: their descriptors went out after their data, so those written are right;
  // put back any the zeroing above covered.
  // If EndEarly did not get to write them, write those whose data made it now.
  uint64_t early_good = 0;
  for (const EarlyPage& e : early_) {
    const bool durable = early_written_ || e.data_end <= durable_data;
    if (!durable) continue;
    if (!early_written_ || (e.index >= first_bad && e.index < touched_descs)) {
      CORONER_TRY_VOID(sink_->WriteAt(desc_off_ + e.index * kPageDescSize, e.desc));
    }
    if (e.index >= good) ++early_good;
  }
  std::array<std::byte, 4> status;
  Put32(status.data(), Status());
  std::memcpy(header_.data() + 424, status.data(), 4);
  CORONER_TRY_VOID(sink_->WriteAt(0, header_));
  CORONER_TRY_VOID(sink_->Finish());
  stats_.missing_pages = descs_total_ - good - early_good;
  if (stats_.data_pages + stats_.zero_pages + stats_.repeated_pages > good + early_good) {
    // Counted as added, but lost: keep data + zero + repeated + missing = descriptors.
    uint64_t lost = stats_.data_pages + stats_.zero_pages + stats_.repeated_pages - good - early_good;
    const uint64_t from_repeated = std::min(lost, stats_.repeated_pages);
    stats_.repeated_pages -= from_repeated;
    stats_.data_pages -= std::min(lost - from_repeated, stats_.data_pages);
  }
  stats_.bytes = durable_data;
  stats_.incomplete = true;
  return stats_;
}

// ---- WriteKdump ----

Result<KdumpWriteStats> WriteKdump(const PhysicalMemory& mem, const DumpDescription& desc,
                                   const KdumpWriterOptions& options,
                                   std::vector<std::unique_ptr<ByteSink>> sinks) {
  if (sinks.empty()) return Error(ErrorCode::kInvalidArgument, "no output file given");
  KdumpWriteStats st;
  uint64_t truncated = 0;
  const KdumpPageMap map = KdumpPageMap::FromMemory(mem, options.select, &truncated);
  const bool split = sinks.size() > 1;
  st.ranges = split ? map.SplitRanges(sinks.size())
                    : std::vector<PfnRange>{{0, map.max_mapnr()}};
  st.dumped_pages = map.CountDumped(0, map.max_mapnr());
  st.excluded_pages = map.CountRam(0, map.max_mapnr()) - st.dumped_pages;

  // Pages the source already lacks are known now, so the first header says so.
  const bool incomplete_at_start = options.mark_incomplete || truncated > 0;
  std::vector<std::unique_ptr<KdumpFileWriter>> writers;
  for (size_t i = 0; i < sinks.size(); ++i) {
    KdumpFileOptions fo;
    fo.compression = options.compression;
    fo.share_zero_pages = options.share_zero_pages;
    fo.incomplete = incomplete_at_start;
    fo.split = split;
    fo.start_pfn = st.ranges[i].start;
    fo.end_pfn = st.ranges[i].start + st.ranges[i].count;
    CORONER_TRY(auto w, KdumpFileWriter::Create(map, desc, fo, std::move(sinks[i])));
    writers.push_back(std::move(w));
  }

  PageEncoder encoder(options.compression, options.share_zero_pages, options.level);
  std::vector<std::byte> page(map.page_size());
  EncodedPage encoded;
  for (size_t i = 0; i < writers.size(); ++i) {
    KdumpFileWriter& w = *writers[i];
    const uint64_t end = st.ranges[i].start + st.ranges[i].count;
    for (uint64_t pfn = w.next_pfn(); pfn < end; pfn = w.next_pfn()) {
      auto r = mem.ReadPage(Pfn{pfn}, page);
      if (r) {
        CORONER_TRY_VOID(encoder.Encode(page, encoded));
      } else {
        encoded.kind = EncodedPage::Kind::kMissing;
        encoded.bytes.clear();
        ++st.missing_pages;
        if (r.error().code() != ErrorCode::kTruncated) {
          ++st.read_errors;
          if (st.errors.size() < kMaxErrorsKept) st.errors.push_back(r.error().ToString());
        }
      }
      CORONER_TRY_VOID(w.AddPage(pfn, encoded));
    }
  }

  st.incomplete = incomplete_at_start || st.missing_pages > 0;
  for (auto& w : writers) {
    if (st.incomplete) w->MarkIncomplete();  // every member of a split set: same header
    CORONER_TRY(KdumpFileStats fs, w->Finish());
    st.files.push_back(fs);
  }
  return st;
}

}  // namespace coroner
