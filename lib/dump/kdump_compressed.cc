#include "lib/dump/kdump_compressed.h"

#include <algorithm>
#include <bit>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "lib/base/byte_reader.h"
#include "lib/base/checked.h"
#include "lib/dump/compression.h"

namespace coroner {
namespace {

constexpr uint64_t kMaxBitmapBytes = 1ull << 32;  // 2^35 pfns: 128 TiB of 4 KiB pages
constexpr size_t kDescChunk = 512;                // descriptors per cached chunk
constexpr size_t kDescCacheSlots = 16;

// A bitmap of pfns with O(1) rank (set bits below a position).
class Bitmap {
 public:
  Bitmap() = default;
  explicit Bitmap(std::span<const std::byte> bytes) {
    words_.resize((bytes.size() + 7) / 8);
    std::memcpy(words_.data(), bytes.data(), bytes.size());
    ranks_.resize(words_.size() / 8 + 1);
    uint64_t total = 0;
    for (size_t i = 0; i < words_.size(); ++i) {
      if (i % 8 == 0) ranks_[i / 8] = total;
      total += static_cast<uint64_t>(std::popcount(words_[i]));
    }
    total_ = total;
  }
  uint64_t bits() const { return words_.size() * 64; }
  bool Test(uint64_t i) const {
    return i < bits() && ((words_[i / 64] >> (i % 64)) & 1);
  }
  // Number of set bits in [0, i).
  uint64_t Rank(uint64_t i) const {
    if (i >= bits()) return total_;
    size_t w = i / 64;
    uint64_t r = ranks_[w / 8];
    for (size_t k = w & ~size_t{7}; k < w; ++k) r += static_cast<uint64_t>(std::popcount(words_[k]));
    uint64_t mask = (i % 64) ? (~uint64_t{0} >> (64 - i % 64)) : 0;
    return r + static_cast<uint64_t>(std::popcount(words_[w] & mask));
  }
  // First set bit at or after i, or `limit` if none below limit.
  uint64_t NextSet(uint64_t i, uint64_t limit) const {
    limit = std::min(limit, bits());
    while (i < limit) {
      uint64_t w = words_[i / 64] >> (i % 64);
      if (w) return std::min(limit, i + static_cast<uint64_t>(std::countr_zero(w)));
      i = (i / 64 + 1) * 64;
    }
    return limit;
  }
  uint64_t NextClear(uint64_t i, uint64_t limit) const {
    limit = std::min(limit, bits());
    while (i < limit) {
      uint64_t w = ~words_[i / 64] >> (i % 64);
      if (w) return std::min(limit, i + static_cast<uint64_t>(std::countr_zero(w)));
      i = (i / 64 + 1) * 64;
    }
    return limit;
  }

 private:
  std::vector<uint64_t> words_;
  std::vector<uint64_t> ranks_;
  uint64_t total_ = 0;
};

Compression MethodOf(uint32_t flags) {
  if (flags & kPageFlagZlib) return Compression::kZlib;
  if (flags & kPageFlagLzo) return Compression::kLzo;
  if (flags & kPageFlagSnappy) return Compression::kSnappy;
  if (flags & kPageFlagZstd) return Compression::kZstd;
  return Compression::kNone;
}

// One file of the set.
class KdumpFile {
 public:
  static Result<std::unique_ptr<KdumpFile>> Open(const ByteSource& src, Diagnostics& diag);

  const KdumpHeader& header() const { return h_; }
  uint64_t start_pfn() const { return start_; }
  uint64_t end_pfn() const { return end_; }
  uint64_t max_mapnr() const { return max_mapnr_; }  // as far as the bitmaps reach
  const Bitmap& ram() const { return ram_; }
  const Bitmap& dumped() const { return dumped_; }
  const ByteSource& src() const { return src_; }
  bool Covers(uint64_t pfn) const { return pfn >= start_ && pfn < end_; }

  PageState StateOf(uint64_t pfn) const {
    if (dumped_.Test(pfn)) {
      return Readable(DescIndex(pfn)) ? PageState::kDumped : PageState::kTruncated;
    }
    return ram_.Test(pfn) ? PageState::kExcluded : PageState::kNotPresent;
  }

