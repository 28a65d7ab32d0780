#include "lib/kernel/orc.h"

#include <gtest/gtest.h>

namespace coroner {
namespace {

OrcRange Range(uint64_t start, uint64_t end, int16_t sp_offset, OrcType type = OrcType::kCall) {
  OrcRange r;
  r.start = start;
  r.end = end;
  r.entry.sp_offset = sp_offset;
  r.entry.sp_reg = OrcReg::kSp;
  r.entry.bp_reg = OrcReg::kUndefined;
  r.entry.type = type;
  return r;
}

// A subset as a triage file keeps it: the ranges its analysis looked up, within the text the
// whole tables cover.
OrcTable Sample() {
  return OrcTable::FromRanges({Range(0xffffffff81000000, 0xffffffff81000010, 8),
                               Range(0xffffffff81000200, 0xffffffff81000240, 16, OrcType::kRegs)},
                              {{0xffffffff81000000, 0xffffffff82000000}}, true, "5.10-6.x (SP 5, PREV_SP 1)");
}

TEST(OrcSubset, RoundTrip) {
  OrcTable t = Sample();
  std::vector<OrcRange> used = {Range(0xffffffff81000200, 0xffffffff81000240, 16, OrcType::kRegs),
                                Range(0xffffffff81000000, 0xffffffff81000010, 8),
                                Range(0xffffffff81000200, 0xffffffff81000240, 16, OrcType::kRegs)};  // a repeat
  auto bytes = WriteOrcSubset(t, used);
  auto sub = ReadOrcSubset(bytes);
  ASSERT_TRUE(sub.has_value()) << sub.error().message();
  EXPECT_TRUE(sub->subset());
  EXPECT_TRUE(sub->new_layout());
  EXPECT_EQ(sub->register_numbering(), "5.10-6.x (SP 5, PREV_SP 1)");
  auto e = sub->Find(0xffffffff81000208);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->sp_offset, 16);
  EXPECT_EQ(e->type, OrcType::kRegs);
  ASSERT_TRUE(sub->Find(0xffffffff81000000));
  EXPECT_EQ(sub->Find(0xffffffff81000000)->sp_offset, 8);
  // Between the kept ranges, inside the covered text: no entry, but Covers says the whole tables
  // had one (so the unwinder can say the triage file left it out).
  EXPECT_FALSE(sub->Find(0xffffffff81000100));
  EXPECT_TRUE(sub->Covers(0xffffffff81000100));
  EXPECT_FALSE(sub->Covers(0xffffffffc0000000));
  EXPECT_FALSE(sub->Find(0xffffffff81000240));
}

TEST(OrcSubset, RejectsBadBytes) {
  OrcTable t = Sample();
  auto bytes = WriteOrcSubset(t, {Range(0xffffffff81000000, 0xffffffff81000010, 8)});
  ASSERT_TRUE(ReadOrcSubset(bytes).has_value());
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(ReadOrcSubset(std::span(bytes).first(n)).has_value()) << n;
  auto trailing = bytes;
  trailing.push_back(std::byte{0});
  EXPECT_FALSE(ReadOrcSubset(trailing).has_value());
  // A register number no kernel uses (the sp_reg byte of the only range).
  auto bad_reg = bytes;
  bad_reg[bytes.size() - 4] = std::byte{12};
  auto r = ReadOrcSubset(bad_reg);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("bad range"), std::string::npos);
  // Overlapping ranges.
  auto overlap = WriteOrcSubset(t, {Range(0xffffffff81000000, 0xffffffff81000010, 8),
                                    Range(0xffffffff81000008, 0xffffffff81000020, 8)});
  EXPECT_FALSE(ReadOrcSubset(overlap).has_value());
}

}  // namespace
}  // namespace coroner
