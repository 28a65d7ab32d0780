// Every reader/writer pair round-trips synthetic dumps with exact page contents and page counts;
// the four page outcomes stay distinct (excluded, hole, truncated, I/O error); damaged inputs
// (cut, corrupt, garbage, missing split members, reordered or overwritten flattened records)
// give the documented result and never crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>

#include "lib/dump/dump.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/elf_writer.h"
#include "lib/dump/flattened.h"
#include "lib/dump/kdump_compressed.h"
#include "lib/dump/kdump_writer.h"
#include "lib/dump/testing/synthetic_dump.h"

namespace coroner {
namespace {

using namespace coroner::testing;  // NOLINT: test helpers
using Bytes = std::vector<std::byte>;

KdumpWriterOptions Opts(Compression c, bool share_zero = false) {
  KdumpWriterOptions o;
  o.compression = c;
  o.share_zero_pages = share_zero;
  return o;
}

std::unique_ptr<Dump> Open(std::vector<std::pair<std::string, Bytes>> files) {
  auto d = OpenBytes(std::move(files));
  EXPECT_TRUE(d) << d.error().ToString();
  if (!d) return nullptr;
  return std::move(*d);
}

std::unique_ptr<Dump> Open1(const std::string& name, Bytes bytes) {
  std::vector<std::pair<std::string, Bytes>> files;
  files.emplace_back(name, std::move(bytes));
  return Open(std::move(files));
}

ErrorCode ReadCode(const PhysicalMemory& mem, uint64_t pfn) {
  std::vector<std::byte> page(mem.page_size());
  auto r = mem.ReadPage(Pfn{pfn}, page);
  if (r) return static_cast<ErrorCode>(-1);
  return r.error().code();
}

constexpr ErrorCode kOk = static_cast<ErrorCode>(-1);

// StandardSpec(): 256 pfns, 162 dumped, 38 excluded, 56 holes.
void ExpectStandardCounts(const PhysicalMemory& mem) {
  PageCounts c = mem.CountPages();
  EXPECT_EQ(c.total, 256u);
  EXPECT_EQ(c.present, 200u);
  EXPECT_EQ(c.dumped, 162u);
  EXPECT_EQ(c.excluded, 38u);
  EXPECT_EQ(c.truncated, 0u);
}

// ---- round trips ----

TEST(RoundTrip, ElfVmcore) {
  DumpSpec spec = StandardSpec();
  auto dump = Open1("t.elf", BuildElf(spec));
  ASSERT_TRUE(dump);
  EXPECT_EQ(dump->info.format, "ELF vmcore");
  EXPECT_EQ(dump->info.page_size, 4096u);
  EXPECT_FALSE(dump->info.incomplete);
  EXPECT_EQ(CheckPages(*dump->memory, spec), "");
  ExpectStandardCounts(*dump->memory);
  ASSERT_EQ(dump->info.notes.size(), 3u);  // 2 x PRSTATUS + VMCOREINFO
  EXPECT_EQ(dump->info.notes[0].name, "CORE");
  EXPECT_EQ(dump->info.notes[2].name, "VMCOREINFO");
  ASSERT_TRUE(dump->info.vmcoreinfo);
  EXPECT_EQ(dump->info.vmcoreinfo->osrelease, "6.1.0-test-amd64");
}

class KdumpRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(KdumpRoundTrip, PlainFlattenedAndZeroShared) {
  DumpSpec spec = StandardSpec();
  for (bool flattened : {false, true}) {
    for (bool zero : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "flattened=" << flattened << " zero=" << zero);
      auto dump = Open1("t.kdump", BuildKdump(spec, Opts(GetParam(), zero), flattened));
      ASSERT_TRUE(dump);
      EXPECT_EQ(dump->info.format, flattened ? "flattened kdump-compressed" : "kdump-compressed");
      EXPECT_FALSE(dump->info.incomplete);
      EXPECT_EQ(dump->info.dump_level, 31);
      EXPECT_EQ(CheckPages(*dump->memory, spec), "");
      ExpectStandardCounts(*dump->memory);
      // Random pages never compress, so raw ones are always there too.
      std::vector<std::string> want = {"none"};
      if (GetParam() != Compression::kNone) want.emplace_back(CompressionName(GetParam()));
      std::sort(want.begin(), want.end());
      auto got = dump->info.compression;
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want);
      ASSERT_TRUE(dump->info.vmcoreinfo);
      EXPECT_EQ(dump->info.vmcoreinfo->raw, spec.description.vmcoreinfo);
      EXPECT_EQ(dump->info.notes.size(), 3u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllMethods, KdumpRoundTrip,
                         ::testing::Values(Compression::kNone, Compression::kZlib, Compression::kLzo,
                                           Compression::kSnappy, Compression::kZstd),
                         [](const auto& param_info) { return std::string(CompressionName(param_info.param)); });

// Pages of one repeated byte (x86 kernels fill freed init memory and text padding with 0xcc)
// are stored once per file: later ones point at the first one's data, and read back whole.
TEST(RoundTrip, RepeatedBytePagesShareTheirData) {
  DumpSpec spec = StandardSpec();
  for (uint64_t pfn : {1, 2, 3}) spec.patches.emplace_back(pfn * 4096, Bytes(4096, std::byte{0xcc}));
  for (uint64_t pfn : {6, 7}) spec.patches.emplace_back(pfn * 4096, Bytes(4096, std::byte{0xff}));
  for (Compression c : {Compression::kNone, Compression::kZlib, Compression::kLzo}) {
    SCOPED_TRACE(CompressionName(c));
    Bytes shared = BuildKdump(spec, Opts(c));
    const size_t desc = 4 * 4096;
    auto at = [&](uint64_t index) {
      return ParsePageDesc(std::span<const std::byte, kPageDescSize>(shared.data() + desc + index * 24, 24));
    };
    // Descriptor index = pfn below 40 (all dumped).
    EXPECT_EQ(at(2).offset, at(1).offset);
    EXPECT_EQ(at(3).offset, at(1).offset);
    EXPECT_EQ(at(3).size, at(1).size);
    EXPECT_EQ(at(7).offset, at(6).offset);
    EXPECT_NE(at(6).offset, at(1).offset);
    EXPECT_NE(at(8).offset, at(1).offset);
    auto d = Open1("repeated.kdump", shared);
    ASSERT_TRUE(d);
    std::vector<std::byte> page(4096);
    for (uint64_t pfn : {1, 2, 3, 6, 7, 8}) {
      ASSERT_TRUE(d->memory->ReadPage(Pfn{pfn}, page)) << pfn;
      EXPECT_EQ(page, PageContents(spec, pfn)) << pfn;
    }
    ASSERT_TRUE(d->memory->ReadPage(Pfn{2}, page));
    EXPECT_EQ(page, Bytes(4096, std::byte{0xcc}));
  }
}

TEST(RoundTrip, OtherPageSizes) {
  for (uint64_t ps : {512u, 16384u, 65536u}) {
    SCOPED_TRACE(ps);
    DumpSpec spec = StandardSpec(ps);
    auto elf = Open1("t.elf", BuildElf(spec));
    ASSERT_TRUE(elf);
    EXPECT_EQ(CheckPages(*elf->memory, spec), "");
    auto kd = Open1("t.kdump", BuildKdump(spec, Opts(Compression::kZstd)));
    ASSERT_TRUE(kd);
    EXPECT_EQ(CheckPages(*kd->memory, spec), "");
    ExpectStandardCounts(*kd->memory);
  }
}

TEST(RoundTrip, FlattenedElf) {
  DumpSpec spec = StandardSpec();
  auto dump = Open1("t.elf.flat", BuildElf(spec, {}, true));
  ASSERT_TRUE(dump);
  EXPECT_EQ(dump->info.format, "flattened ELF vmcore");
  EXPECT_EQ(CheckPages(*dump->memory, spec), "");
  ExpectStandardCounts(*dump->memory);
}

TEST(RoundTrip, SplitSetsInEveryOrder) {
  DumpSpec spec = StandardSpec();
  for (size_t n : {2u, 3u}) {
    for (bool flattened : {false, true}) {
      auto parts = BuildKdumpSplit(spec, n, Opts(Compression::kZlib), flattened);
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      do {
        SCOPED_TRACE(::testing::Message() << n << " files, flattened=" << flattened << ", first "
                                          << order[0]);
        std::vector<std::pair<std::string, Bytes>> files;
        for (size_t i : order) files.emplace_back("part" + std::to_string(i), parts[i]);
        auto dump = Open(std::move(files));
        ASSERT_TRUE(dump);
        EXPECT_FALSE(dump->info.incomplete) << ::testing::PrintToString(dump->info.incomplete_reasons);
        EXPECT_EQ(CheckPages(*dump->memory, spec), "");
        ExpectStandardCounts(*dump->memory);
      } while (std::next_permutation(order.begin(), order.end()));
    }
  }
}

TEST(RoundTrip, RewritingThroughEveryFormatKeepsPagesAndDescription) {
  DumpSpec spec = StandardSpec();
  auto elf = Open1("a.elf", BuildElf(spec));
  ASSERT_TRUE(elf);
  DumpDescription d = DescribeDump(*elf);
  // From an ELF vmcore: utsname read from init_uts_ns in memory, CRASHTIME, PRSTATUS count,
  // NUMBER(phys_base).
  EXPECT_EQ(d.utsname, spec.description.utsname);
  EXPECT_EQ(d.timestamp_sec, 1700000000);
  EXPECT_EQ(d.phys_base, 0u);
  EXPECT_EQ(d.vmcoreinfo, spec.description.vmcoreinfo);

  // ELF -> kdump (zstd) -> ELF -> kdump split (lzo), pages identical at every step.
  auto to_kdump = [](const Dump& from, Compression c, size_t files) {
    std::vector<std::shared_ptr<MemorySink>> mems;
    std::vector<std::unique_ptr<ByteSink>> sinks;
    for (size_t i = 0; i < files; ++i) {
      CapturedOutput out = CaptureOutput();
      mems.push_back(out.memory);
      sinks.push_back(std::move(out.sink));
    }
    auto st = WriteKdump(*from.memory, DescribeDump(from), Opts(c), std::move(sinks));
    EXPECT_TRUE(st) << st.error().ToString();
    std::vector<std::pair<std::string, Bytes>> out;
    for (size_t i = 0; i < files; ++i) out.emplace_back("k" + std::to_string(i), mems[i]->TakeBytes());
    return out;
  };
  auto k1 = Open(to_kdump(*elf, Compression::kZstd, 1));
  ASSERT_TRUE(k1);
  EXPECT_EQ(CheckPages(*k1->memory, spec), "");
  DumpDescription d1 = DescribeDump(*k1);
  EXPECT_EQ(d1.utsname, spec.description.utsname);
  EXPECT_EQ(d1.timestamp_sec, 1700000000);
  EXPECT_EQ(d1.nr_cpus, 2);
  EXPECT_EQ(d1.vmcoreinfo, spec.description.vmcoreinfo);

  CapturedOutput eo = CaptureOutput();
  auto est = WriteElfVmcore(*k1->memory, d1, {}, std::move(eo.sink));
  ASSERT_TRUE(est) << est.error().ToString();
  EXPECT_EQ(est->load_segments, 4u);
  auto e2 = Open1("b.elf", eo.memory->TakeBytes());
  ASSERT_TRUE(e2);
  EXPECT_EQ(CheckPages(*e2->memory, spec), "");
  auto k2 = Open(to_kdump(*e2, Compression::kLzo, 3));
  ASSERT_TRUE(k2);
  EXPECT_EQ(CheckPages(*k2->memory, spec), "");
  ExpectStandardCounts(*k2->memory);
  EXPECT_EQ(DescribeDump(*k2).utsname, spec.description.utsname);
}

TEST(RoundTrip, TinyDumpsAndMoreSplitFilesThanPages) {
  DumpSpec two;
  two.description = TestDescription(4096);
  two.ranges = {{0, 1, PageState::kDumped}, {1, 3, PageState::kExcluded}, {9, 1, PageState::kDumped}};
  for (size_t n : {1u, 2u, 3u, 5u}) {
    SCOPED_TRACE(n);
    auto parts = BuildKdumpSplit(two, n, Opts(Compression::kZlib));
    std::vector<std::pair<std::string, Bytes>> files;
    for (size_t i = 0; i < n; ++i) files.emplace_back("p" + std::to_string(i), parts[i]);
    auto dump = Open(std::move(files));
    ASSERT_TRUE(dump);
    EXPECT_FALSE(dump->info.incomplete);
    EXPECT_EQ(CheckPages(*dump->memory, two), "");
  }
  DumpSpec none;  // nothing dumped at all
  none.description = TestDescription(4096);
  none.ranges = {{0, 4, PageState::kExcluded}};
  auto kd = Open1("none.kdump", BuildKdump(none, Opts(Compression::kZstd)));
  ASSERT_TRUE(kd);
  EXPECT_EQ(CheckPages(*kd->memory, none), "");
  auto elf = Open1("none.elf", BuildElf(none));
  ASSERT_TRUE(elf);
  EXPECT_EQ(CheckPages(*elf->memory, none), "");
}

TEST(RoundTrip, UtsnameFromMemoryWhenTheHeaderHasOnlyTheMachine) {
  // QEMU's kdump files fill in utsname.machine alone (qemu dump.c); makedumpfile reads the rest
  // from init_uts_ns, and so does DescribeDump.
  DumpSpec spec = StandardSpec();
  spec.description.utsname = {"", "", "", "", "x86_64", ""};
  auto dump = Open1("qemu-like.kdump", BuildKdump(spec, Opts(Compression::kZlib)));
  ASSERT_TRUE(dump);
  EXPECT_EQ(DescribeDump(*dump).utsname, TestDescription(4096).utsname);
}

// ---- the four outcomes ----

TEST(PageOutcomes, KdumpExcludedHoleTruncatedAndIoAreDistinct) {
  DumpSpec spec = StandardSpec();
  Bytes full = BuildKdump(spec, Opts(Compression::kNone));
  KdumpLayout l = KdumpLayoutOf(full);
  // Pages are raw, so pfn p's data is at data_offset + index * 4096.
  const uint64_t pfn_cut = 20;  // the file ends inside pfn 20's data
  Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(l.data_offset + pfn_cut * 4096 + 100));
  auto dump = Open1("cut.kdump", cut);
  ASSERT_TRUE(dump);
  const PhysicalMemory& mem = *dump->memory;
  EXPECT_EQ(ReadCode(mem, 19), kOk);
  EXPECT_EQ(ReadCode(mem, 40), ErrorCode::kExcluded);
  EXPECT_EQ(ReadCode(mem, 50), ErrorCode::kNotPresent);
  EXPECT_EQ(ReadCode(mem, 300), ErrorCode::kNotPresent);  // past every pfn
  EXPECT_EQ(ReadCode(mem, 20), ErrorCode::kTruncated);
  EXPECT_EQ(ReadCode(mem, 229), ErrorCode::kTruncated);
  EXPECT_EQ(mem.StateOf(Pfn{20}), PageState::kTruncated);
  EXPECT_TRUE(dump->info.incomplete);