  Result<void> ReadPage(uint64_t pfn, std::span<std::byte> out) const;

  // Reads every descriptor once: which are readable, and which methods compress pages.
  void Scan(Diagnostics& diag);
  const std::set<Compression>& methods() const { return methods_; }
  uint64_t unreadable() const { return unreadable_count_; }
  uint64_t DumpedInRange() const { return dumped_.Rank(end_) - dumped_.Rank(start_); }

 private:
  explicit KdumpFile(const ByteSource& src) : src_(src) {}
  uint64_t DescIndex(uint64_t pfn) const { return dumped_.Rank(pfn) - first_rank_; }
  bool Readable(uint64_t idx) const {
    return idx < readable_.size() * 64 && ((readable_[idx / 64] >> (idx % 64)) & 1);
  }
  bool DataFits(const PageDesc& d) const {
    return d.offset > 0 && d.size > 0 && d.size <= block_size_ &&
           RangeFits(static_cast<uint64_t>(d.offset), d.size, src_.size());
  }
  Result<PageDesc> Desc(uint64_t idx) const;

  const ByteSource& src_;
  KdumpHeader h_;
  uint64_t block_size_ = 0;
  uint64_t start_ = 0, end_ = 0;
  uint64_t max_mapnr_ = 0;
  uint64_t first_rank_ = 0;
  uint64_t desc_offset_ = 0;
  Bitmap ram_, dumped_;
  std::vector<uint64_t> readable_;
  uint64_t unreadable_count_ = 0;
  std::set<Compression> methods_;

  mutable std::mutex cache_mu_;
  struct Slot {
    uint64_t chunk = ~uint64_t{0};
    std::vector<std::byte> bytes;
  };
  mutable std::array<Slot, kDescCacheSlots> cache_;
  mutable size_t next_victim_ = 0;
};

Result<std::unique_ptr<KdumpFile>> KdumpFile::Open(const ByteSource& src, Diagnostics& diag) {
  const std::string& path = src.name();
  std::vector<std::byte> block0(kDiskDumpHeaderSize);
  if (auto r = src.ReadExact(0, block0); !r) {
    return Error(ErrorCode::kTruncated, fmt::format("{}: kdump header is cut short", path), AtOffset(0));
  }
  // The sub-header starts at block_size; read what is there (it may be cut).
  int32_t bs_raw = static_cast<int32_t>(LoadLE32(block0.data() + 428));
  std::vector<std::byte> sub;
  if (bs_raw > 0 && bs_raw <= (1 << 20)) {
    uint64_t avail = src.size() > static_cast<uint64_t>(bs_raw) ? src.size() - bs_raw : 0;
    sub.resize(std::min<uint64_t>(kKdumpSubHeaderSize, avail));
    if (!sub.empty() && !src.ReadExact(static_cast<uint64_t>(bs_raw), sub)) sub.clear();
  }
  auto hdr = ParseKdumpHeader(block0, sub);
  if (!hdr) return std::move(hdr).error().WithContext(path);

  auto f = std::unique_ptr<KdumpFile>(new KdumpFile(src));
  f->h_ = std::move(*hdr);
  const KdumpHeader& h = f->h_;
  f->block_size_ = static_cast<uint64_t>(h.block_size);
  const uint64_t bs = f->block_size_;

  uint64_t bitmap_off = (1 + static_cast<uint64_t>(h.sub_hdr_size)) * bs;
  uint64_t bitmap_len = static_cast<uint64_t>(h.bitmap_blocks) * bs;
  if (bitmap_len > kMaxBitmapBytes) {
    return Error(ErrorCode::kBadData,
                 fmt::format("{}: bitmap of {} blocks is implausibly large", path, h.bitmap_blocks),
                 AtOffset(436));
  }
  if (!RangeFits(bitmap_off, bitmap_len, src.size())) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: the page bitmaps ({:#x} bytes at {:#x}) are cut short (file size {:#x})",
                             path, bitmap_len, bitmap_off, src.size()),
                 AtOffset(bitmap_off));
  }
  std::vector<std::byte> bitmaps(bitmap_len);
  CORONER_TRY_VOID(src.ReadExact(bitmap_off, bitmaps));
  uint64_t half = bitmap_len / 2;
  f->ram_ = Bitmap(std::span(bitmaps).first(half));
  f->dumped_ = Bitmap(std::span(bitmaps).subspan(half, half));

