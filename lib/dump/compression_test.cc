#include "lib/dump/compression.h"

#include <gtest/gtest.h>

namespace coroner {
namespace {

class CompressionRoundTrip : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressionRoundTrip, PageComesBackExactly) {
  std::vector<std::byte> page(4096);
  for (size_t i = 0; i < page.size(); ++i) page[i] = static_cast<std::byte>((i * 7) % 13);
  auto packed = CompressPage(GetParam(), page);
  ASSERT_TRUE(packed);
  ASSERT_FALSE(packed->empty());
  EXPECT_LT(packed->size(), page.size());
  std::vector<std::byte> out(4096);
  ASSERT_TRUE(DecompressPage(GetParam(), *packed, out));
  EXPECT_EQ(out, page);
}

TEST_P(CompressionRoundTrip, CorruptInputIsAnErrorNotACrash) {
  std::vector<std::byte> junk(100, std::byte{0xff});
  std::vector<std::byte> out(4096);
  auto r = DecompressPage(GetParam(), junk, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kBadData);
}

INSTANTIATE_TEST_SUITE_P(All, CompressionRoundTrip,
                         ::testing::Values(Compression::kZlib, Compression::kLzo, Compression::kSnappy,
                                           Compression::kZstd));

TEST(Compression, IncompressiblePageIsStoredRaw) {
  std::vector<std::byte> page(4096);
  uint64_t x = 88172645463325252ull;
  for (auto& b : page) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    b = static_cast<std::byte>(x);
  }
  auto packed = CompressPage(Compression::kZlib, page);
  ASSERT_TRUE(packed);
  EXPECT_TRUE(packed->empty());
}

}  // namespace
}  // namespace coroner
