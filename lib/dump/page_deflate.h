// A zlib-format (RFC 1950 around one RFC 1951 block) encoder for one page per call.
//
// Why not only a library: a kdump file compresses each page as its own stream, so a general
// encoder pays its per-stream set-up once per 4 KiB: libdeflate clears hash tables sized for a
// 32 KiB window and weighs several block types on every call (28-36 us for a page of zeros on
// our 2-core machines), and zlib's compress2, makedumpfile's call, also allocates. This one has
// tables sized for a page (a 16 KiB hash head cleared per call, a chain over the page's
// positions), a greedy parse of matches of 4 bytes or more, and one block with dynamic or fixed
// Huffman codes, whichever is smaller. On the 13,866 non-uniform -d 31 pages of the 5.10 test
// dump it is 1.6x libdeflate level 2's speed at 1.018x its bytes (0.984x zlib level 1's).
// Its output is an ordinary zlib stream that zlib's uncompress (crash, makedumpfile),
// libkdumpfile and libdeflate inflate; the kdump writer checks each stream by inflating it
// again (libdeflate) before it is used.
//
//   PageDeflater d;
//   std::vector<std::byte> out(PageDeflater::Bound(page.size()));
//   size_t n = d.Compress(page, out);  // 0: not smaller than the page (store it raw)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace coroner {

class PageDeflater {
 public:
  // Inputs up to this size (positions fit the 16-bit chain; every distance is in deflate's
  // 32 KiB window). Larger ones are the caller's to give to another encoder.
  static constexpr size_t kMaxInput = 32768;

  // Output space Compress needs at most for an input of `n` bytes.
  static constexpr size_t Bound(size_t n) { return n + 64; }

  // Writes `in` (at most kMaxInput bytes) as one zlib stream to `out`. Returns its size, or 0
  // when that would not be smaller than `in`, `out` is too small, or `in` is empty or too big.
  size_t Compress(std::span<const std::byte> in, std::span<std::byte> out);

 private:
  // A parsed match or literal: dist 0 is the literal `len`.
  struct Item {
    uint16_t len;
    uint16_t dist;
  };

  void Parse(const uint8_t* s, size_t n);
  size_t n_items_ = 0;

  std::vector<uint16_t> head_;  // hash -> position + 1 of the newest 3-byte sequence, 0: none
  std::vector<uint16_t> prev_;  // position -> position + 1 of the previous one with its hash
  std::vector<Item> items_;
  std::vector<uint8_t> scratch_;
  uint32_t lit_freq_[286];
  uint32_t dist_freq_[30];
};

}  // namespace coroner
