// The kdump writer's output checked byte by byte against the layout makedumpfile writes
// (diskdump_mod.h, x86_64), independently of coroner's reader; and its parts (page map, split
// ranges, page encoder, ordered file writer).
#include "lib/dump/kdump_writer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string_view>
#include <thread>

#include "lib/dump/compression.h"
#include "lib/dump/kdump_compressed.h"
#include "lib/dump/testing/synthetic_dump.h"

namespace coroner {
namespace {

using testing::BuildKdump;
using testing::BuildKdumpSplit;
using testing::DumpSpec;
using testing::LoadLE64At;
using testing::PageContents;
using testing::SpecMemory;
using testing::StandardSpec;

uint32_t U32At(const std::vector<std::byte>& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}
std::string_view StrAt(const std::vector<std::byte>& b, size_t off, size_t max) {
  const char* p = reinterpret_cast<const char*>(b.data() + off);
  return std::string_view(p, strnlen(p, max));
}
bool Bit(const std::vector<std::byte>& b, size_t bitmap_off, uint64_t pfn) {
  return (static_cast<unsigned>(b[bitmap_off + pfn / 8]) >> (pfn % 8)) & 1;
}

KdumpWriterOptions Opts(Compression c, bool share_zero = false, bool incomplete = false) {
  KdumpWriterOptions o;
  o.compression = c;
  o.share_zero_pages = share_zero;
  o.mark_incomplete = incomplete;
  return o;
}

// StandardSpec: 256 pfns, 162 dumped, 38 excluded, 56 holes.
constexpr uint64_t kDumped = 162;

TEST(KdumpWriter, HeaderAtMakedumpfileOffsets) {
  DumpSpec spec = StandardSpec();
  auto f = BuildKdump(spec, Opts(Compression::kZlib));
  const size_t bs = 4096;
  EXPECT_EQ(StrAt(f, 0, 8), "KDUMP   ");
  EXPECT_EQ(U32At(f, 8), 6u);                       // header_version
  EXPECT_EQ(StrAt(f, 12, 65), "Linux");             // utsname.sysname
  EXPECT_EQ(StrAt(f, 12 + 65, 65), "test-node");    // utsname.nodename
  EXPECT_EQ(StrAt(f, 12 + 4 * 65, 65), "x86_64");   // utsname.machine
  EXPECT_EQ(LoadLE64At(f, 408), 1700000000u);       // timestamp.tv_sec
  EXPECT_EQ(U32At(f, 424), kPageFlagZlib);          // status: compression, complete
  EXPECT_EQ(U32At(f, 428), bs);                     // block_size
  EXPECT_EQ(U32At(f, 432), 1u);                     // sub_hdr_size
  EXPECT_EQ(U32At(f, 436), 2u);                     // bitmap_blocks: 1 block each
  EXPECT_EQ(U32At(f, 440), 256u);                   // max_mapnr
  EXPECT_EQ(U32At(f, 460), 2u);                     // nr_cpus: two PRSTATUS notes
  // kdump_sub_header at block 1.
  EXPECT_EQ(LoadLE64At(f, bs + 0), 0u);             // phys_base
  EXPECT_EQ(U32At(f, bs + 8), 31u);                 // dump_level
  EXPECT_EQ(U32At(f, bs + 12), 0u);                 // split
  const uint64_t note_off = LoadLE64At(f, bs + 48);
  EXPECT_EQ(note_off, bs + 104);                    // notes follow the sub-header
  EXPECT_EQ(U32At(f, note_off + 8), 1u);            // first note: NT_PRSTATUS
  EXPECT_EQ(StrAt(f, note_off + 12, 5), "CORE");
  const uint64_t vi_off = LoadLE64At(f, bs + 32), vi_size = LoadLE64At(f, bs + 40);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(f.data() + vi_off), vi_size),
            spec.description.vmcoreinfo);
  EXPECT_LT(vi_off + vi_size, note_off + LoadLE64At(f, bs + 56) + 1);  // inside the notes
  EXPECT_EQ(LoadLE64At(f, bs + 80), 0u);            // start_pfn_64
  EXPECT_EQ(LoadLE64At(f, bs + 96), 256u);          // max_mapnr_64