  // An I/O error reading pfn 10's data.
  std::vector<std::unique_ptr<ByteSource>> srcs;
  srcs.push_back(std::make_unique<FailingSource>(Source(full, "io.kdump"), l.data_offset + 10 * 4096 + 7,
                                                 l.data_offset + 10 * 4096 + 8));
  auto io = OpenDumpSources(std::move(srcs));
  ASSERT_TRUE(io) << io.error().ToString();
  EXPECT_EQ(ReadCode(*(*io)->memory, 10), ErrorCode::kIo);
  EXPECT_EQ(ReadCode(*(*io)->memory, 9), kOk);
  EXPECT_EQ(ReadCode(*(*io)->memory, 11), kOk);
}

TEST(PageOutcomes, ElfExcludedHoleTruncatedAndIoAreDistinct) {
  DumpSpec spec = StandardSpec();
  Bytes full = BuildElf(spec);
  const uint64_t load0 = LoadLE64At(full, 64 + 56 + 8);  // first PT_LOAD's p_offset
  Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(load0 + 20 * 4096 + 100));
  auto dump = Open1("cut.elf", cut);
  ASSERT_TRUE(dump);
  const PhysicalMemory& mem = *dump->memory;
  EXPECT_EQ(ReadCode(mem, 19), kOk);
  EXPECT_EQ(ReadCode(mem, 40), ErrorCode::kExcluded);
  EXPECT_EQ(ReadCode(mem, 50), ErrorCode::kNotPresent);
  EXPECT_EQ(ReadCode(mem, 20), ErrorCode::kTruncated);
  EXPECT_EQ(ReadCode(mem, 100), ErrorCode::kExcluded);  // excluded stays excluded after a cut
  EXPECT_EQ(ReadCode(mem, 104), ErrorCode::kTruncated);
  EXPECT_TRUE(dump->info.incomplete);