  uint64_t max_mapnr = h.max_mapnr();
  if (max_mapnr > half * 8) {
    diag.Warn(fmt::format("{}: max_mapnr {:#x} exceeds the bitmap ({:#x} pfns); using the bitmap",
                          path, max_mapnr, half * 8));
    max_mapnr = half * 8;
  }
  f->max_mapnr_ = max_mapnr;
  f->start_ = 0;
  f->end_ = max_mapnr;
  if (h.header_version >= 2 && h.split) {
    f->start_ = h.start_pfn();
    f->end_ = std::min(h.end_pfn(), max_mapnr);
    if (f->start_ > f->end_) {
      return Error(ErrorCode::kBadData,
                   fmt::format("{}: split range start_pfn {:#x} > end_pfn {:#x}", path, f->start_, f->end_),
                   AtOffset(bs + 16));
    }
  }
  f->first_rank_ = f->dumped_.Rank(f->start_);
  f->desc_offset_ = bitmap_off + bitmap_len;
  return f;
}

Result<PageDesc> KdumpFile::Desc(uint64_t idx) const {
  uint64_t chunk = idx / kDescChunk;
  std::lock_guard lock(cache_mu_);
  Slot* slot = nullptr;
  for (Slot& s : cache_) {
    if (s.chunk == chunk) { slot = &s; break; }
  }
  if (!slot) {
    slot = &cache_[next_victim_];
    next_victim_ = (next_victim_ + 1) % cache_.size();
    uint64_t off = desc_offset_ + chunk * kDescChunk * kPageDescSize;
    uint64_t want = kDescChunk * kPageDescSize;
    uint64_t avail = off < src_.size() ? src_.size() - off : 0;
    slot->chunk = ~uint64_t{0};
    slot->bytes.resize(std::min(want, avail));
    if (!slot->bytes.empty()) CORONER_TRY_VOID(src_.ReadExact(off, slot->bytes));
    slot->chunk = chunk;
  }
  uint64_t in = (idx % kDescChunk) * kPageDescSize;
  if (in + kPageDescSize > slot->bytes.size()) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: page descriptor {} is past the end of the file", src_.name(), idx),
                 AtOffset(desc_offset_ + idx * kPageDescSize));
  }
  return ParsePageDesc(std::span<const std::byte, kPageDescSize>(slot->bytes.data() + in, kPageDescSize));
}

void KdumpFile::Scan(Diagnostics& diag) {
  uint64_t n = DumpedInRange();
  readable_.assign((n + 63) / 64, 0);
  std::vector<std::byte> buf;
  const uint64_t per_read = 4096;
  for (uint64_t i = 0; i < n; i += per_read) {
    uint64_t cnt = std::min(per_read, n - i);
    uint64_t off = desc_offset_ + i * kPageDescSize;
    uint64_t avail = off < src_.size() ? (src_.size() - off) / kPageDescSize : 0;
    cnt = std::min(cnt, avail);
    if (cnt == 0) break;
    buf.resize(cnt * kPageDescSize);
    if (!src_.ReadExact(off, buf)) break;
    for (uint64_t k = 0; k < cnt; ++k) {
      PageDesc d = ParsePageDesc(std::span<const std::byte, kPageDescSize>(buf.data() + k * kPageDescSize, kPageDescSize));
      if (!DataFits(d)) continue;
      readable_[(i + k) / 64] |= uint64_t{1} << ((i + k) % 64);
      methods_.insert(MethodOf(d.flags));
    }
  }
  uint64_t ok = 0;
  for (uint64_t w : readable_) ok += static_cast<uint64_t>(std::popcount(w));
  unreadable_count_ = n - ok;
  if (unreadable_count_) {
    diag.Warn(fmt::format("{}: {} of {} dumped pages are missing from the file (incomplete dump)",
                          src_.name(), unreadable_count_, n));
  }
}