  // Bitmaps at (1 + sub_hdr_size) blocks.
  const size_t bm1 = 2 * bs, bm2 = 3 * bs;
  EXPECT_TRUE(Bit(f, bm1, 0) && Bit(f, bm2, 0));      // dumped
  EXPECT_TRUE(Bit(f, bm1, 40) && !Bit(f, bm2, 40));   // excluded
  EXPECT_TRUE(!Bit(f, bm1, 48) && !Bit(f, bm2, 48));  // hole
  EXPECT_TRUE(Bit(f, bm1, 255) && !Bit(f, bm2, 255));

  // Descriptors in pfn order, then the data right after them.
  const size_t desc = 4 * bs, data = desc + kDumped * kPageDescSize;
  EXPECT_EQ(LoadLE64At(f, desc), data);
  auto pd3 = ParsePageDesc(std::span<const std::byte, kPageDescSize>(f.data() + desc + 3 * 24, 24));
  EXPECT_EQ(pd3.flags, 0u);  // pfn 3: random, stored raw
  EXPECT_EQ(pd3.size, bs);
  auto pd1 = ParsePageDesc(std::span<const std::byte, kPageDescSize>(f.data() + desc + 1 * 24, 24));
  EXPECT_EQ(pd1.flags, kPageFlagZlib);
  EXPECT_LT(pd1.size, bs);
  std::vector<std::byte> page(bs);
  ASSERT_TRUE(DecompressPage(Compression::kZlib,
                             std::span(f).subspan(static_cast<size_t>(pd1.offset), pd1.size), page));
  EXPECT_EQ(page, PageContents(spec, 1));

  // The reader's own header parser agrees.
  auto h = ParseKdumpHeader(std::span(f).first(kDiskDumpHeaderSize),
                            std::span(f).subspan(bs, kKdumpSubHeaderSize));
  ASSERT_TRUE(h) << h.error().ToString();
  EXPECT_EQ(h->max_mapnr(), 256u);
  EXPECT_EQ(h->nr_cpus, 2);
  EXPECT_EQ(h->utsname[2], "6.1.0-test-amd64");
}

TEST(KdumpWriter, StatusCarriesEachCompressionFlagAsMakedumpfileDoes) {
  DumpSpec spec = StandardSpec();
  EXPECT_EQ(U32At(BuildKdump(spec, Opts(Compression::kNone)), 424), 0u);
  EXPECT_EQ(U32At(BuildKdump(spec, Opts(Compression::kLzo)), 424), kPageFlagLzo);
  EXPECT_EQ(U32At(BuildKdump(spec, Opts(Compression::kSnappy)), 424), kPageFlagSnappy);
  EXPECT_EQ(U32At(BuildKdump(spec, Opts(Compression::kZstd)), 424), kPageFlagZstd);
  EXPECT_EQ(U32At(BuildKdump(spec, Opts(Compression::kZstd, false, true)), 424),
            kPageFlagZstd | kDumpStatusIncomplete);
}

TEST(KdumpWriter, OutputIsDeterministic) {
  DumpSpec spec = StandardSpec();
  for (Compression c : {Compression::kNone, Compression::kZlib, Compression::kLzo,
                        Compression::kSnappy, Compression::kZstd}) {
    EXPECT_EQ(BuildKdump(spec, Opts(c)), BuildKdump(spec, Opts(c)))
        << CompressionName(c);
    EXPECT_EQ(BuildKdump(spec, Opts(c), true), BuildKdump(spec, Opts(c), true));
  }
  EXPECT_EQ(BuildKdumpSplit(spec, 3, Opts(Compression::kLzo)),
            BuildKdumpSplit(spec, 3, Opts(Compression::kLzo)));
}