  std::vector<std::unique_ptr<ByteSource>> srcs;
  srcs.push_back(std::make_unique<FailingSource>(Source(full, "io.elf"), load0 + 10 * 4096,
                                                 load0 + 11 * 4096));
  auto io = OpenDumpSources(std::move(srcs));
  ASSERT_TRUE(io) << io.error().ToString();
  EXPECT_EQ(ReadCode(*(*io)->memory, 10), ErrorCode::kIo);
  EXPECT_EQ(ReadCode(*(*io)->memory, 11), kOk);
}

// ---- cut at 60% ----

// A larger spec, so the page data spans many flattened records.
DumpSpec LargeSpec() {
  DumpSpec s = StandardSpec();
  s.ranges.push_back({256, 1500, PageState::kDumped});
  s.ranges.push_back({1756, 44, PageState::kExcluded});
  s.ranges.push_back({1900, 600, PageState::kDumped});
  return s;
}

// After a cut: holes and excluded pages keep their state; the dumped pages that still read (with
// the right bytes) are a prefix in pfn order, the rest read kTruncated; the counts agree.
void ExpectCleanCut(const Dump& dump, const DumpSpec& spec) {
  const PhysicalMemory& mem = *dump.memory;
  EXPECT_TRUE(dump.info.incomplete);
  std::vector<std::byte> page(spec.page_size);
  uint64_t ok = 0, truncated = 0, dumped = 0;
  bool seen_truncated = false;
  const uint64_t limit = spec.pfn_limit();
  for (uint64_t pfn = 0; pfn < limit; ++pfn) {
    PageState want = spec.StateOf(pfn);
    if (want != PageState::kDumped) {
      EXPECT_EQ(mem.StateOf(Pfn{pfn}), want) << "pfn " << pfn;
      continue;
    }
    ++dumped;
    auto r = mem.ReadPage(Pfn{pfn}, page);
    if (r) {
      EXPECT_FALSE(seen_truncated) << "pfn " << pfn << " reads after a truncated page";
      EXPECT_EQ(page, PageContents(spec, pfn)) << "pfn " << pfn;
      EXPECT_EQ(mem.StateOf(Pfn{pfn}), PageState::kDumped);
      ++ok;
    } else {
      EXPECT_EQ(r.error().code(), ErrorCode::kTruncated) << "pfn " << pfn << ": " << r.error().ToString();
      EXPECT_EQ(mem.StateOf(Pfn{pfn}), PageState::kTruncated) << "pfn " << pfn;
      seen_truncated = true;
      ++truncated;
    }
  }
  EXPECT_GT(ok, dumped / 4);
  EXPECT_GT(truncated, 0u);
  PageCounts c = mem.CountPages();
  EXPECT_EQ(c.dumped, ok);
  EXPECT_EQ(c.truncated, truncated);
}

TEST(CutAt60, KdumpEveryCompression) {
  DumpSpec spec = LargeSpec();
  for (Compression c : {Compression::kNone, Compression::kZlib, Compression::kLzo,
                        Compression::kSnappy, Compression::kZstd}) {
    SCOPED_TRACE(CompressionName(c));
    auto dump = Open1("cut.kdump", CutAt(BuildKdump(spec, Opts(c)), 0.6));
    ASSERT_TRUE(dump);
    ExpectCleanCut(*dump, spec);
  }
}

TEST(CutAt60, FlattenedKdump) {
  DumpSpec spec = LargeSpec();
  for (Compression c : {Compression::kNone, Compression::kZlib}) {
    SCOPED_TRACE(CompressionName(c));
    auto dump = Open1("cut.flat", CutAt(BuildKdump(spec, Opts(c), true), 0.6));
    ASSERT_TRUE(dump);
    ExpectCleanCut(*dump, spec);
  }
}

TEST(CutAt60, ElfAndFlattenedElf) {
  DumpSpec spec = LargeSpec();
  for (bool flattened : {false, true}) {
    SCOPED_TRACE(flattened);
    auto dump = Open1("cut.elf", CutAt(BuildElf(spec, {}, flattened), 0.6));
    ASSERT_TRUE(dump);
    ExpectCleanCut(*dump, spec);
  }
}

TEST(CutAt60, SplitMember) {
  DumpSpec spec = LargeSpec();
  auto parts = BuildKdumpSplit(spec, 2, Opts(Compression::kSnappy));
  parts[1] = CutAt(parts[1], 0.6);
  auto dump = Open({{"p0", parts[0]}, {"p1", parts[1]}});
  ASSERT_TRUE(dump);
  ExpectCleanCut(*dump, spec);
}

// ---- flattened records ----

TEST(Flattened, RecordsOutOfOrderAndLastOneWins) {
  DumpSpec spec = StandardSpec();
  Bytes image = BuildKdump(spec, Opts(Compression::kNone));
  KdumpLayout l = KdumpLayoutOf(image);
  // Cut the file into 3000-byte records and shuffle them.
  std::vector<FlatRecord> recs;
  for (size_t off = 0; off < image.size(); off += 3000) {
    size_t n = std::min<size_t>(3000, image.size() - off);
    recs.push_back({off, Bytes(image.begin() + static_cast<ptrdiff_t>(off),
                               image.begin() + static_cast<ptrdiff_t>(off + n))});
  }
  std::mt19937 rng(7);
  std::shuffle(recs.begin(), recs.end(), rng);
  // An early record of garbage over pfn 2's data, overwritten by the shuffled real data later...
  const uint64_t pfn2 = l.data_offset + 2 * 4096;
  recs.insert(recs.begin(), FlatRecord{pfn2, Bytes(4096, std::byte{0xee})});
  auto dump = Open1("shuffled.flat", MakeFlattened(recs));
  ASSERT_TRUE(dump);
  EXPECT_EQ(CheckPages(*dump->memory, spec), "");
  ExpectStandardCounts(*dump->memory);

  // ...and a late record over pfn 3's data wins over the real data before it.
  recs.push_back(FlatRecord{l.data_offset + 3 * 4096 + 16, Bytes(32, std::byte{0xab})});
  auto over = Open1("overwritten.flat", MakeFlattened(recs));
  ASSERT_TRUE(over);
  std::vector<std::byte> page(4096);
  ASSERT_TRUE(over->memory->ReadPage(Pfn{3}, page));
  Bytes want = PageContents(spec, 3);
  std::fill_n(want.begin() + 16, 32, std::byte{0xab});
  EXPECT_EQ(page, want);
  ASSERT_TRUE(over->memory->ReadPage(Pfn{2}, page));
  EXPECT_EQ(page, PageContents(spec, 2));
}

TEST(Flattened, StreamWithoutEndMarkerIsIncomplete) {
  DumpSpec spec = StandardSpec();
  Bytes image = BuildKdump(spec, Opts(Compression::kZlib));
  auto dump = Open1("noend.flat", MakeFlattened({{0, image}}, false));
  ASSERT_TRUE(dump);
  EXPECT_TRUE(dump->info.incomplete);
  EXPECT_EQ(CheckPages(*dump->memory, spec), "");
}

// ---- split sets with members missing ----

TEST(SplitSet, MissingMemberIsIncompleteAndItsPagesTruncated) {
  DumpSpec spec = StandardSpec();
  auto parts = BuildKdumpSplit(spec, 3, Opts(Compression::kZlib));
  for (size_t missing = 0; missing < 3; ++missing) {
    SCOPED_TRACE(missing);
    std::vector<std::pair<std::string, Bytes>> files;
    for (size_t i = 0; i < 3; ++i) {
      if (i != missing) files.emplace_back("part" + std::to_string(i), parts[i]);
    }
    auto dump = Open(std::move(files));
    ASSERT_TRUE(dump);
    EXPECT_TRUE(dump->info.incomplete);
    const PhysicalMemory& mem = *dump->memory;
    // The bitmaps are whole in every member: the pages of the missing one are known.
    EXPECT_EQ(mem.pfn_limit(), 256u);
    const uint64_t lo = LoadLE64At(parts[missing], 4096 + 80), hi = LoadLE64At(parts[missing], 4096 + 88);
    uint64_t lost = 0;
    for (uint64_t p = 0; p < 256; ++p) {
      PageState want = spec.StateOf(p);
      if (p >= lo && p < hi && want == PageState::kDumped) {
        want = PageState::kTruncated;
        ++lost;
      }
      ASSERT_EQ(mem.StateOf(Pfn{p}), want) << "pfn " << p;
      ErrorCode code = want == PageState::kDumped     ? kOk
                       : want == PageState::kExcluded ? ErrorCode::kExcluded
                       : want == PageState::kTruncated ? ErrorCode::kTruncated
                                                        : ErrorCode::kNotPresent;
      ASSERT_EQ(ReadCode(mem, p), code) << "pfn " << p;
    }
    EXPECT_EQ(lost, 54u);
    PageCounts c = mem.CountPages();
    EXPECT_EQ(c.total, 256u);
    EXPECT_EQ(c.present, 200u);
    EXPECT_EQ(c.dumped, 162u - 54u);
    EXPECT_EQ(c.truncated, 54u);
    EXPECT_EQ(c.excluded, 38u);
  }
}

TEST(SplitSet, OneMemberAloneIsIncomplete) {
  DumpSpec spec = StandardSpec();
  auto parts = BuildKdumpSplit(spec, 3, Opts(Compression::kNone));
  auto dump = Open1("part1", parts[1]);
  ASSERT_TRUE(dump);
  EXPECT_TRUE(dump->info.incomplete);
  EXPECT_EQ(dump->memory->CountPages().dumped, 54u);
  EXPECT_EQ(dump->memory->CountPages().truncated, 108u);
  EXPECT_EQ(ReadCode(*dump->memory, 0), ErrorCode::kTruncated);
}

TEST(SplitSet, MembersOfDifferentDumpsAreRejected) {
  auto a = BuildKdumpSplit(StandardSpec(), 2, Opts(Compression::kNone));
  auto b = BuildKdumpSplit(StandardSpec(512), 2, Opts(Compression::kNone));
  auto d = OpenBytes({{"a0", a[0]}, {"b1", b[1]}});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kInvalidArgument);
  auto twice = OpenBytes({{"a0", a[0]}, {"a0-again", a[0]}});
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message().find("overlap"), std::string::npos);
}

