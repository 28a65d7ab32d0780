#include "lib/dump/page_deflate.h"

#include <libdeflate.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace coroner {
namespace {

constexpr size_t kMaxMatch = 258;
constexpr int kHashBits = 13;
// Parsing effort, chosen on the -d 31 pages of the test dumps: greedy matching of 4 bytes or
// more, walking at most this many earlier positions with the same hash. Measured on the 5.10
// dump's 13,866 non-uniform pages against libdeflate level 2 (speeds +-10%, the machine was
// shared): chain 3 1.7x its speed at 1.033x its bytes, 4 1.6x at 1.018x, 6 1.6x at 1.021x
// (zlib level 1, makedumpfile's, is at 1.034x). Lazy matching with chains of 8 was 3.7% smaller
// than libdeflate and no faster.
constexpr int kMaxChain = 4;
// Inside a match longer than this only its last 2 positions go into the hash chains: a run
// would otherwise fill a chain with copies of itself (32: 2% larger; 16: 0.2% smaller, slower).
constexpr size_t kInsertAllBelow = 8;

constexpr uint16_t kLenBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t kDistBase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                    33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                    1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// The order code-length code lengths are sent in (RFC 1951 3.2.7).
constexpr uint8_t kClOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

struct SymbolTables {
  uint8_t len_sym[kMaxMatch + 1];  // match length -> length code - 257
  uint8_t dist_lo[256];            // distance - 1 (< 256) -> distance code
  uint8_t dist_hi[256];            // (distance - 1) >> 7 (distance > 256) -> distance code
};

constexpr SymbolTables MakeTables() {
  SymbolTables t{};
  for (size_t len = 3; len <= kMaxMatch; ++len) {
    uint8_t c = 0;
    while (c < 28 && kLenBase[c + 1] <= len) ++c;
    t.len_sym[len] = c;  // 258 is code 28 (285), not 27's 227 + 31
  }
  auto code_of = [](uint32_t d) {
    uint8_t c = 0;
    while (c < 29 && kDistBase[c + 1] <= d) ++c;
    return c;
  };
  for (uint32_t i = 0; i < 256; ++i) {
    t.dist_lo[i] = code_of(i + 1);
    t.dist_hi[i] = code_of((i << 7) + 1);
  }
  return t;
}
constexpr SymbolTables kTables = MakeTables();

inline unsigned DistSym(unsigned dist) {
  return dist <= 256 ? kTables.dist_lo[dist - 1] : kTables.dist_hi[(dist - 1) >> 7];
}

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint32_t Hash4(const uint8_t* p) { return (Load32(p) * 0x9E3779B1u) >> (32 - kHashBits); }

// Length of the common prefix of a and b, at most `max`.
inline size_t MatchLength(const uint8_t* a, const uint8_t* b, size_t max) {
  size_t k = 0;
  while (k + 8 <= max) {
    uint64_t x = Load64(a + k) ^ Load64(b + k);
    if (x) return k + (std::countr_zero(x) >> 3);
    k += 8;
  }
  while (k < max && a[k] == b[k]) ++k;
  return k;
}

// Huffman code lengths, at most `limit` bits, for freq[0, n). Symbols of frequency 0 get 0,
// except that at least two symbols always get a length (as zlib does: a complete code every
// inflater takes, even for a block with one distance or none).
void BuildLengths(const uint32_t* freq, int n, int limit, uint8_t* lens) {
  // Leaves sorted by frequency, ties by symbol: one key each, frequency above the 9-bit symbol.
  std::array<uint32_t, 286> key;
  int m = 0;
  for (int s = 0; s < n; ++s) {
    lens[s] = 0;
    if (freq[s]) key[m++] = std::min<uint32_t>(freq[s], 0xffff) << 9 | static_cast<uint32_t>(s);
  }
  if (m < 2) {
    int a = m == 1 ? static_cast<int>(key[0] & 511) : 0;
    int b = a == 0 ? 1 : 0;
    lens[a] = lens[b] = 1;
    return;
  }
  std::array<uint32_t, 2 * 286> w;
  std::array<uint16_t, 2 * 286> parent;
  std::array<uint8_t, 2 * 286> depth;
  std::array<uint32_t, 286> tmp;
  for (;;) {
    // A stable radix sort on the 16-bit frequency, a byte a pass, the second only when some
    // frequency needs it (inputs of at most kMaxInput bytes have frequencies below 2^16).
    uint32_t top = 0;
    for (int i = 0; i < m; ++i) top = std::max(top, key[i]);
    const int passes = (top >> 9) < 256 ? 1 : 2;
    for (int shift = 9; shift < 9 + 8 * passes; shift += 8) {
      uint16_t count[257] = {};
      for (int i = 0; i < m; ++i) ++count[((key[i] >> shift) & 0xff) + 1];
      for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
      for (int i = 0; i < m; ++i) tmp[count[(key[i] >> shift) & 0xff]++] = key[i];
      std::copy(tmp.begin(), tmp.begin() + m, key.begin());
    }
    for (int i = 0; i < m; ++i) w[i] = key[i] >> 9;
    // Two queues: the sorted leaves, and internal nodes (made in non-decreasing weight order).
    int leaf = 0, inner = m, next = m;
    auto pick = [&]() {
      if (leaf < m && (inner >= next || w[leaf] <= w[inner])) return leaf++;
      return inner++;
    };
    for (int k = 0; k < m - 1; ++k) {
      int a = pick();
      int b = pick();
      w[next] = w[a] + w[b];
      parent[a] = parent[b] = static_cast<uint16_t>(next);
      ++next;
    }
    const int root = 2 * m - 2;
    depth[root] = 0;
    int max_depth = 0;
    for (int i = root - 1; i >= 0; --i) {
      depth[i] = static_cast<uint8_t>(depth[parent[i]] + 1);
      if (i < m) max_depth = std::max<int>(max_depth, depth[i]);
    }
    if (max_depth <= limit) {
      for (int i = 0; i < m; ++i) lens[key[i] & 511] = depth[i];
      return;
    }
    // Too deep: flatten the frequencies and build again (all equal gives a balanced tree).
    for (int i = 0; i < m; ++i) key[i] = std::max<uint32_t>(1, key[i] >> 10) << 9 | (key[i] & 511);
  }
}

// Bit-reversed bytes, for turning canonical codes into deflate's LSB-first order.
constexpr std::array<uint8_t, 256> MakeReversed() {
  std::array<uint8_t, 256> r{};
  for (int i = 0; i < 256; ++i) {
    int v = 0;
    for (int b = 0; b < 8; ++b) v |= ((i >> b) & 1) << (7 - b);
    r[i] = static_cast<uint8_t>(v);
  }
  return r;
}
constexpr std::array<uint8_t, 256> kReversed = MakeReversed();

// Canonical codes (RFC 1951 3.2.2), bit-reversed for deflate's LSB-first order.
void BuildCodes(const uint8_t* lens, int n, uint16_t* codes) {
  uint16_t count[16] = {};
  for (int s = 0; s < n; ++s) ++count[lens[s]];
  count[0] = 0;
  uint16_t next[16] = {};
  uint32_t code = 0;
  for (int bits = 1; bits < 16; ++bits) {
    code = (code + count[bits - 1]) << 1;
    next[bits] = static_cast<uint16_t>(code);
  }
  for (int s = 0; s < n; ++s) {
    const int len = lens[s];
    if (!len) continue;
    const uint32_t c = next[len]++;
    const uint32_t r = uint32_t{kReversed[c & 0xff]} << 8 | kReversed[c >> 8];  // 16 bits reversed
    codes[s] = static_cast<uint16_t>(r >> (16 - len));
  }
}

// Writes bits LSB first. Each Put stores 8 bytes at the write position, so the buffer needs 8
// bytes of slack past the stream's end.
class BitWriter {
 public:
  explicit BitWriter(uint8_t* p) : p_(p) {}
  void Put(uint64_t bits, unsigned count) {  // count <= 56
    acc_ |= bits << n_;
    n_ += count;
    std::memcpy(p_, &acc_, 8);  // x86_64: little-endian
    p_ += n_ >> 3;
    acc_ = (n_ & ~7u) == 64 ? 0 : acc_ >> (n_ & ~7u);
    n_ &= 7;
  }
  // The end of the stream, its last partial byte included.
  uint8_t* Finish() {
    if (n_) *p_++ = static_cast<uint8_t>(acc_);
    n_ = 0;
    return p_;
  }

