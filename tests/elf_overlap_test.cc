// ELF vmcores whose PT_LOAD segments overlap, as /proc/vmcore (kernel text mapped twice) and
// makedumpfile -E (both copies kept, each with its own tail left out of the file) write them:
// a page one segment holds must read even where another segment leaves it out.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "lib/base/byte_source.h"
#include "lib/dump/dump.h"

namespace coroner {
namespace {

constexpr uint64_t kPage = 4096;

struct Load {
  uint64_t paddr;
  uint64_t pages_in_file;
  uint64_t pages;
  uint8_t fill;  // every byte of the segment's data; the page index is added
};

// An ET_CORE ELF64 file with one PT_LOAD per entry, data in entry order.
std::vector<std::byte> MakeElf(const std::vector<Load>& loads) {
  std::vector<std::byte> f(kPage);
  auto put = [&](size_t at, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) f[at + i] = static_cast<std::byte>(v >> (8 * i));
  };
  std::memcpy(f.data(), "\x7f" "ELF\x02\x01\x01", 7);
  put(16, 4, 2);   // ET_CORE
  put(18, 62, 2);  // EM_X86_64
  put(20, 1, 4);
  put(32, 64, 8);  // e_phoff
  put(52, 64, 2);
  put(54, 56, 2);
  put(56, loads.size(), 2);
  for (size_t i = 0; i < loads.size(); ++i) {
    const Load& l = loads[i];
    size_t ph = 64 + i * 56;
    put(ph, 1, 4);
    put(ph + 8, f.size(), 8);
    put(ph + 24, l.paddr, 8);
    put(ph + 32, l.pages_in_file * kPage, 8);
    put(ph + 40, l.pages * kPage, 8);
    for (uint64_t p = 0; p < l.pages_in_file; ++p) {
      f.resize(f.size() + kPage, static_cast<std::byte>(l.fill + p));
    }
  }
  return f;
}

std::unique_ptr<Dump> Open(const std::vector<Load>& loads) {
  std::vector<std::unique_ptr<ByteSource>> srcs;
  srcs.push_back(std::make_unique<MemorySource>(MakeElf(loads), "overlap.elf"));
  auto d = OpenDumpSources(std::move(srcs));
  EXPECT_TRUE(d) << d.error().ToString();
  return d ? std::move(*d) : nullptr;
}

uint8_t FirstByte(const PhysicalMemory& mem, uint64_t pfn) {
  std::vector<std::byte> page(kPage);
  auto r = mem.ReadPage(Pfn{pfn}, page);
  EXPECT_TRUE(r) << "pfn " << pfn << ": " << r.error().ToString();
  return static_cast<uint8_t>(page[0]);
}

TEST(ElfOverlap, HeldBytesWinOverLeftOutOnesAtTheSameStart) {
  // makedumpfile -E on 7.2: the text copy holds 2 of its 4 pages, the RAM copy (same start,
  // later in the file) holds 6 of 10. Pages 2-5 are only in the RAM copy's data.
  auto d = Open({{0x100 * kPage, 2, 4, 0x10}, {0x100 * kPage, 6, 10, 0x40}});
  ASSERT_TRUE(d);
  const PhysicalMemory& mem = *d->memory;
  for (uint64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(mem.StateOf(Pfn{0x100 + i}), PageState::kDumped) << i;
  }
  for (uint64_t i = 6; i < 10; ++i) {
    EXPECT_EQ(mem.StateOf(Pfn{0x100 + i}), PageState::kExcluded) << i;
  }
  EXPECT_EQ(FirstByte(mem, 0x100), 0x10);  // the earlier segment, where both hold the page
  EXPECT_EQ(FirstByte(mem, 0x101), 0x11);
  EXPECT_EQ(FirstByte(mem, 0x102), 0x42);  // only the RAM copy holds it
  EXPECT_EQ(FirstByte(mem, 0x105), 0x45);
  PageCounts c = mem.CountPages();
  EXPECT_EQ(c.dumped, 6u);
  EXPECT_EQ(c.excluded, 4u);
  std::vector<PfnRange> runs;
  mem.ForEachDumpedRange([&](PfnRange r) { runs.push_back(r); });
  uint64_t n = 0;
  for (auto r : runs) n += r.count;
  EXPECT_EQ(n, 6u);
}

TEST(ElfOverlap, LaterSegmentFillsAnEarlierOnesLeftOutTail) {
  // The earlier segment leaves out pages 0x203-0x207; a later one holds 0x204-0x205.
  auto d = Open({{0x200 * kPage, 3, 8, 0x20}, {0x204 * kPage, 2, 2, 0x60}});
  ASSERT_TRUE(d);
  const PhysicalMemory& mem = *d->memory;
  EXPECT_EQ(mem.StateOf(Pfn{0x202}), PageState::kDumped);
  EXPECT_EQ(mem.StateOf(Pfn{0x203}), PageState::kExcluded);
  EXPECT_EQ(mem.StateOf(Pfn{0x204}), PageState::kDumped);
  EXPECT_EQ(mem.StateOf(Pfn{0x205}), PageState::kDumped);
  EXPECT_EQ(mem.StateOf(Pfn{0x206}), PageState::kExcluded);
  EXPECT_EQ(FirstByte(mem, 0x204), 0x60);
  EXPECT_EQ(FirstByte(mem, 0x205), 0x61);
  std::vector<std::byte> page(kPage);
  auto r = mem.ReadPage(Pfn{0x203}, page);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kExcluded);
  EXPECT_EQ(mem.CountPages().dumped, 5u);
}

TEST(ElfOverlap, KernelTextInsideRamIsQuiet) {
  // /proc/vmcore: the text segment lies inside the RAM one and holds the same bytes.
  auto d = Open({{0x300 * kPage, 2, 2, 0x33}, {0x2f0 * kPage, 32, 32, 0x00}});
  ASSERT_TRUE(d);
  const PhysicalMemory& mem = *d->memory;
  EXPECT_EQ(mem.CountPages().dumped, 32u);
  EXPECT_EQ(FirstByte(mem, 0x2f0), 0x00);
  EXPECT_EQ(FirstByte(mem, 0x300), 0x10);  // the RAM segment starts earlier: its bytes win
  EXPECT_TRUE(d->diagnostics.empty());
}

}  // namespace
}  // namespace coroner