// ---- incomplete markers ----

TEST(Incomplete, WriterMarksAreRead) {
  DumpSpec spec = StandardSpec();
  KdumpWriterOptions ko = Opts(Compression::kLzo);
  ko.mark_incomplete = true;
  auto kd = Open1("inc.kdump", BuildKdump(spec, ko));
  ASSERT_TRUE(kd);
  EXPECT_TRUE(kd->info.incomplete);
  EXPECT_EQ(CheckPages(*kd->memory, spec), "");  // every page is still there

  ElfWriterOptions eo;
  eo.mark_incomplete = true;
  Bytes elf = BuildElf(spec, eo);
  EXPECT_EQ(LoadLE64At(elf, 48) & 0xffffffff, kElfFlagIncomplete);  // e_flags
  auto e = Open1("inc.elf", elf);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->info.incomplete);  // makedumpfile's DUMP_ELF_INCOMPLETE
  EXPECT_EQ(CheckPages(*e->memory, spec), "");
  EXPECT_FALSE(Open1("complete.elf", BuildElf(spec))->info.incomplete);
}

// ---- writing from a damaged source ----

TEST(WriteFromDamagedSource, ReadErrorsBecomeMissingPagesAndIncomplete) {
  DumpSpec spec = StandardSpec();
  Bytes src = BuildKdump(spec, Opts(Compression::kNone));
  KdumpLayout l = KdumpLayoutOf(src);
  // pfns 10 and 11 fail with EIO.
  std::vector<std::unique_ptr<ByteSource>> srcs;
  srcs.push_back(std::make_unique<FailingSource>(Source(src, "eio.kdump"), l.data_offset + 10 * 4096,
                                                 l.data_offset + 12 * 4096));
  auto in = OpenDumpSources(std::move(srcs));
  ASSERT_TRUE(in) << in.error().ToString();
  const Dump& dump = **in;

  std::vector<std::unique_ptr<ByteSink>> sinks;
  CapturedOutput ko = CaptureOutput();
  sinks.push_back(std::move(ko.sink));
  auto st = WriteKdump(*dump.memory, DescribeDump(dump), Opts(Compression::kZstd), std::move(sinks));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->read_errors, 2u);
  EXPECT_EQ(st->missing_pages, 2u);
  EXPECT_TRUE(st->incomplete);
  ASSERT_EQ(st->errors.size(), 2u);
  EXPECT_NE(st->errors[0].find("Input/output error"), std::string::npos) << st->errors[0];
  auto out = Open1("out.kdump", ko.memory->TakeBytes());
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->info.incomplete);
  EXPECT_EQ(ReadCode(*out->memory, 10), ErrorCode::kTruncated);
  EXPECT_EQ(ReadCode(*out->memory, 11), ErrorCode::kTruncated);
  EXPECT_EQ(ReadCode(*out->memory, 12), kOk);
  PageCounts c = out->memory->CountPages();
  EXPECT_EQ(c.dumped, 160u);
  EXPECT_EQ(c.truncated, 2u);
  EXPECT_EQ(c.excluded, 38u);

  // The ELF writer splits the segment around them when given spare program headers...
  CapturedOutput elf_out = CaptureOutput();
  ElfWriterOptions eo;
  eo.spare_segments = 1;
  auto est = WriteElfVmcore(*dump.memory, DescribeDump(dump), eo, std::move(elf_out.sink));
  ASSERT_TRUE(est) << est.error().ToString();
  EXPECT_EQ(est->load_segments, 5u);
  EXPECT_EQ(est->read_errors, 2u);
  auto eout = Open1("out.elf", elf_out.memory->TakeBytes());
  ASSERT_TRUE(eout);
  EXPECT_TRUE(eout->info.incomplete);
  EXPECT_EQ(ReadCode(*eout->memory, 9), kOk);
  EXPECT_EQ(ReadCode(*eout->memory, 10), ErrorCode::kExcluded);
  EXPECT_EQ(ReadCode(*eout->memory, 12), kOk);
  EXPECT_EQ(eout->memory->CountPages().dumped, 160u);
  // ...and stops with the read error without them.
  auto none = WriteElfVmcore(*dump.memory, DescribeDump(dump), {}, std::make_unique<MemorySink>());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kIo);
}