 private:
  uint8_t* p_;
  uint64_t acc_ = 0;
  unsigned n_ = 0;
};

// Run-length coded code lengths (RFC 1951 3.2.7): each entry a symbol 0-18 and its extra value.
struct ClItem {
  uint8_t sym;
  uint8_t extra;
};
constexpr uint8_t kClExtraBits[19] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7};

size_t EncodeLengths(const uint8_t* lens, size_t n, ClItem* out, uint32_t* cl_freq) {
  size_t k = 0;
  auto emit = [&](uint8_t sym, uint8_t extra) {
    out[k++] = {sym, extra};
    ++cl_freq[sym];
  };
  for (size_t i = 0; i < n;) {
    const uint8_t v = lens[i];
    size_t run = 1;
    while (i + run < n && lens[i + run] == v) ++run;
    i += run;
    if (v == 0) {
      while (run >= 11) {
        const size_t r = std::min<size_t>(run, 138);
        emit(18, static_cast<uint8_t>(r - 11));
        run -= r;
      }
      if (run >= 3) {
        emit(17, static_cast<uint8_t>(run - 3));
        run = 0;
      }
      while (run--) emit(0, 0);
    } else {
      emit(v, 0);
      --run;
      while (run >= 3) {
        const size_t r = std::min<size_t>(run, 6);
        emit(16, static_cast<uint8_t>(r - 3));
        run -= r;
      }
      while (run--) emit(v, 0);
    }
  }
  return k;
}

