#include "lib/arch/x86_64_paging.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

namespace coroner {
namespace {

// Physical memory made of explicitly written pages; any other page is a hole.
class FakeMemory final : public PhysicalMemory {
 public:
  uint64_t page_size() const override { return 4096; }
  uint64_t pfn_limit() const override { return 1ull << 40; }
  PageState StateOf(Pfn pfn) const override {
    return pages_.count(pfn.value) ? PageState::kDumped : PageState::kNotPresent;
  }
  Result<void> ReadPage(Pfn pfn, std::span<std::byte> out) const override {
    auto it = pages_.find(pfn.value);
    if (it == pages_.end()) return PageError(pfn, PageState::kNotPresent);
    std::memcpy(out.data(), it->second.data(), 4096);
    return Ok();
  }
  void ForEachDumpedRange(const std::function<void(PfnRange)>& fn) const override {
    for (auto& [pfn, _] : pages_) fn({pfn, 1});
  }
  PageCounts CountPages() const override { return {}; }

  void Put64(uint64_t pa, uint64_t v) {
    auto& page = pages_[pa / 4096];
    if (page.empty()) page.resize(4096);
    std::memcpy(page.data() + pa % 4096, &v, 8);
  }

 private:
  std::map<uint64_t, std::vector<std::byte>> pages_;
};

constexpr uint64_t P = X86_64Paging::kPresent | 2;  // present, writable

TEST(X86_64Paging, FourLevelWalkThroughEveryPageSize) {
  FakeMemory mem;
  const uint64_t root = 0x1000;
  const uint64_t va = 0xffff888012345678;  // direct-map style address
  uint64_t i4 = (va >> 39) & 511, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511, i1 = (va >> 12) & 511;
  mem.Put64(root + i4 * 8, 0x2000 | P);
  mem.Put64(0x2000 + i3 * 8, 0x3000 | P);
  mem.Put64(0x3000 + i2 * 8, 0x4000 | P);
  mem.Put64(0x4000 + i1 * 8, 0x8000000000000000ull | 0xabcd000 | P);  // NX set
  X86_64Paging paging(mem, false, 0);
  auto w = paging.Walk(PhysAddr{root}, va);
  ASSERT_TRUE(w) << w.error().ToString();
  EXPECT_EQ(w->pa.value, 0xabcd678u);
  EXPECT_EQ(w->page_size, 4096u);
  ASSERT_EQ(w->steps.size(), 4u);
  EXPECT_STREQ(w->steps[0].level, "PML4");
  EXPECT_EQ(w->steps[3].entry_addr.value, 0x4000 + i1 * 8);

  // A 2 MiB page at the PMD.
  mem.Put64(0x3000 + i2 * 8, 0x40000000 | P | X86_64Paging::kHuge);
  w = paging.Walk(PhysAddr{root}, va);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->pa.value, 0x40000000u | (va & 0x1fffff));
  EXPECT_EQ(w->page_size, 2u << 20);

  // A 1 GiB page at the PUD.
  mem.Put64(0x2000 + i3 * 8, 0x80000000 | P | X86_64Paging::kHuge);
  w = paging.Walk(PhysAddr{root}, va);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->pa.value, 0x80000000u | (va & 0x3fffffff));
  EXPECT_EQ(w->page_size, 1u << 30);
}

TEST(X86_64Paging, FailureNamesTheLevel) {
  FakeMemory mem;
  const uint64_t va = 0xffffffff81000000;
  mem.Put64(0x1000 + ((va >> 39) & 511) * 8, 0x2000 | P);
  X86_64Paging paging(mem, false, 0);
  auto w = paging.Walk(PhysAddr{0x1000}, va);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), ErrorCode::kNotPresent);  // the PUD table page is not in the dump
  EXPECT_NE(w.error().message().find("PUD table"), std::string::npos) << w.error().message();

  mem.Put64(0x2000, 0);  // the PUD page now exists but the entry is clear
  w = paging.Walk(PhysAddr{0x1000}, va);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), ErrorCode::kFault);
  EXPECT_NE(w.error().message().find("PUD entry"), std::string::npos) << w.error().message();
}

TEST(X86_64Paging, FiveLevelAndCanonical) {
  FakeMemory mem;
  const uint64_t va = 0xff11000000001000;  // 5-level direct-map range
  uint64_t i5 = (va >> 48) & 511, i4 = (va >> 39) & 511, i3 = (va >> 30) & 511;
  mem.Put64(0x1000 + i5 * 8, 0x2000 | P);
  mem.Put64(0x2000 + i4 * 8, 0x3000 | P);
  mem.Put64(0x3000 + i3 * 8, 0xc0000000 | P | X86_64Paging::kHuge);
  X86_64Paging five(mem, true, 0);
  auto w = five.Walk(PhysAddr{0x1000}, va);
  ASSERT_TRUE(w) << w.error().ToString();
  EXPECT_EQ(w->steps.size(), 3u);
  EXPECT_STREQ(w->steps[0].level, "PGD");
  EXPECT_EQ(w->pa.value, 0xc0001000u);

  X86_64Paging four(mem, false, 0);
  EXPECT_FALSE(four.IsCanonical(va));
  EXPECT_EQ(four.Walk(PhysAddr{0x1000}, va).error().code(), ErrorCode::kFault);
  EXPECT_TRUE(four.IsCanonical(0xffff888000000000));
  EXPECT_TRUE(four.IsCanonical(0x00007fffffffffff));
}

TEST(X86_64Paging, WalkToEntryStopsAtANonPresentPte) {
  FakeMemory mem;
  const uint64_t va = 0x7f0000401000;
  uint64_t i4 = (va >> 39) & 511, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511, i1 = (va >> 12) & 511;
  mem.Put64(0x1000 + i4 * 8, 0x2000 | P);
  mem.Put64(0x2000 + i3 * 8, 0x3000 | P);
  mem.Put64(0x3000 + i2 * 8, 0x4000 | P);
  // The kernel's __swp_entry(type 1, offset 0x1234): ~offset << 14 >> 5 | type << 59.
  const uint64_t swp = ((~uint64_t{0x1234} << 14) >> 5) | (uint64_t{1} << 59);
  mem.Put64(0x4000 + i1 * 8, swp);
  X86_64Paging paging(mem, false, 0);
  auto w = paging.WalkToEntry(PhysAddr{0x1000}, va);
  ASSERT_TRUE(w) << w.error().ToString();
  EXPECT_FALSE(w->present);
  ASSERT_EQ(w->steps.size(), 4u);
  EXPECT_STREQ(w->steps.back().level, "PTE");
  EXPECT_EQ(w->steps.back().entry, swp);
  auto e = X86_64Paging::DecodeSwapPte(swp);
  EXPECT_EQ(e.type, 1u);
  EXPECT_EQ(e.offset, 0x1234u);
  EXPECT_FALSE(paging.Walk(PhysAddr{0x1000}, va));  // Walk still reports it as a fault
}

}  // namespace
}  // namespace coroner
