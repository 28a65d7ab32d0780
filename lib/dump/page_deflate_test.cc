#include "lib/dump/page_deflate.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>

namespace coroner {
namespace {

// Inflates with zlib's uncompress, the call crash and makedumpfile make.
std::vector<std::byte> Inflate(std::span<const std::byte> z, size_t n) {
  std::vector<std::byte> out(n + 1);
  uLongf got = out.size();
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &got,
                      reinterpret_cast<const Bytef*>(z.data()), z.size());
  if (rc != Z_OK) return {};
  out.resize(got);
  return out;
}

// Compresses and checks the stream inflates to the input; returns its size (0: stored raw).
size_t RoundTrip(PageDeflater& d, const std::vector<std::byte>& in) {
  std::vector<std::byte> z(PageDeflater::Bound(in.size()));
  const size_t n = d.Compress(in, z);
  if (n == 0) return 0;
  EXPECT_LT(n, in.size());
  z.resize(n);
  EXPECT_EQ(Inflate(z, in.size()), in) << "size " << in.size();
  return n;
}

std::vector<std::byte> Bytes(const std::string& s) {
  std::vector<std::byte> v(s.size());
  std::memcpy(v.data(), s.data(), s.size());
  return v;
}

TEST(PageDeflater, ZeroPageIsTinyAndExact) {
  PageDeflater d;
  std::vector<std::byte> page(4096);
  const size_t n = RoundTrip(d, page);
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, 40u);  // 16 matches of 258 and a few more
}

TEST(PageDeflater, RandomPageIsNotSmallerSoStoredRaw) {
  PageDeflater d;
  std::mt19937_64 rng(1);
  std::vector<std::byte> page(4096);
  for (auto& b : page) b = static_cast<std::byte>(rng());
  EXPECT_EQ(RoundTrip(d, page), 0u);
}

TEST(PageDeflater, EmptyAndOversizedInputsAreRefused) {
  PageDeflater d;
  std::vector<std::byte> out(PageDeflater::Bound(PageDeflater::kMaxInput + 1));
  EXPECT_EQ(d.Compress({}, out), 0u);
  std::vector<std::byte> big(PageDeflater::kMaxInput + 1);
  EXPECT_EQ(d.Compress(big, out), 0u);
}

TEST(PageDeflater, OutputTooSmallIsRefusedNotOverrun) {
  PageDeflater d;
  std::vector<std::byte> page = Bytes(std::string(2000, 'a') + "the quick brown fox " + std::string(2076, 'b'));
  std::vector<std::byte> z(PageDeflater::Bound(page.size()));
  const size_t n = d.Compress(page, z);
  ASSERT_GT(n, 0u);
  for (size_t cap = 0; cap < n; ++cap) {
    std::vector<std::byte> small(cap + 1, std::byte{0x5a});
    EXPECT_EQ(d.Compress(page, std::span(small).first(cap)), 0u) << cap;
    EXPECT_EQ(small[cap], std::byte{0x5a});  // nothing written past the span
  }
}

TEST(PageDeflater, TextUsesMatchesAndDynamicCodes) {
  PageDeflater d;
  std::string text;
  while (text.size() < 4096) text += "kernel: BUG: unable to handle page fault for address ";
  text.resize(4096);
  const size_t n = RoundTrip(d, Bytes(text));
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, 200u);
}

TEST(PageDeflater, EveryShortLengthAndMatchLengthEdge) {
  PageDeflater d;
  // Short inputs (the hash's tail case) and runs around the 258-byte match limit.
  for (size_t n = 1; n <= 40; ++n) {
    std::vector<std::byte> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i % 3);
    RoundTrip(d, v);
  }
  for (size_t run : {255, 256, 257, 258, 259, 260, 261, 516, 517}) {
    std::vector<std::byte> v(run + 10, std::byte{7});
    for (size_t i = 0; i < 10; ++i) v[run + i] = static_cast<std::byte>(i);
    RoundTrip(d, v);
  }
}

TEST(PageDeflater, AllByteValuesAndAllDistanceCodes) {
  PageDeflater d;
  // Copies of an earlier stretch at distances up to the whole 32 KiB input, so every distance
  // code and many length codes are used; literals of all 256 values.
  std::mt19937_64 rng(7);
  std::vector<std::byte> v(PageDeflater::kMaxInput);
  for (size_t i = 0; i < 256; ++i) v[i] = static_cast<std::byte>(i);
  size_t i = 256;
  while (i < v.size()) {
    const size_t dist = 1 + rng() % i;
    const size_t len = std::min<size_t>(3 + rng() % 300, v.size() - i);
    for (size_t k = 0; k < len; ++k, ++i) v[i] = v[i - dist];
    if (i < v.size() && rng() % 2) v[i++] = static_cast<std::byte>(rng());
  }
  EXPECT_GT(RoundTrip(d, v), 0u);
}

TEST(PageDeflater, OutputDependsOnlyOnThePage) {
  // The collector's bytes must not depend on which thread (encoder) compressed which pages.
  std::string text;
  while (text.size() < 4096) text += "ffff8880 0000 dead beef list_head ";
  text.resize(4096);
  const auto a = Bytes(text);
  std::vector<std::byte> b(4096);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::byte>(i * 31 % 7 == 0 ? i : 0);
  PageDeflater used, fresh;
  std::vector<std::byte> z1(PageDeflater::Bound(4096)), z2(z1.size()), z3(z1.size());
  const size_t n1 = used.Compress(a, z1);
  ASSERT_GT(used.Compress(b, z2), 0u);
  const size_t n3 = used.Compress(a, z3);
  std::vector<std::byte> z4(z1.size());
  const size_t n4 = fresh.Compress(a, z4);
  ASSERT_GT(n1, 0u);
  EXPECT_EQ(n1, n3);
  EXPECT_EQ(n1, n4);
  EXPECT_EQ(z1, z3);
  EXPECT_EQ(z1, z4);
}

TEST(PageDeflater, RandomStructuredPagesRoundTrip) {
  // Pages like a dump's: runs of one byte, pointers with shared high bytes, copied stretches,
  // random bytes, in random mixes; each inflated by zlib and compared.
  PageDeflater d;
  std::mt19937_64 rng(42);
  size_t compressed = 0;
  for (int t = 0; t < 3000; ++t) {
    const size_t n = t % 10 == 0 ? 1 + rng() % 4096 : 4096;
    std::vector<std::byte> v(n);
    size_t i = 0;
    while (i < n) {
      const size_t len = std::min<size_t>(1 + rng() % 600, n - i);
      switch (rng() % 5) {
        case 0: {
          const auto b = static_cast<std::byte>(rng() % 4 ? 0 : rng());
          for (size_t k = 0; k < len; ++k) v[i++] = b;
          break;
        }
        case 1:
          for (size_t k = 0; k < len; ++k, ++i) v[i] = static_cast<std::byte>(rng());
          break;
        case 2:
          for (size_t k = 0; k < len; ++k, ++i)
            v[i] = static_cast<std::byte>(i % 8 < 5 ? rng() % 16 : 0xff);
          break;
        default:
          if (i == 0) {
            v[i++] = std::byte{1};
            break;
          }
          const size_t dist = 1 + rng() % std::min<size_t>(i, 64 + rng() % 4096);
          for (size_t k = 0; k < len; ++k, ++i) v[i] = v[i - dist];
      }
    }
    if (RoundTrip(d, v)) ++compressed;
  }
  EXPECT_GT(compressed, 1500u);
}

}  // namespace
}  // namespace coroner