uint8_t FixedLitLength(unsigned s) { return s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8; }

}  // namespace

void PageDeflater::Parse(const uint8_t* s, size_t n) {
  head_.assign(size_t{1} << kHashBits, 0);
  if (prev_.size() < n) prev_.resize(n);
  if (items_.size() < n + 1) items_.resize(n + 1);
  std::memset(lit_freq_, 0, sizeof lit_freq_);
  std::memset(dist_freq_, 0, sizeof dist_freq_);
  uint16_t* head = head_.data();
  uint16_t* prev = prev_.data();
  Item* item = items_.data();
  size_t i = 0;
  // Positions with 4 readable bytes are hashed on 4 (matches of 4 or more); the last 3 bytes
  // are literals.
  const size_t last = n >= 4 ? n - 4 : 0;
  while (n >= 4 && i <= last) {
    const uint32_t h = Hash4(s + i);
    uint32_t cand = head[h];
    prev[i] = static_cast<uint16_t>(cand);
    head[h] = static_cast<uint16_t>(i + 1);
    const size_t max = std::min(kMaxMatch, n - i);
    size_t best = 3;
    size_t best_dist = 0;
    const uint32_t cur4 = Load32(s + i);
    for (int chain = kMaxChain; cand && chain; --chain) {
      const size_t j = cand - 1;
      if (Load32(s + j) == cur4 && s[j + best] == s[i + best]) {
        const size_t len = 4 + MatchLength(s + j + 4, s + i + 4, max - 4);
        if (len > best) {
          best = len;
          best_dist = i - j;
          if (len == max) break;
        }
      }
      cand = prev[j];
    }
    if (best_dist == 0) {
      *item++ = {s[i], 0};
      ++lit_freq_[s[i]];
      ++i;
      continue;
    }
    *item++ = {static_cast<uint16_t>(best), static_cast<uint16_t>(best_dist)};
    ++lit_freq_[257 + kTables.len_sym[best]];
    ++dist_freq_[DistSym(static_cast<unsigned>(best_dist))];
    const size_t end = i + best;
    size_t p = best > kInsertAllBelow ? end - 2 : i + 1;
    for (; p < end && p <= last; ++p) {
      const uint32_t hp = Hash4(s + p);
      prev[p] = head[hp];
      head[hp] = static_cast<uint16_t>(p + 1);
    }
    i = end;
  }
  for (; i < n; ++i) {
    *item++ = {s[i], 0};
    ++lit_freq_[s[i]];
  }
  ++lit_freq_[256];
  n_items_ = static_cast<size_t>(item - items_.data());
}