TEST(WriteFromDamagedSource, TruncatedSourceKeepsItsMissingPages) {
  DumpSpec spec = LargeSpec();
  auto cut = Open1("cut.kdump", CutAt(BuildKdump(spec, Opts(Compression::kZlib)), 0.6));
  ASSERT_TRUE(cut);
  PageCounts before = cut->memory->CountPages();
  std::vector<std::unique_ptr<ByteSink>> sinks;
  CapturedOutput ko = CaptureOutput();
  sinks.push_back(std::move(ko.sink));
  auto st = WriteKdump(*cut->memory, DescribeDump(*cut), Opts(Compression::kSnappy), std::move(sinks));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->read_errors, 0u);  // known missing, not read errors
  EXPECT_EQ(st->missing_pages, before.truncated);
  auto out = Open1("re.kdump", ko.memory->TakeBytes());
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->info.incomplete);
  PageCounts after = out->memory->CountPages();
  EXPECT_EQ(after.dumped, before.dumped);
  EXPECT_EQ(after.truncated, before.truncated);
  EXPECT_EQ(after.excluded, before.excluded);
  ExpectCleanCut(*out, spec);
}

// ---- bad inputs ----

void ExpectErrorNamesFileAndOffset(const Result<std::unique_ptr<Dump>>& r, const std::string& name) {
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(name), std::string::npos) << r.error().ToString();
  ASSERT_TRUE(r.error().where()) << r.error().ToString();
  EXPECT_EQ(r.error().where()->kind, ErrorLocation::Kind::kFileOffset) << r.error().ToString();
}

