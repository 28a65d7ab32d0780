// The ELF vmcore writer's program headers checked field by field: one PT_NOTE, then one PT_LOAD
// per [dumped run][excluded tail] (as makedumpfile -E splits them), PN_XNUM past 65534.
#include "lib/dump/elf_writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "lib/dump/dump.h"
#include "lib/dump/testing/synthetic_dump.h"

namespace coroner {
namespace {

using namespace coroner::testing;  // NOLINT: test helpers
using Bytes = std::vector<std::byte>;

struct Phdr {
  uint32_t type, flags;
  uint64_t offset, vaddr, paddr, filesz, memsz;
};

uint16_t U16At(const Bytes& b, size_t off) {
  uint16_t v;
  std::memcpy(&v, b.data() + off, 2);
  return v;
}
uint32_t U32At(const Bytes& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

std::vector<Phdr> Phdrs(const Bytes& b) {
  uint64_t phoff = LoadLE64At(b, 32);
  uint64_t n = U16At(b, 56);
  if (n == 0xffff) n = U32At(b, LoadLE64At(b, 40) + 44);  // sh_info of section 0
  std::vector<Phdr> out;
  for (uint64_t i = 0; i < n; ++i) {
    size_t p = phoff + i * 56;
    out.push_back({U32At(b, p), U32At(b, p + 4), LoadLE64At(b, p + 8), LoadLE64At(b, p + 16),
                   LoadLE64At(b, p + 24), LoadLE64At(b, p + 32), LoadLE64At(b, p + 40)});
  }
  return out;
}

constexpr uint64_t P = 4096;

TEST(ElfWriter, HeaderAndSegmentsOfTheStandardSpec) {
  DumpSpec spec = StandardSpec();
  Bytes f = BuildElf(spec);
  EXPECT_EQ(std::memcmp(f.data(), "\x7f" "ELF\x02\x01\x01", 7), 0);
  EXPECT_EQ(U16At(f, 16), 4);   // ET_CORE
  EXPECT_EQ(U16At(f, 18), 62);  // EM_X86_64
  EXPECT_EQ(U32At(f, 48), 0u);  // e_flags: complete
  EXPECT_EQ(U16At(f, 54), 56);  // e_phentsize
  auto ph = Phdrs(f);
  ASSERT_EQ(ph.size(), 5u);
  EXPECT_EQ(ph[0].type, 4u);    // PT_NOTE first
  EXPECT_EQ(ph[0].offset, 64u + 5 * 56);
  const uint64_t data = ph[0].offset + ph[0].filesz;
  struct Want { uint64_t paddr, filesz, memsz, offset; };
  // [0,40) dumped + [40,48) excluded | hole | [64,100) + [100,104) excluded | [104,160) |
  // hole | [200,230) + [230,256) excluded.
  const Want want[] = {{0, 40 * P, 48 * P, data},
                       {64 * P, 36 * P, 40 * P, data + 40 * P},
                       {104 * P, 56 * P, 56 * P, data + 76 * P},
                       {200 * P, 30 * P, 56 * P, data + 132 * P}};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ph[i + 1].type, 1u);  // PT_LOAD
    EXPECT_EQ(ph[i + 1].paddr, want[i].paddr);
    EXPECT_EQ(ph[i + 1].filesz, want[i].filesz);
    EXPECT_EQ(ph[i + 1].memsz, want[i].memsz);
    EXPECT_EQ(ph[i + 1].offset, want[i].offset);
    EXPECT_EQ(ph[i + 1].vaddr, 0u);
  }
  EXPECT_EQ(f.size(), data + 162 * P);
  // Page bytes are where the segment says.
  Bytes page(f.begin() + static_cast<ptrdiff_t>(data + 77 * P),
             f.begin() + static_cast<ptrdiff_t>(data + 78 * P));  // segment 3's second page: pfn 105
  EXPECT_EQ(page, PageContents(spec, 105));
  EXPECT_EQ(BuildElf(spec), f);  // deterministic
}

TEST(ElfWriter, ExcludedRunsAndSelection) {
  DumpSpec spec;
  spec.description = TestDescription(P);
  spec.ranges = {{0, 4, PageState::kExcluded}, {4, 8, PageState::kDumped}};
  ElfWriterOptions opts;
  opts.select = [](Pfn p) { return p.value % 2 == 0; };  // odd pages become excluded
  Bytes f = BuildElf(spec, opts);
  auto ph = Phdrs(f);
  // [0,4) excluded + [4] dumped? No: a segment is [dumped][excluded], so [0,4) is excluded
  // alone, then [4][5], [6][7], [8][9], [10][11].
  ASSERT_EQ(ph.size(), 1u + 5);
  EXPECT_EQ(ph[1].paddr, 0u);
  EXPECT_EQ(ph[1].filesz, 0u);
  EXPECT_EQ(ph[1].memsz, 4 * P);
  for (size_t i = 2; i < ph.size(); ++i) {
    EXPECT_EQ(ph[i].paddr, (4 + 2 * (i - 2)) * P);
    EXPECT_EQ(ph[i].filesz, P);
    EXPECT_EQ(ph[i].memsz, 2 * P);
  }
  auto dump = OpenBytes({{"sel.elf", f}});
  ASSERT_TRUE(dump) << dump.error().ToString();
  PageCounts c = (*dump)->memory->CountPages();
  EXPECT_EQ(c.dumped, 4u);
  EXPECT_EQ(c.excluded, 8u);
}

TEST(ElfWriter, ExtendedNumberingPastPnXnum) {
  // 70,000 segments: one dumped page, then one-page excluded runs between one-page holes.
  DumpSpec spec;
  spec.description = TestDescription(P);
  spec.ranges.push_back({0, 1, PageState::kDumped});
  for (uint64_t i = 1; i < 70000; ++i) spec.ranges.push_back({2 * i, 1, PageState::kExcluded});
  Bytes f = BuildElf(spec);
  EXPECT_EQ(U16At(f, 56), 0xffff);  // PN_XNUM
  EXPECT_EQ(U16At(f, 60), 1);       // e_shnum
  auto ph = Phdrs(f);
  ASSERT_EQ(ph.size(), 70001u);
  EXPECT_EQ(ph.back().paddr, 2 * 69999 * P);
  EXPECT_EQ(ph.back().filesz, 0u);
  auto dump = OpenBytes({{"many.elf", f}});
  ASSERT_TRUE(dump) << dump.error().ToString();
  PageCounts c = (*dump)->memory->CountPages();
  EXPECT_EQ(c.dumped, 1u);
  EXPECT_EQ(c.excluded, 69999u);
  EXPECT_EQ(c.total, 2 * 69999 + 1);
  EXPECT_EQ(CheckPages(*(*dump)->memory, spec), "");
}

TEST(ElfWriter, TruncatedSourcePagesBecomeExcludedAndMarkIncomplete) {
  DumpSpec spec = StandardSpec();
  KdumpWriterOptions ko;
  Bytes kd = BuildKdump(spec, ko);
  KdumpLayout l = KdumpLayoutOf(kd);
  kd.resize(l.data_offset + 30 * P);  // pfns 30.. are cut off
  auto src = OpenBytes({{"cut.kdump", kd}});
  ASSERT_TRUE(src) << src.error().ToString();
  CapturedOutput out = CaptureOutput();
  auto st = WriteElfVmcore(*(*src)->memory, DescribeDump(**src), {}, std::move(out.sink));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_TRUE(st->incomplete);
  EXPECT_EQ(st->dumped_pages, 30u);
  EXPECT_EQ(st->missing_pages, 132u);
  EXPECT_EQ(st->read_errors, 0u);
  Bytes f = out.memory->TakeBytes();
  EXPECT_EQ(U32At(f, 48), kElfFlagIncomplete);
  auto ph = Phdrs(f);
  ASSERT_GE(ph.size(), 2u);
  EXPECT_EQ(ph[1].filesz, 30 * P);
  EXPECT_EQ(ph[1].memsz, 48 * P);
  auto dump = OpenBytes({{"re.elf", f}});
  ASSERT_TRUE(dump);
  EXPECT_TRUE((*dump)->info.incomplete);
  PageCounts c = (*dump)->memory->CountPages();
  EXPECT_EQ(c.dumped, 30u);
  EXPECT_EQ(c.excluded, 38u + 132u);
}

TEST(ElfWriter, RejectsBigEndianMachines) {
  DumpSpec spec = StandardSpec();
  spec.description.utsname[4] = "s390x";
  auto mem = SpecMemory(spec);
  auto r = WriteElfVmcore(*mem, spec.description, {}, std::make_unique<MemorySink>());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace coroner