Result<void> KdumpFile::ReadPage(uint64_t pfn, std::span<std::byte> out) const {
  uint64_t idx = DescIndex(pfn);
  CORONER_TRY(PageDesc d, Desc(idx));
  uint64_t desc_at = desc_offset_ + idx * kPageDescSize;
  if (d.offset <= 0 || d.size == 0) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("page {:#x} was never written (the dump is incomplete)", pfn),
                 AtOffset(desc_at));
  }
  if (d.size > block_size_) {
    return Error(ErrorCode::kBadData,
                 fmt::format("{}: page {:#x} descriptor says {} bytes (block size {})", src_.name(),
                             pfn, d.size, block_size_),
                 AtOffset(desc_at));
  }
  if (!RangeFits(static_cast<uint64_t>(d.offset), d.size, src_.size())) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("page {:#x} is missing: {} ends at {:#x}", pfn, src_.name(), src_.size()),
                 AtOffset(static_cast<uint64_t>(d.offset)));
  }
  Compression method = MethodOf(d.flags);
  if (method == Compression::kNone) {
    if (d.size != block_size_) {
      return Error(ErrorCode::kBadData,
                   fmt::format("{}: raw page {:#x} has {} bytes", src_.name(), pfn, d.size),
                   AtOffset(desc_at));
    }
    return src_.ReadExact(static_cast<uint64_t>(d.offset), out);
  }
  thread_local std::vector<std::byte> scratch;
  scratch.resize(d.size);
  CORONER_TRY_VOID(src_.ReadExact(static_cast<uint64_t>(d.offset), scratch));
  auto r = DecompressPage(method, scratch, out);
  if (!r) {
    return std::move(r).error()
        .WithContext(fmt::format("{}: page {:#x}", src_.name(), pfn))
        .At(AtOffset(static_cast<uint64_t>(d.offset)));
  }
  return Ok();
}

class KdumpMemory final : public PhysicalMemory {
 public:
  // `files` are sorted by start_pfn and do not overlap.
  explicit KdumpMemory(std::vector<std::unique_ptr<KdumpFile>> files) : files_(std::move(files)) {
    page_size_ = static_cast<uint64_t>(files_[0]->header().block_size);
    for (auto& f : files_) pfn_limit_ = std::max(pfn_limit_, f->end_pfn());
    // Every member of a split set has both bitmaps whole (makedumpfile writes them for all
    // pfns), so the pages of a missing member are still known: RAM, and dumped or not.
    pfn_limit_ = std::max(pfn_limit_, files_[0]->max_mapnr());
    uint64_t covered = 0;
    for (auto& f : files_) {
      if (f->start_pfn() > covered) gaps_.push_back({covered, f->start_pfn() - covered});
      covered = std::max(covered, f->end_pfn());
    }
    if (pfn_limit_ > covered) gaps_.push_back({covered, pfn_limit_ - covered});
  }
  uint64_t page_size() const override { return page_size_; }
  uint64_t pfn_limit() const override { return pfn_limit_; }

  PageState StateOf(Pfn pfn) const override {
    if (const KdumpFile* f = FileFor(pfn.value)) return f->StateOf(pfn.value);
    return Uncovered(pfn.value);
  }

  // A triage file (its CORONER note): a page left out is one its analysis did not read.
  void set_triage(bool t) { triage_ = t; }

  Result<void> ReadPage(Pfn pfn, std::span<std::byte> out) const override {
    if (out.size() != page_size_) return Error(ErrorCode::kInvalidArgument, "ReadPage buffer is not one page");
    const KdumpFile* f = FileFor(pfn.value);
    if (!f) return PageError(pfn, Uncovered(pfn.value));
    if (!f->dumped().Test(pfn.value)) {
      const PageState state = f->StateOf(pfn.value);
      if (triage_ && state == PageState::kExcluded) {
        return Error(ErrorCode::kExcluded,
                     fmt::format("page {:#x} is not in this triage file (it holds only the pages sys, log, ps "
                                 "and bt read; the full dump has the rest)", pfn.value),
                     AtPhys(pfn.value * page_size_));
      }
      return PageError(pfn, state);
    }
    auto r = f->ReadPage(pfn.value, out);
    if (!r) return std::move(r).error().At(AtPhys(pfn.value * page_size_));
    return Ok();
  }