TEST(KdumpWriter, SplitFilesShareHeaderAndBitmapsAndCoverTheirRange) {
  DumpSpec spec = StandardSpec();
  auto files = BuildKdumpSplit(spec, 3, Opts(Compression::kSnappy));
  ASSERT_EQ(files.size(), 3u);
  const size_t bs = 4096;
  uint64_t expected_start = 0, pages = 0;
  for (size_t i = 0; i < 3; ++i) {
    const auto& f = files[i];
    // crash refuses a split set whose disk_dump_headers differ (diskdump.c add_diskdump_data).
    EXPECT_EQ(std::memcmp(f.data(), files[0].data(), kDiskDumpHeaderSize), 0);
    EXPECT_EQ(std::memcmp(f.data() + 2 * bs, files[0].data() + 2 * bs, 2 * bs), 0);  // bitmaps
    EXPECT_EQ(U32At(f, bs + 12), 1u);  // split
    uint64_t start = LoadLE64At(f, bs + 80), end = LoadLE64At(f, bs + 88);
    EXPECT_EQ(LoadLE64At(f, bs + 16), start);  // the 32-bit copies
    EXPECT_EQ(LoadLE64At(f, bs + 24), end);
    EXPECT_EQ(start, expected_start);
    expected_start = end;
    // Descriptors only for this range: the first one points right past them.
    uint64_t n = 0;
    for (uint64_t p = start; p < end; ++p) n += spec.StateOf(p) == PageState::kDumped;
    EXPECT_EQ(n, 54u) << "file " << i;  // 162 dumped pages, balanced three ways
    EXPECT_EQ(LoadLE64At(f, 4 * bs), 4 * bs + n * kPageDescSize);
    pages += n;
  }
  EXPECT_EQ(expected_start, 256u);
  EXPECT_EQ(pages, kDumped);
}

TEST(KdumpWriter, ZeroPagesShareOneDescriptor) {
  DumpSpec spec = StandardSpec();
  auto shared = BuildKdump(spec, Opts(Compression::kNone, true));
  auto plain = BuildKdump(spec, Opts(Compression::kNone));
  const size_t bs = 4096, desc = 4 * bs, data = desc + kDumped * kPageDescSize;
  // The zero page is stored first, raw; pfn 5 (5 % 13 == 5) and pfn 18 point at it.
  uint64_t idx5 = 5, idx18 = 18;
  auto d5 = ParsePageDesc(std::span<const std::byte, kPageDescSize>(shared.data() + desc + idx5 * 24, 24));
  auto d18 = ParsePageDesc(std::span<const std::byte, kPageDescSize>(shared.data() + desc + idx18 * 24, 24));
  EXPECT_EQ(static_cast<uint64_t>(d5.offset), data);
  EXPECT_EQ(d18.offset, d5.offset);
  EXPECT_EQ(d5.size, bs);
  EXPECT_EQ(d5.flags, 0u);
  EXPECT_EQ(LoadLE64At(shared, desc), data + bs);  // pfn 0's data follows the zero page
  // Zero pages among the dumped pfns: 5, 18, 31, 70, 83, 96, 109, 122, 135, 148, 200, 213, 226.
  EXPECT_EQ(plain.size() - shared.size(), (13 - 1) * bs);
}

TEST(KdumpWriter, PageEncoderMatchesCompressPage) {
  DumpSpec spec = StandardSpec();
  for (Compression c : {Compression::kZlib, Compression::kLzo, Compression::kSnappy, Compression::kZstd}) {
    PageEncoder enc(c, false);
    EncodedPage out;
    for (uint64_t pfn : {0, 1, 3, 5, 20}) {
      auto page = PageContents(spec, pfn);
      ASSERT_TRUE(enc.Encode(page, out));
      auto ref = CompressPage(c, page);
      ASSERT_TRUE(ref);
      EXPECT_EQ(out.kind, EncodedPage::Kind::kData);
      if (ref->empty()) {  // does not shrink: raw
        EXPECT_EQ(out.flags, 0u) << CompressionName(c) << " pfn " << pfn;
        EXPECT_EQ(out.bytes, page);
      } else if (c == Compression::kZlib) {
        // zlib pages come from PageDeflater, not zlib's deflate: other bytes, the same stream
        // format; they must inflate back and be no larger than zlib's.
        EXPECT_EQ(out.flags, kPageFlagZlib);
        EXPECT_LE(out.bytes.size(), ref->size() + 16) << "pfn " << pfn;
        std::vector<std::byte> back(page.size());
        ASSERT_TRUE(DecompressPage(Compression::kZlib, out.bytes, back)) << "pfn " << pfn;
        EXPECT_EQ(back, page);
      } else {
        EXPECT_NE(out.flags, 0u);
        EXPECT_EQ(out.bytes, *ref) << CompressionName(c) << " pfn " << pfn;
      }
    }
  }
  PageEncoder zero(Compression::kZstd, true);
  EncodedPage out;
  ASSERT_TRUE(zero.Encode(PageContents(spec, 5), out));
  EXPECT_EQ(out.kind, EncodedPage::Kind::kZero);
}