TEST(BadInput, EmptyShortAndGarbage) {
  ExpectErrorNamesFileAndOffset(OpenBytes({{"empty.bin", {}}}), "empty.bin");
  ExpectErrorNamesFileAndOffset(OpenBytes({{"short.bin", Bytes(10, std::byte{0x7f})}}), "short.bin");
  Bytes garbage(65536);
  std::mt19937_64 rng(1);
  for (auto& b : garbage) b = static_cast<std::byte>(rng());
  ExpectErrorNamesFileAndOffset(OpenBytes({{"garbage.bin", garbage}}), "garbage.bin");
}

TEST(BadInput, DamagedHeaders) {
  DumpSpec spec = StandardSpec();
  Bytes kd = BuildKdump(spec, Opts(Compression::kZlib));
  {
    Bytes b(kd.begin(), kd.begin() + 300);  // cut inside disk_dump_header
    ExpectErrorNamesFileAndOffset(OpenBytes({{"h.kdump", b}}), "h.kdump");
  }
  {
    Bytes b = kd;
    PatchLE32(b, 428, 1000);  // block_size not a power of two
    auto r = OpenBytes({{"bs.kdump", b}});
    ExpectErrorNamesFileAndOffset(r, "bs.kdump");
    EXPECT_EQ(r.error().where()->value, 428u);
  }
  {
    Bytes b = kd;
    PatchLE32(b, 436, 3);  // odd bitmap_blocks
    ExpectErrorNamesFileAndOffset(OpenBytes({{"bm.kdump", b}}), "bm.kdump");
  }
  {
    Bytes b(kd.begin(), kd.begin() + 2 * 4096 + 10);  // cut inside the bitmaps
    ExpectErrorNamesFileAndOffset(OpenBytes({{"cutbm.kdump", b}}), "cutbm.kdump");
  }
  Bytes elf = BuildElf(spec);
  {
    Bytes b = elf;
    PatchLE64(b, 32, 1ull << 40);  // e_phoff past the end
    ExpectErrorNamesFileAndOffset(OpenBytes({{"ph.elf", b}}), "ph.elf");
  }
  {
    Bytes b = elf;
    PatchLE32(b, 16, 2);  // e_type ET_EXEC
    ExpectErrorNamesFileAndOffset(OpenBytes({{"type.elf", b}}), "type.elf");
  }
  {
    Bytes b(elf.begin(), elf.begin() + 40);
    ExpectErrorNamesFileAndOffset(OpenBytes({{"cut.elf", b}}), "cut.elf");
  }
  {
    Bytes flat = MakeFlattened({{0, kd}});
    Bytes b = flat;
    PatchLE64(b, 4096 + 8, 0x80);  // a record size with the sign bit set (big-endian)
    ExpectErrorNamesFileAndOffset(OpenBytes({{"neg.flat", b}}), "neg.flat");
    Bytes head_only = MakeFlattened({}, false);
    ExpectErrorNamesFileAndOffset(OpenBytes({{"head.flat", head_only}}), "head.flat");
  }
}