  void ForEachDumpedRange(const std::function<void(PfnRange)>& fn) const override {
    for (auto& f : files_) {
      uint64_t p = f->start_pfn();
      const uint64_t end = f->end_pfn();
      while (p < end) {
        p = f->dumped().NextSet(p, end);
        if (p >= end) break;
        uint64_t q = f->dumped().NextClear(p, end);
        // Split the run where pages are missing from the file.
        uint64_t run = p;
        for (uint64_t i = p; i < q; ++i) {
          if (f->StateOf(i) != PageState::kDumped) {
            if (i > run) fn({run, i - run});
            run = i + 1;
          }
        }
        if (q > run) fn({run, q - run});
        p = q;
      }
    }
  }

  PageCounts CountPages() const override {
    PageCounts c;
    c.total = pfn_limit_;
    // The RAM bitmap is whole in every file of a split set: count it once.
    const Bitmap& ram = files_[0]->ram();
    c.present = ram.Rank(pfn_limit_);
    // Pages the filter dropped: RAM but not dumped. Dumped pages outside the RAM bitmap
    // (QEMU writes both bitmaps alike) are counted as present.
    uint64_t dumped_not_ram = 0;
    auto count_not_ram = [&](const Bitmap& dumped, uint64_t p, uint64_t end) {
      while (p < end) {
        p = dumped.NextSet(p, end);
        if (p >= end) break;
        uint64_t q = dumped.NextClear(p, end);
        dumped_not_ram += (q - p) - (ram.Rank(q) - ram.Rank(p));
        p = q;
      }
    };
    for (auto& f : files_) {
      uint64_t dumped = f->DumpedInRange();
      c.dumped += dumped - f->unreadable();
      c.truncated += f->unreadable();
      count_not_ram(f->dumped(), f->start_pfn(), f->end_pfn());
    }
    // Dumped pages of missing split members: truncated.
    const Bitmap& dumped0 = files_[0]->dumped();
    for (const PfnRange& g : gaps_) {
      c.truncated += dumped0.Rank(g.start + g.count) - dumped0.Rank(g.start);
      count_not_ram(dumped0, g.start, g.start + g.count);
    }
    c.present += dumped_not_ram;
    c.excluded = c.present - c.dumped - c.truncated;
    return c;
  }

 private:
  const KdumpFile* FileFor(uint64_t pfn) const {
    for (auto& f : files_) {
      if (f->Covers(pfn)) return f.get();
    }
    return nullptr;
  }

  // A pfn no file covers (a member of the split set is missing), known from the bitmaps.
  PageState Uncovered(uint64_t pfn) const {
    if (pfn >= pfn_limit_) return PageState::kNotPresent;
    if (files_[0]->dumped().Test(pfn)) return PageState::kTruncated;
    if (files_[0]->ram().Test(pfn)) return PageState::kExcluded;
    return PageState::kNotPresent;
  }

  std::vector<std::unique_ptr<KdumpFile>> files_;
  std::vector<PfnRange> gaps_;  // pfn ranges below pfn_limit_ that no file covers
  uint64_t page_size_ = 0;
  uint64_t pfn_limit_ = 0;
  bool triage_ = false;
};