size_t PageDeflater::Compress(std::span<const std::byte> in, std::span<std::byte> out) {
  const size_t n = in.size();
  if (n == 0 || n > kMaxInput) return 0;
  const auto* s = reinterpret_cast<const uint8_t*>(in.data());
  Parse(s, n);
  const std::span<const Item> items(items_.data(), n_items_);

  // Extra bits are the same for both codes.
  uint64_t extra_bits = 0;
  for (int c = 0; c < 29; ++c) extra_bits += uint64_t{lit_freq_[257 + c]} * kLenExtra[c];
  for (int c = 0; c < 30; ++c) extra_bits += uint64_t{dist_freq_[c]} * kDistExtra[c];

  uint8_t lit_len[286], dist_len[30];
  BuildLengths(lit_freq_, 286, 15, lit_len);
  BuildLengths(dist_freq_, 30, 15, dist_len);
  int hlit = 286;
  while (hlit > 257 && lit_len[hlit - 1] == 0) --hlit;
  int hdist = 30;
  while (hdist > 1 && dist_len[hdist - 1] == 0) --hdist;
  uint8_t all_lens[286 + 30];
  std::memcpy(all_lens, lit_len, hlit);
  std::memcpy(all_lens + hlit, dist_len, hdist);
  ClItem cl_items[286 + 30];
  uint32_t cl_freq[19] = {};
  const size_t n_cl = EncodeLengths(all_lens, hlit + hdist, cl_items, cl_freq);
  uint8_t cl_len[19];
  BuildLengths(cl_freq, 19, 7, cl_len);
  int hclen = 19;
  while (hclen > 4 && cl_len[kClOrder[hclen - 1]] == 0) --hclen;

  uint64_t dynamic_bits = 3 + 5 + 5 + 4 + 3 * uint64_t(hclen) + extra_bits;
  for (size_t k = 0; k < n_cl; ++k) dynamic_bits += cl_len[cl_items[k].sym] + kClExtraBits[cl_items[k].sym];
  uint64_t fixed_bits = 3 + extra_bits;
  for (int c = 0; c < 286; ++c) {
    dynamic_bits += uint64_t{lit_freq_[c]} * lit_len[c];
    fixed_bits += uint64_t{lit_freq_[c]} * FixedLitLength(c);
  }
  for (int c = 0; c < 30; ++c) {
    dynamic_bits += uint64_t{dist_freq_[c]} * dist_len[c];
    fixed_bits += uint64_t{dist_freq_[c]} * 5;
  }
  const bool fixed = fixed_bits <= dynamic_bits;
  const size_t total = 2 + (std::min(fixed_bits, dynamic_bits) + 7) / 8 + 4;
  if (total >= n || total > out.size()) return 0;

  // The fixed code is canonical over all 288 literal/length symbols (286 and 287 are never
  // sent, but they count in the code lengths' tally).
  uint16_t lit_code[288] = {}, dist_code[30] = {};
  uint8_t fixed_len[288];
  if (fixed) {
    for (int c = 0; c < 288; ++c) fixed_len[c] = FixedLitLength(c);
    for (int c = 0; c < 30; ++c) dist_len[c] = 5;
  }
  const uint8_t* lens_used = fixed ? fixed_len : lit_len;
  BuildCodes(lens_used, fixed ? 288 : 286, lit_code);
  BuildCodes(dist_len, 30, dist_code);

  // Written to scratch_ (the bit writer's 8 bytes of slack), then copied out.
  if (scratch_.size() < total + 8) scratch_.resize(Bound(kMaxInput) + 8);
  uint8_t* o = scratch_.data();
  o[0] = 0x78;  // CM 8 (deflate), CINFO 7 (32 KiB window)
  o[1] = 0x01;  // FLEVEL 0 (fastest); (0x78 << 8 | 0x01) % 31 == 0
  BitWriter bw(o + 2);
  bw.Put(fixed ? 0b011 : 0b101, 3);  // BFINAL 1, then BTYPE 01 (fixed) or 10 (dynamic)
  if (!fixed) {
    uint16_t cl_code[19] = {};
    BuildCodes(cl_len, 19, cl_code);
    bw.Put((hlit - 257) | (hdist - 1) << 5 | (hclen - 4) << 10, 14);
    for (int k = 0; k < hclen; ++k) bw.Put(cl_len[kClOrder[k]], 3);
    for (size_t k = 0; k < n_cl; ++k) {
      const ClItem it = cl_items[k];
      bw.Put(cl_code[it.sym] | uint32_t{it.extra} << cl_len[it.sym], cl_len[it.sym] + kClExtraBits[it.sym]);
    }
  }
  for (const Item it : items) {
    if (it.dist == 0) {
      bw.Put(lit_code[it.len], lens_used[it.len]);
      continue;
    }
    // One put per match: length code, its extra bits, distance code, its extra bits.
    const unsigned ls = kTables.len_sym[it.len];
    const unsigned ds = DistSym(it.dist);
    uint64_t bits = lit_code[257 + ls];
    unsigned count = lens_used[257 + ls];
    bits |= uint64_t(it.len - kLenBase[ls]) << count;
    count += kLenExtra[ls];
    bits |= uint64_t{dist_code[ds]} << count;
    count += dist_len[ds];
    bits |= uint64_t(it.dist - kDistBase[ds]) << count;
    count += kDistExtra[ds];
    bw.Put(bits, count);
  }
  bw.Put(lit_code[256], lens_used[256]);
  uint8_t* end = bw.Finish();
  const uint32_t adler = libdeflate_adler32(1, s, n);
  end[0] = static_cast<uint8_t>(adler >> 24);
  end[1] = static_cast<uint8_t>(adler >> 16);
  end[2] = static_cast<uint8_t>(adler >> 8);
  end[3] = static_cast<uint8_t>(adler);
  end += 4;
  const size_t size = static_cast<size_t>(end - o);
  if (size != total) return 0;  // the size worked out above is the size written
  std::memcpy(out.data(), o, size);
  return size;
}

}  // namespace coroner