// Deterministic corruption of every structure: opening either fails with an error that names the
// file, or succeeds and every page read returns bytes or an error; nothing crashes or hangs.
TEST(BadInput, RandomCorruptionNeverCrashes) {
  DumpSpec spec = StandardSpec();
  const std::vector<std::pair<std::string, Bytes>> originals = {
      {"c.kdump", BuildKdump(spec, Opts(Compression::kZlib))},
      {"c.elf", BuildElf(spec)},
      {"c.flat", BuildKdump(spec, Opts(Compression::kLzo), true)},
  };
  std::mt19937_64 rng(42);
  std::vector<std::byte> page(4096);
  // More with CORONER_CORRUPTION_ITERATIONS=N (e.g. under the sanitizers).
  const char* env = std::getenv("CORONER_CORRUPTION_ITERATIONS");
  const int iterations = env ? std::atoi(env) : 150;
  for (const auto& [name, original] : originals) {
    for (int iter = 0; iter < iterations; ++iter) {
      Bytes b = original;
      const size_t hot = std::min<size_t>(b.size(), 6 * 4096 + 8192);  // headers, bitmaps, descs
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < flips; ++k) {
        size_t at = (rng() % 4 == 0) ? rng() % b.size() : rng() % hot;
        b[at] = static_cast<std::byte>(rng());
      }
      auto d = OpenBytes({{name, b}});
      if (!d) {
        EXPECT_NE(d.error().message().find(name), std::string::npos) << d.error().ToString();
        continue;
      }
      const PhysicalMemory& mem = *(*d)->memory;
      if (mem.page_size() != page.size()) page.resize(mem.page_size());
      (void)mem.CountPages();
      for (uint64_t p = 0; p < std::min<uint64_t>(mem.pfn_limit(), 4096); ++p) {
        (void)mem.StateOf(Pfn{p});
        (void)mem.ReadPage(Pfn{p}, page);
      }
    }
  }
}

}  // namespace
}  // namespace coroner