void AddHeaderSections(const KdumpHeader& h, DumpInfo& info) {
  HeaderSection d{"disk_dump_header", {}};
  d.fields = {
      {"signature", h.signature},
      {"header_version", int64_t{h.header_version}},
      {"utsname.sysname", h.utsname[0]},
      {"utsname.nodename", h.utsname[1]},
      {"utsname.release", h.utsname[2]},
      {"utsname.version", h.utsname[3]},
      {"utsname.machine", h.utsname[4]},
      {"utsname.domainname", h.utsname[5]},
      {"timestamp.tv_sec", h.timestamp_sec},
      {"timestamp.tv_usec", h.timestamp_usec},
      {"status", uint64_t{h.status}, true},
      {"block_size", int64_t{h.block_size}},
      {"sub_hdr_size", int64_t{h.sub_hdr_size}},
      {"bitmap_blocks", uint64_t{h.bitmap_blocks}},
      {"max_mapnr", uint64_t{h.max_mapnr_32}},
      {"total_ram_blocks", uint64_t{h.total_ram_blocks}},
      {"device_blocks", uint64_t{h.device_blocks}},
      {"written_blocks", uint64_t{h.written_blocks}},
      {"current_cpu", uint64_t{h.current_cpu}},
      {"nr_cpus", int64_t{h.nr_cpus}},
  };
  info.headers.push_back(std::move(d));
  if (h.sub_hdr_size <= 0) return;
  HeaderSection s{"kdump_sub_header", {}};
  s.fields.push_back({"phys_base", h.phys_base, true});
  if (h.header_version >= 1) s.fields.push_back({"dump_level", int64_t{h.dump_level}});
  if (h.header_version >= 2) {
    s.fields.push_back({"split", int64_t{h.split}});
    s.fields.push_back({"start_pfn", h.start_pfn_32, true});
    s.fields.push_back({"end_pfn", h.end_pfn_32, true});
  }
  if (h.header_version >= 3) {
    s.fields.push_back({"offset_vmcoreinfo", h.offset_vmcoreinfo, true});
    s.fields.push_back({"size_vmcoreinfo", h.size_vmcoreinfo});
  }
  if (h.header_version >= 4) {
    s.fields.push_back({"offset_note", h.offset_note, true});
    s.fields.push_back({"size_note", h.size_note});
  }
  if (h.header_version >= 5) {
    s.fields.push_back({"offset_eraseinfo", h.offset_eraseinfo, true});
    s.fields.push_back({"size_eraseinfo", h.size_eraseinfo});
  }
  if (h.header_version >= 6) {
    s.fields.push_back({"start_pfn_64", h.start_pfn_64, true});
    s.fields.push_back({"end_pfn_64", h.end_pfn_64, true});
    s.fields.push_back({"max_mapnr_64", h.max_mapnr_64, true});
  }
  info.headers.push_back(std::move(s));
}

// Reads a bounded blob (VMCOREINFO, notes) the header points at.
std::vector<std::byte> ReadBlob(const ByteSource& src, uint64_t off, uint64_t size, const char* what,
                                Diagnostics& diag) {
  constexpr uint64_t kMax = 64ull << 20;
  if (size == 0) return {};
  if (size > kMax || !RangeFits(off, size, src.size())) {
    diag.Warn(fmt::format("{}: {} ({} bytes at {:#x}) is outside the file", src.name(), what, size, off));
    return {};
  }
  std::vector<std::byte> b(size);
  if (!src.ReadExact(off, b)) return {};
  return b;
}

}  // namespace

PageDesc ParsePageDesc(std::span<const std::byte, kPageDescSize> b) {
  PageDesc d;
  d.offset = static_cast<int64_t>(LoadLE64(b.data()));
  d.size = LoadLE32(b.data() + 8);
  d.flags = LoadLE32(b.data() + 12);
  d.page_flags = LoadLE64(b.data() + 16);
  return d;
}