TEST(KdumpWriter, PageMapFromMemory) {
  DumpSpec spec = StandardSpec();
  spec.ranges.push_back({256, 4, PageState::kTruncated});
  auto mem = SpecMemory(spec);
  uint64_t truncated = 0;
  auto map = KdumpPageMap::FromMemory(*mem, [](Pfn p) { return p.value != 7; }, &truncated);
  EXPECT_EQ(map.max_mapnr(), 260u);
  EXPECT_EQ(truncated, 4u);
  EXPECT_EQ(map.CountDumped(0, 260), kDumped - 1 + 4);  // pfn 7 deselected; truncated kept
  EXPECT_EQ(map.CountRam(0, 260), 200u + 4);
  EXPECT_TRUE(map.IsRam(7) && !map.IsDumped(7));
  EXPECT_EQ(map.NextDumped(40, 260), 64u);
  EXPECT_EQ(map.NextDumped(230, 256), 256u);
  auto ranges = map.SplitRanges(2);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(map.CountDumped(0, ranges[0].count), 82u);  // 165 / 2
  EXPECT_EQ(ranges[1].start + ranges[1].count, 260u);
}

TEST(KdumpWriter, FileWriterTakesPagesInOrderAndFillsTheRestAsMissing) {
  DumpSpec spec = StandardSpec();
  auto mem = SpecMemory(spec);
  auto map = KdumpPageMap::FromMemory(*mem);
  auto sink = std::make_unique<MemorySink>("order");
  MemorySink* raw = sink.get();
  auto w = KdumpFileWriter::Create(map, spec.description, {}, std::move(sink));
  ASSERT_TRUE(w) << w.error().ToString();
  EXPECT_EQ((*w)->next_pfn(), 0u);
  EncodedPage page;
  page.bytes = PageContents(spec, 0);
  ASSERT_TRUE((*w)->AddPage(0, page));
  EXPECT_EQ((*w)->next_pfn(), 1u);
  auto bad = (*w)->AddPage(2, page);  // skips pfn 1
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  page.kind = EncodedPage::Kind::kZero;  // zero sharing is off
  EXPECT_FALSE((*w)->AddPage(1, page));
  auto st = (*w)->Finish();
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->data_pages, 1u);
  EXPECT_EQ(st->missing_pages, kDumped - 1);
  EXPECT_TRUE(st->incomplete);
  EXPECT_EQ(U32At(raw->bytes(), 424), kDumpStatusIncomplete);  // header rewritten at Finish
}

// The collector's shape: pages encoded out of order on several threads, then added in pfn order
// by one writer, give the same bytes as the single-threaded WriteKdump.
TEST(KdumpWriter, ParallelEncodingThenOrderedWritingIsIdentical) {
  DumpSpec spec = StandardSpec();
  auto mem = SpecMemory(spec);
  const Compression c = Compression::kZstd;
  auto map = KdumpPageMap::FromMemory(*mem);
  std::vector<uint64_t> pfns;
  for (uint64_t p = map.NextDumped(0, map.max_mapnr()); p < map.max_mapnr();
       p = map.NextDumped(p + 1, map.max_mapnr())) {
    pfns.push_back(p);
  }
  std::vector<EncodedPage> encoded(pfns.size());
  auto work = [&](size_t first) {
    PageEncoder enc(c, true);
    std::vector<std::byte> page(4096);
    for (size_t i = first; i < pfns.size(); i += 3) {
      ASSERT_TRUE(mem->ReadPage(Pfn{pfns[i]}, page));
      ASSERT_TRUE(enc.Encode(page, encoded[i]));
    }
  };
  std::thread t1(work, 0), t2(work, 1), t3(work, 2);
  t1.join();
  t2.join();
  t3.join();
  auto out = testing::CaptureOutput();
  KdumpFileOptions fo;
  fo.compression = c;
  fo.share_zero_pages = true;
  auto w = KdumpFileWriter::Create(map, spec.description, fo, std::move(out.sink));
  ASSERT_TRUE(w);
  for (size_t i = 0; i < pfns.size(); ++i) ASSERT_TRUE((*w)->AddPage(pfns[i], encoded[i]));
  auto st = (*w)->Finish();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->zero_pages, 13u);
  EXPECT_FALSE(st->incomplete);
  EXPECT_EQ(out.memory->bytes(), BuildKdump(spec, Opts(c, true)));
}

}  // namespace
}  // namespace coroner
