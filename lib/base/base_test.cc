#include <gtest/gtest.h>

#include "lib/base/byte_reader.h"
#include "lib/base/byte_source.h"
#include "lib/base/checked.h"
#include "lib/base/diagnostics.h"

namespace coroner {
namespace {

std::vector<std::byte> Bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(ByteReader, ReadsBothEndiansAndDoesNotAdvanceOnFailure) {
  auto b = Bytes({0x01, 0x02, 0x03, 0x04, 0x05});
  ByteReader le(b, Endian::kLittle, 0x100);
  EXPECT_EQ(*le.U32(), 0x04030201u);
  auto fail = le.U32();
  ASSERT_FALSE(fail);
  EXPECT_EQ(fail.error().code(), ErrorCode::kTruncated);
  ASSERT_TRUE(fail.error().where());
  EXPECT_EQ(fail.error().where()->value, 0x104u);  // absolute offset of the failed read
  EXPECT_EQ(le.pos(), 4u);
  EXPECT_EQ(*le.U8(), 0x05);

  ByteReader be(b, Endian::kBig);
  EXPECT_EQ(*be.U16(), 0x0102);
}

TEST(ByteReader, FixedStringStopsAtNul) {
  auto b = Bytes({'a', 'b', 0, 'c'});
  ByteReader r(b, Endian::kLittle);
  EXPECT_EQ(*r.FixedString(4), "ab");
  EXPECT_TRUE(r.empty());
}

TEST(Checked, Overflow) {
  EXPECT_FALSE(CheckedAdd(~0ull, 1));
  EXPECT_EQ(*CheckedAdd(1, 2), 3u);
  EXPECT_FALSE(CheckedMul(1ull << 63, 2));
  EXPECT_TRUE(RangeFits(10, 5, 15));
  EXPECT_FALSE(RangeFits(10, 6, 15));
  EXPECT_FALSE(RangeFits(~0ull, 2, 15));
}

TEST(MemorySource, ReadPastEndNamesOffset) {
  MemorySource m(Bytes({1, 2, 3}), "mem");
  std::array<std::byte, 2> out{};
  EXPECT_TRUE(m.ReadExact(1, out));
  auto r = m.ReadExact(2, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
  EXPECT_NE(r.error().ToString().find("at file offset 0x2"), std::string::npos);
}

TEST(FileSource, MissingFile) {
  auto f = FileSource::Open("/nonexistent/coroner-test");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(f.error().message().find("/nonexistent/coroner-test"), std::string::npos);
}

TEST(Diagnostics, DeduplicatesWithCount) {
  Diagnostics d;
  d.Warn("a");
  d.Warn("b");
  d.Warn("a");
  ASSERT_EQ(d.warnings().size(), 2u);
  EXPECT_EQ(d.warnings()[0].count, 2u);
}

}  // namespace
}  // namespace coroner