Result<KdumpHeader> ParseKdumpHeader(std::span<const std::byte> block0,
                                     std::span<const std::byte> sub_header) {
  ByteReader r(block0, Endian::kLittle);
  KdumpHeader h;
  CORONER_TRY(auto sig, r.Bytes(8));
  h.signature.assign(reinterpret_cast<const char*>(sig.data()), 8);
  if (h.signature == "DISKDUMP") {
    return Error(ErrorCode::kUnsupported, "old diskdump format (DISKDUMP signature) is not supported yet",
                 AtOffset(0));
  }
  if (h.signature != "KDUMP   ") {
    return Error(ErrorCode::kBadData, "not a kdump-compressed file (no \"KDUMP   \" signature)", AtOffset(0));
  }
  CORONER_TRY(h.header_version, r.I32());
  for (auto& s : h.utsname) {
    CORONER_TRY(auto v, r.FixedString(65));
    s = std::string(v);
  }
  CORONER_TRY_VOID(r.Seek(408));  // struct timeval is 8-byte aligned on x86_64
  CORONER_TRY(h.timestamp_sec, r.I64());
  CORONER_TRY(h.timestamp_usec, r.I64());
  CORONER_TRY(h.status, r.U32());
  CORONER_TRY(h.block_size, r.I32());
  CORONER_TRY(h.sub_hdr_size, r.I32());
  CORONER_TRY(h.bitmap_blocks, r.U32());
  CORONER_TRY(h.max_mapnr_32, r.U32());
  CORONER_TRY(h.total_ram_blocks, r.U32());
  CORONER_TRY(h.device_blocks, r.U32());
  CORONER_TRY(h.written_blocks, r.U32());
  CORONER_TRY(h.current_cpu, r.U32());
  CORONER_TRY(h.nr_cpus, r.I32());

  if (h.header_version < 1 || h.header_version > 64) {
    return Error(ErrorCode::kBadData, fmt::format("header_version {} is not a kdump version", h.header_version),
                 AtOffset(8));
  }
  if (h.block_size < 512 || h.block_size > (1 << 20) || (h.block_size & (h.block_size - 1)) != 0) {
    return Error(ErrorCode::kBadData, fmt::format("block_size {} is not a page size", h.block_size),
                 AtOffset(428));
  }
  if (h.sub_hdr_size < 0 || h.sub_hdr_size > (1 << 20)) {
    return Error(ErrorCode::kBadData, fmt::format("sub_hdr_size {} is implausible", h.sub_hdr_size),
                 AtOffset(432));
  }
  if (h.bitmap_blocks == 0 || h.bitmap_blocks % 2 != 0) {
    return Error(ErrorCode::kBadData,
                 fmt::format("bitmap_blocks {} must be even and non-zero", h.bitmap_blocks), AtOffset(436));
  }
  if (!h.utsname[4].empty() && h.utsname[4] != "x86_64") {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("kdump files of machine \"{}\" are not supported yet", h.utsname[4]),
                 AtOffset(12 + 4 * 65));
  }
  if (h.sub_hdr_size == 0) return h;

  // Sub-header fields by version; a field the file does not have stays zero.
  const uint64_t base = static_cast<uint64_t>(h.block_size);
  ByteReader s(sub_header, Endian::kLittle, base);
  auto u64 = [&](uint64_t& out) { if (auto v = s.U64()) out = *v; };
  auto i32 = [&](int32_t& out) { if (auto v = s.I32()) out = *v; };
  u64(h.phys_base);
  if (h.header_version >= 1) i32(h.dump_level);
  if (h.header_version >= 2) {
    i32(h.split);
    u64(h.start_pfn_32);
    u64(h.end_pfn_32);
  }
  if (h.header_version >= 3) {
    u64(h.offset_vmcoreinfo);
    u64(h.size_vmcoreinfo);
  }
  if (h.header_version >= 4) {
    u64(h.offset_note);
    u64(h.size_note);
  }
  if (h.header_version >= 5) {
    u64(h.offset_eraseinfo);
    u64(h.size_eraseinfo);
  }
  if (h.header_version >= 6) {
    u64(h.start_pfn_64);
    u64(h.end_pfn_64);
    u64(h.max_mapnr_64);
  }
  return h;
}

Result<void> OpenKdumpSet(const std::vector<const ByteSource*>& sources, Dump& dump,
                          const std::string& format_name) {
  std::vector<std::unique_ptr<KdumpFile>> files;
  for (const ByteSource* src : sources) {
    CORONER_TRY(auto f, KdumpFile::Open(*src, dump.diagnostics));
    files.push_back(std::move(f));
  }
  if (files.size() > 1) {
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a->start_pfn() < b->start_pfn(); });
    for (size_t i = 0; i < files.size(); ++i) {
      const auto& f = files[i];
      if (!f->header().split) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{}: several files were given but this one is not part of a split set",
                                 f->src().name()));
      }
      if (f->header().block_size != files[0]->header().block_size ||
          f->header().max_mapnr() != files[0]->header().max_mapnr()) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} and {} are not from the same dump (block size or max_mapnr differ)",
                                 files[0]->src().name(), f->src().name()));
      }
      if (i > 0 && files[i - 1]->end_pfn() > f->start_pfn()) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} and {} overlap (pfn {:#x})", files[i - 1]->src().name(),
                                 f->src().name(), f->start_pfn()));
      }
      if (i > 0 && files[i - 1]->end_pfn() < f->start_pfn()) {
        dump.diagnostics.Warn(fmt::format("split set has a gap: pfns {:#x}-{:#x} are in no file",
                                          files[i - 1]->end_pfn(), f->start_pfn()));
        dump.info.incomplete = true;
        dump.info.incomplete_reasons.push_back("a file of the split set is missing");
      }
    }
  }
  // Also a lone member of a split set: the other members' pages are missing.
  const KdumpHeader& first = files.front()->header();
  if ((files.size() > 1 || (first.header_version >= 2 && first.split)) &&
      (files.front()->start_pfn() != 0 || files.back()->end_pfn() < files.back()->max_mapnr())) {
    dump.info.incomplete = true;
    dump.info.incomplete_reasons.push_back("a file of the split set is missing (pfn range not covered)");
  }

  DumpInfo& info = dump.info;
  info.format = files.size() > 1 ? fmt::format("{} (split set of {} files)", format_name, files.size())
                                 : format_name;
  info.machine = "x86_64";
  const KdumpHeader& h0 = files[0]->header();
  info.page_size = static_cast<uint64_t>(h0.block_size);
  if (h0.header_version >= 1 && h0.sub_hdr_size > 0) info.dump_level = h0.dump_level;

  std::set<Compression> methods;
  for (auto& f : files) {
    f->Scan(dump.diagnostics);
    methods.insert(f->methods().begin(), f->methods().end());
    const KdumpHeader& h = f->header();
    if (h.status & kDumpStatusIncomplete) {
      info.incomplete = true;
      info.incomplete_reasons.push_back(
          fmt::format("{}: the writer marked the dump incomplete (status {:#x})", f->src().name(), h.status));
    }
    if (f->unreadable()) {
      info.incomplete = true;
      info.incomplete_reasons.push_back(
          fmt::format("{}: {} dumped pages are missing from the file (size {:#x})", f->src().name(),
                      f->unreadable(), f->src().size()));
    }
    AddHeaderSections(h, info);
  }
  for (Compression c : methods) info.compression.emplace_back(CompressionName(c));

  // VMCOREINFO and notes come from the first file (all files of a set carry them).
  const ByteSource& src0 = files[0]->src();
  if (h0.header_version >= 3 && h0.size_vmcoreinfo) {
    auto blob = ReadBlob(src0, h0.offset_vmcoreinfo, h0.size_vmcoreinfo, "VMCOREINFO", dump.diagnostics);
    if (!blob.empty()) {
      std::string_view text(reinterpret_cast<const char*>(blob.data()), blob.size());
      info.vmcoreinfo = ParseVmcoreinfo(text, dump.diagnostics);
    }
  }
  if (h0.header_version >= 4 && h0.size_note) {
    auto blob = ReadBlob(src0, h0.offset_note, h0.size_note, "ELF notes", dump.diagnostics);
    info.notes = ParseElfNotes(blob, h0.offset_note, dump.diagnostics);
    if (!info.vmcoreinfo) {
      for (const ElfNote& n : info.notes) {
        if (n.name == "VMCOREINFO") {
          std::string_view text(reinterpret_cast<const char*>(n.desc.data()), n.desc.size());
          info.vmcoreinfo = ParseVmcoreinfo(text, dump.diagnostics);
        }
      }
    }
  }
  auto memory = std::make_unique<KdumpMemory>(std::move(files));
  for (const ElfNote& n : info.notes) {
    if (n.name == kCoronerNoteName && n.type == kCoronerNoteTriage) {
      memory->set_triage(true);
      info.triage.assign(reinterpret_cast<const char*>(n.desc.data()), n.desc.size());
      while (!info.triage.empty() && info.triage.back() == '\0') info.triage.pop_back();
      if (info.triage.empty()) info.triage = "yes";
    }
  }
  dump.memory = std::move(memory);
  return Ok();
}

}  // namespace coroner
