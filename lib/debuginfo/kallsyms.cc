#include "lib/debuginfo/kallsyms.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "lib/base/byte_reader.h"
#include "lib/base/checked.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {
namespace {

// Bounds on untrusted values. KSYM_NAME_LEN is 512 since 6.1 (128 before); a name's token
// count is below 0x4000 (two 7-bit length bytes).
constexpr uint32_t kMaxSymbols = 8u << 20;
constexpr size_t kMaxNameLength = 1024;
constexpr size_t kMaxTokenTable = 64 * 1024;
constexpr size_t kMaxNamesBytes = 256u << 20;
constexpr size_t kChunk = 256 * 1024;
constexpr uint64_t kPage = 4096;
// One name takes 2..514 bytes of kallsyms_names (a length byte or two, then up to 512 tokens:
// KSYM_NAME_LEN 512 with the type letter and without the NUL), so 256 of them take:
constexpr uint64_t kMinBlock = 256 * 2;
constexpr uint64_t kMaxBlock = 256 * 514;

uint16_t LoadLE16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// A growing window of kernel memory from `base`, read on demand in large chunks (the names
// table is megabytes; one read per chunk keeps kdump page decompression streaming).
class MemoryWindow {
 public:
  MemoryWindow(const KernelReadFn& read, uint64_t base, uint64_t limit)
      : read_(read), base_(base), limit_(limit) {}

  // Makes [pos, pos + n) (relative to base) available.
  Result<const std::byte*> At(uint64_t pos, size_t n) {
    auto end = CheckedAdd(pos, n);
    if (!end || *end > limit_) {
      return Error(ErrorCode::kBadData, "kallsyms table runs past its bound", AtVirt(base_ + pos));
    }
    while (buf_.size() < *end) {
      if (exhausted_) {
        return Error(ErrorCode::kTruncated, "kallsyms table is not readable to its end",
                     AtVirt(base_ + buf_.size()));
      }
      CORONER_TRY_VOID(Grow(std::max<uint64_t>(kChunk, *end - buf_.size())));
    }
    return buf_.data() + pos;
  }

  // Reads up to `want` more bytes; after a failed read, page by page up to the first
  // unreadable page, which ends the window. Fails only when nothing more could be read.
  Result<void> Grow(uint64_t want) {
    want = std::min<uint64_t>(want, limit_ - buf_.size());
    if (want == 0) {
      exhausted_ = true;
      return Error(ErrorCode::kTruncated, "end of the range", AtVirt(base_ + buf_.size()));
    }
    size_t old = buf_.size();
    buf_.resize(old + want);
    auto r = read_(base_ + old, std::span(buf_).subspan(old, want));
    if (r) return Ok();
    size_t got = old;
    while (got < old + want) {
      uint64_t va = base_ + got;
      size_t n = std::min<uint64_t>(kPage - (va % kPage), old + want - got);
      if (!read_(va, std::span(buf_).subspan(got, n))) break;
      got += n;
    }
    buf_.resize(got);
    exhausted_ = true;
    if (got == old) return std::move(r).error();
    return Ok();
  }

 private:
  const KernelReadFn& read_;
  uint64_t base_;
  uint64_t limit_;
  std::vector<std::byte> buf_;
  bool exhausted_ = false;
};

Result<std::vector<std::byte>> ReadBytes(const KernelReadFn& read, uint64_t va, size_t n) {
  std::vector<std::byte> b(n);
  CORONER_TRY_VOID(read(va, b));
  return b;
}

Result<uint32_t> ReadU32(const KernelReadFn& read, uint64_t va) {
  std::array<std::byte, 4> b{};
  CORONER_TRY_VOID(read(va, b));
  return LoadLE32(b.data());
}

Result<uint64_t> ReadU64(const KernelReadFn& read, uint64_t va) {
  std::array<std::byte, 8> b{};
  CORONER_TRY_VOID(read(va, b));
  return LoadLE64(b.data());
}

// The 256 tokens; a name byte b expands to flat[offset[b], offset[b] + length[b]). `flat` has
// 16 bytes of slack after every token so short ones can be copied 16 bytes at a time.
struct TokenTable {
  std::string flat;
  std::array<uint32_t, 256> offset{};
  std::array<uint16_t, 256> length{};
  uint64_t table_bytes = 0;
};

// Checks a token table + index already in memory: the index is strictly increasing (each
// token is its string plus a NUL), every token is NUL-terminated exactly where the next
// begins, and no token holds a NUL. `table` may extend past the table's end.
Result<TokenTable> ParseTokenTable(std::span<const std::byte> table,
                                   std::span<const std::byte> index, uint64_t table_va) {
  if (index.size() < 512) return Error(ErrorCode::kTruncated, "kallsyms_token_index is short");
  std::array<uint16_t, 256> idx{};
  for (size_t i = 0; i < 256; ++i) idx[i] = LoadLE16(index.data() + 2 * i);
  if (idx[0] != 0) {
    return Error(ErrorCode::kBadData, "kallsyms_token_index[0] is not 0", AtVirt(table_va));
  }
  TokenTable t;
  for (size_t i = 0; i < 256; ++i) {
    size_t start = idx[i];
    if (start >= table.size()) {
      return Error(ErrorCode::kBadData, fmt::format("kallsyms token {} starts past the table", i),
                   AtVirt(table_va + start));
    }
    auto* p = table.data() + start;
    auto* nul = static_cast<const std::byte*>(std::memchr(p, 0, table.size() - start));
    if (!nul) {
      return Error(ErrorCode::kBadData, fmt::format("kallsyms token {} is not terminated", i),
                   AtVirt(table_va + start));
    }
    size_t end = static_cast<size_t>(nul - table.data()) + 1;
    if (i < 255 && idx[i + 1] != end) {
      return Error(ErrorCode::kBadData,
                   fmt::format("kallsyms token {} ends at {:#x}, token {} starts at {:#x}", i, end,
                               i + 1, idx[i + 1]),
                   AtVirt(table_va + start));
    }
    if (i == 255) t.table_bytes = end;
  }
  const char* chars = reinterpret_cast<const char*>(table.data());
  t.flat.assign(chars, t.table_bytes);
  t.flat.append(16, '\0');
  for (size_t i = 0; i < 256; ++i) {
    size_t end = i < 255 ? idx[i + 1] : t.table_bytes;
    t.offset[i] = idx[i];
    t.length[i] = static_cast<uint16_t>(end - idx[i] - 1);
  }
  return t;
}

Result<TokenTable> ReadTokenTable(const KernelReadFn& read, uint64_t table_va, uint64_t index_va) {
  CORONER_TRY(std::vector<std::byte> index, ReadBytes(read, index_va, 512));
  uint16_t max_start = 0;
  for (size_t i = 0; i < 256; ++i) max_start = std::max(max_start, LoadLE16(index.data() + 2 * i));
  // Every layout puts the index right after the table; otherwise read past the last token's
  // start (tokens are short: at most a few dozen characters).
  size_t size = max_start + 256;
  if (index_va > table_va && index_va - table_va > max_start &&
      index_va - table_va <= kMaxTokenTable) {
    size = index_va - table_va;
  }
  CORONER_TRY(std::vector<std::byte> table, ReadBytes(read, table_va, size));
  auto t = ParseTokenTable(table, index, table_va);
  if (!t) return std::move(t).error().WithContext("kallsyms_token_table");
  return t;
}

// One decoded name: type letter and name, as offsets into a shared arena.
struct DecodedName {
  uint32_t offset;
  uint32_t length;
  char type;
};

struct DecodedNames {
  std::vector<char> arena;
  std::vector<DecodedName> names;
  std::vector<uint32_t> block_starts;  // offset of every 256th name: what kallsyms_markers holds
  uint64_t bytes = 0;                  // size of kallsyms_names
  std::string_view Name(size_t i) const {
    return std::string_view(arena.data() + names[i].offset, names[i].length);
  }
};

Result<DecodedNames> DecodeNames(const KernelReadFn& read, uint64_t names_va, uint32_t count,
                                 bool two_byte, const TokenTable& tt) {
  MemoryWindow w(read, names_va, std::min<uint64_t>(kMaxNamesBytes, uint64_t{count} * 0x4002));
  DecodedNames out;
  out.names.reserve(count);
  out.arena.resize(size_t{count} * 32);
  size_t used = 0;
  uint64_t pos = 0;
  for (uint32_t i = 0; i < count; ++i) {
    if (i % 256 == 0) out.block_starts.push_back(static_cast<uint32_t>(pos));
    CORONER_TRY(const std::byte* p, w.At(pos, 1));
    uint32_t len = std::to_integer<uint32_t>(*p);
    uint32_t prefix = 1;
    if (two_byte && (len & 0x80)) {
      CORONER_TRY(const std::byte* q, w.At(pos + 1, 1));
      len = (len & 0x7f) | (std::to_integer<uint32_t>(*q) << 7);
      prefix = 2;
    }
    if (len == 0) {
      return Error(ErrorCode::kBadData, fmt::format("kallsyms name {} has no tokens", i),
                   AtVirt(names_va + pos));
    }
    CORONER_TRY(const std::byte* tok, w.At(pos + prefix, len));
    size_t total = 0;
    for (uint32_t k = 0; k < len; ++k) total += tt.length[std::to_integer<uint8_t>(tok[k])];
    if (total < 2 || total > kMaxNameLength) {
      return Error(ErrorCode::kBadData,
                   fmt::format("kallsyms name {} expands to {} characters", i, total),
                   AtVirt(names_va + pos));
    }
    // Expand straight into the arena (16 bytes of slack for the short-token copies); the type
    // letter stays there, just before the name.
    if (used + total + 16 > out.arena.size()) {
      out.arena.resize(std::max(out.arena.size() * 2, used + total + 16));
    }
    char* dst = out.arena.data() + used;
    for (uint32_t k = 0; k < len; ++k) {
      uint8_t b = std::to_integer<uint8_t>(tok[k]);
      const char* src = tt.flat.data() + tt.offset[b];
      uint16_t n = tt.length[b];
      if (n <= 16) {
        std::memcpy(dst, src, 16);
      } else {
        std::memcpy(dst, src, n);
      }
      dst += n;
    }
    DecodedName d;
    d.offset = static_cast<uint32_t>(used + 1);
    d.length = static_cast<uint32_t>(total - 1);
    d.type = out.arena[used];
    out.names.push_back(d);
    used += total;
    pos += prefix + len;
  }
  out.arena.resize(used);
  out.bytes = pos;
  return out;
}

// kallsyms_markers follows kallsyms_names in every layout (at the next 4- or 8-byte boundary)
// and must list exactly where every 256th name started: a check that the names were walked
// with the right length rule and count. Its entries are u32 (unsigned long, 8 bytes, in older
// kernels; both are tried). Returns the markers' address.
std::optional<uint64_t> FindMarkersAfter(const KernelReadFn& read, uint64_t names_va,
                                         const DecodedNames& names) {
  size_t k = names.block_starts.size();
  for (uint64_t stride : {4u, 8u}) {
    for (uint64_t align : {4u, 8u}) {
      if (align < stride) continue;
      uint64_t va = RoundUp(names_va + names.bytes, align);
      auto raw = ReadBytes(read, va, stride * k);
      if (!raw) continue;
      bool same = true;
      for (size_t j = 0; j < k && same; ++j) {
        uint64_t v = stride == 4 ? LoadLE32(raw->data() + 4 * j) : LoadLE64(raw->data() + 8 * j);
        same = v == names.block_starts[j];
      }
      if (same) return va;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Addresses.

struct AddressCandidate {
  KallsymsAddressing addressing;
  uint64_t table_va;           // kallsyms_offsets or kallsyms_addresses
  uint64_t relative_base = 0;  // for the relative encodings
  std::optional<uint64_t> relative_base_va;
};

struct AddressResult {
  AddressCandidate candidate;
  std::vector<uint64_t> addresses;
  std::vector<bool> absolute;  // kRelativeAbsolutePercpu: entry was an absolute value
  size_t descents = 0;         // adjacent pairs out of order
  size_t in_image = 0;         // addresses in the kernel image mapping
  size_t known_checked = 0;
  size_t known_matched = 0;
};

// Tables read once, though several encodings may be tried on one (a dump reader decompresses
// a page on every read).
class TableCache {
 public:
  explicit TableCache(const KernelReadFn& read) : read_(read) {}
  Result<const std::vector<std::byte>*> Get(uint64_t va, size_t size) {
    auto key = std::make_pair(va, size);
    auto it = tables_.find(key);
    if (it == tables_.end()) {
      CORONER_TRY(std::vector<std::byte> raw, ReadBytes(read_, va, size));
      it = tables_.emplace(key, std::move(raw)).first;
    }
    return &it->second;
  }

 private:
  const KernelReadFn& read_;
  std::map<std::pair<uint64_t, size_t>, std::vector<std::byte>> tables_;
};

Result<AddressResult> DecodeAddresses(TableCache& cache, const AddressCandidate& c,
                                      uint32_t count) {
  AddressResult r;
  r.candidate = c;
  r.addresses.resize(count);
  if (c.addressing == KallsymsAddressing::kAbsolute) {
    CORONER_TRY(const std::vector<std::byte>* table, cache.Get(c.table_va, size_t{count} * 8));
    const std::vector<std::byte>& raw = *table;
    for (uint32_t i = 0; i < count; ++i) r.addresses[i] = LoadLE64(raw.data() + 8 * i);
  } else {
    CORONER_TRY(const std::vector<std::byte>* table, cache.Get(c.table_va, size_t{count} * 4));
    const std::vector<std::byte>& raw = *table;
    if (c.addressing == KallsymsAddressing::kRelativeAbsolutePercpu) r.absolute.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t u = LoadLE32(raw.data() + 4 * i);
      int32_t s = static_cast<int32_t>(u);
      switch (c.addressing) {
        case KallsymsAddressing::kRelativeAbsolutePercpu:
          if (s >= 0) {
            r.addresses[i] = u;
            r.absolute[i] = true;
          } else {
            // relative_base - 1 - offset, in two's complement.
            r.addresses[i] = c.relative_base - 1 - static_cast<uint64_t>(static_cast<int64_t>(s));
          }
          break;
        case KallsymsAddressing::kRelative:
          r.addresses[i] = c.relative_base + u;
          break;
        case KallsymsAddressing::kPlaceRelative:
          r.addresses[i] = c.table_va + 4ull * i + static_cast<uint64_t>(static_cast<int64_t>(s));
          break;
        case KallsymsAddressing::kAbsolute:
          break;
      }
    }
  }
  for (uint32_t i = 0; i < count; ++i) {
    if (i > 0 && r.addresses[i] < r.addresses[i - 1]) ++r.descents;
    if (r.addresses[i] >= KernelMemory::kStartKernelMap &&
        r.addresses[i] < KernelMemory::kKernelImageLimit) {
      ++r.in_image;
    }
  }
  return r;
}

// Better when: sorted, then no known symbol contradicted, then more known symbols confirmed,
// then more addresses inside the kernel image.
bool Better(const AddressResult& a, const AddressResult& b) {
  auto key = [](const AddressResult& r) {
    size_t mismatched = r.known_checked - r.known_matched;
    return std::make_tuple(r.descents == 0, mismatched == 0, r.known_matched, r.in_image);
  };
  return key(a) > key(b);
}

// ---------------------------------------------------------------------------------------------
// Decoding, once the tables are located.

struct Located {
  KallsymsLocations locations;     // num_syms, names, token_table, token_index at least
  std::vector<bool> length_rules;  // two-byte lengths or not, in the order to try
  bool searched = false;
};

// Where the tables are, as the search found them.
struct FoundTables {
  uint64_t token_table;
  uint64_t token_index;
  uint64_t markers;
  uint64_t names;
  uint64_t num_syms;
  uint32_t count;
  bool two_byte;
};

// Address-table candidates around found tables, for each layout (see kallsyms.h).
std::vector<AddressCandidate> CandidatesAround(const KernelReadFn& read, const FoundTables& f) {
  std::vector<AddressCandidate> out;
  uint64_t n = f.count;
  auto add_relative = [&](uint64_t offsets, uint64_t rb_va) {
    auto rb = ReadU64(read, rb_va);
    if (!rb) return;
    out.push_back({KallsymsAddressing::kRelativeAbsolutePercpu, offsets, *rb, rb_va});
    out.push_back({KallsymsAddressing::kRelative, offsets, *rb, rb_va});
  };
  // Up to 6.3: offsets, relative_base, num_syms (8-byte aligned labels) ...
  if (f.num_syms >= 8 + RoundUp(4 * n, 8)) {
    uint64_t rb_va = f.num_syms - 8;
    add_relative(rb_va - RoundUp(4 * n, 8), rb_va);
  }
  // ... or kallsyms_addresses, num_syms.
  if (f.num_syms >= 8 * n)
    out.push_back({KallsymsAddressing::kAbsolute, f.num_syms - 8 * n, 0, std::nullopt});
  // 6.4+: ... token_index, offsets, relative_base; 7.x: token_index, offsets (place-relative).
  uint64_t index_end = f.token_index + 512;
  for (uint64_t align : {8u, 4u}) {
    uint64_t offsets = RoundUp(index_end, align);
    add_relative(offsets, RoundUp(offsets + 4 * n, 8));
    out.push_back({KallsymsAddressing::kPlaceRelative, offsets, 0, std::nullopt});
  }
  return out;
}

std::vector<AddressCandidate> CandidatesFromLocations(const KernelReadFn& read,
                                                      const KallsymsLocations& loc) {
  std::vector<AddressCandidate> out;
  if (loc.addresses)
    out.push_back({KallsymsAddressing::kAbsolute, *loc.addresses, 0, std::nullopt});
  if (loc.offsets) {
    if (loc.relative_base) {
      if (auto rb = ReadU64(read, *loc.relative_base)) {
        out.push_back(
            {KallsymsAddressing::kRelativeAbsolutePercpu, *loc.offsets, *rb, loc.relative_base});
        out.push_back({KallsymsAddressing::kRelative, *loc.offsets, *rb, loc.relative_base});
      }
    }
    out.push_back({KallsymsAddressing::kPlaceRelative, *loc.offsets, 0, std::nullopt});
  }
  return out;
}

Result<Kallsyms> DecodeLocated(const KernelReadFn& read, const KallsymsInput& in,
                               const Located& where) {
  KallsymsInfo info;
  info.locations = where.locations;
  info.searched = where.searched;
  const KallsymsLocations& loc = where.locations;
  CORONER_TRY(uint32_t count, ReadU32(read, *loc.num_syms));
  if (count == 0 || count > kMaxSymbols) {
    return Error(ErrorCode::kBadData, fmt::format("kallsyms_num_syms is {}", count),
                 AtVirt(*loc.num_syms));
  }
  info.num_syms = count;
  CORONER_TRY(TokenTable tokens, ReadTokenTable(read, *loc.token_table, *loc.token_index));

  // Decode with the length rule(s) that apply; the names must end where kallsyms_markers
  // begins and agree with it.
  std::optional<DecodedNames> decoded;
  std::optional<Error> failure;
  for (bool rule : where.length_rules) {
    auto names = DecodeNames(read, *loc.names, count, rule, tokens);
    if (!names) {
      if (!failure) failure = std::move(names).error().WithContext("decoding kallsyms_names");
      continue;
    }
    auto markers = FindMarkersAfter(read, *loc.names, *names);
    if (!markers) {
      if (!failure) {
        failure = Error(ErrorCode::kBadData,
                        fmt::format("kallsyms_names ({} names, {} bytes) is not followed by "
                                    "matching kallsyms_markers",
                                    count, names->bytes),
                        AtVirt(*loc.names));
      }
      continue;
    }
    info.locations.markers = *markers;
    info.two_byte_lengths = rule;
    decoded = std::move(*names);
    break;
  }
  if (!decoded) return std::move(*failure);
  const DecodedNames& names = *decoded;
  info.names_bytes = names.bytes;

  // Address tables: what VMCOREINFO names, else what sits around the tables in each layout.
  std::vector<AddressCandidate> candidates = CandidatesFromLocations(read, loc);
  if (candidates.empty()) {
    FoundTables f{};
    f.num_syms = *loc.num_syms;
    f.token_index = *loc.token_index;
    f.count = count;
    candidates = CandidatesAround(read, f);
  }

  // Known symbols by name, to confirm an encoding.
  std::unordered_map<std::string_view, uint64_t> known;
  for (const auto& [n, a] : in.known_symbols) known.emplace(n, a);
  std::vector<std::pair<uint32_t, uint64_t>> known_at;  // symbol index, expected address
  if (!known.empty()) {
    for (uint32_t i = 0; i < count; ++i) {
      auto it = known.find(names.Name(i));
      if (it != known.end()) known_at.emplace_back(i, it->second);
    }
    if (known_at.empty()) {
      return Error(ErrorCode::kBadData,
                   "none of the known symbols (_stext, ...) is in this kallsyms table",
                   AtVirt(*loc.names));
    }
  }

  std::optional<AddressResult> best;
  std::string tried;
  TableCache tables(read);
  for (const AddressCandidate& c : candidates) {
    auto r = DecodeAddresses(tables, c, count);
    if (!r) continue;
    for (auto [i, want] : known_at) {
      ++r->known_checked;
      if (r->addresses[i] == want) ++r->known_matched;
    }
    tried += fmt::format("; {} at {:#x}: {} out of order, {}/{} known symbols agree",
                         KallsymsAddressingName(c.addressing), c.table_va, r->descents,
                         r->known_matched, r->known_checked);
    if (!best || Better(*r, *best)) best = std::move(*r);
  }
  if (!best || best->descents != 0 || best->known_matched != best->known_checked) {
    return Error(ErrorCode::kBadData,
                 "kallsyms addresses do not decode in any known encoding" + tried);
  }
  info.addressing = best->candidate.addressing;
  info.relative_base = best->candidate.relative_base;
  info.known_checked = best->known_checked;
  info.known_matched = best->known_matched;
  if (best->candidate.addressing == KallsymsAddressing::kAbsolute) {
    info.locations.addresses = best->candidate.table_va;
    info.locations.offsets.reset();
    info.locations.relative_base.reset();
  } else {
    info.locations.offsets = best->candidate.table_va;
    info.locations.addresses.reset();
    info.locations.relative_base = best->candidate.relative_base_va;
  }

  // Per-CPU symbols: those in [__per_cpu_start, __per_cpu_end).
  std::optional<uint64_t> pcpu_start, pcpu_end;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view n = names.Name(i);
    if (n == "__per_cpu_start") pcpu_start = best->addresses[i];
    if (n == "__per_cpu_end") pcpu_end = best->addresses[i];
  }

  SymbolTable::Builder b;
  if (in.only_names.empty()) b.Reserve(count, names.arena.size());
  for (uint32_t i = 0; i < count; ++i) {
    if (!in.only_names.empty() &&
        std::find(in.only_names.begin(), in.only_names.end(), names.Name(i)) == in.only_names.end()) {
      continue;
    }
    uint64_t a = best->addresses[i];
    bool percpu = pcpu_start && pcpu_end && a >= *pcpu_start && a < *pcpu_end;
    b.Add(names.Name(i), a, names.names[i].type, std::nullopt, percpu);
  }
  Kallsyms out;
  out.symbols = std::move(b).Build();
  out.info = info;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Searching kernel memory for the tables (kernels before 6.0 do not name them in VMCOREINFO).

// Kernel memory page by page, each page read once. Unreadable pages (holes in the kernel
// image of a filtered dump: the text/rodata and rodata/data gaps are freed at boot, so
// makedumpfile -d 16 drops them) read as zeros to the search and fail a Read().
class PageCache {
 public:
  explicit PageCache(const KernelReadFn& read) : read_(read) {}

  // The page's bytes, or nullptr when it cannot be read.
  const std::byte* Page(uint64_t page_va) {
    if (page_va == last_va_ && last_) return last_;
    auto it = pages_.find(page_va);
    if (it == pages_.end()) {
      Entry e;
      e.data = std::make_unique<std::byte[]>(kPage);
      auto r = read_(page_va, std::span(e.data.get(), kPage));
      if (!r) {
        e.data.reset();
        e.error = std::move(r).error();
      }
      it = pages_.emplace(page_va, std::move(e)).first;
    }
    last_va_ = page_va;
    last_ = it->second.data.get();
    return last_;
  }

  // Copies [va, va + out.size()); unreadable bytes read as zero. True when all were readable.
  bool Bytes(uint64_t va, std::span<std::byte> out) {
    bool all = true;
    size_t done = 0;
    while (done < out.size()) {
      uint64_t a = va + done;
      uint64_t page = a & ~(kPage - 1);
      size_t n = std::min<uint64_t>(kPage - (a - page), out.size() - done);
      if (const std::byte* p = Page(page)) {
        std::memcpy(out.data() + done, p + (a - page), n);
      } else {
        std::memset(out.data() + done, 0, n);
        all = false;
      }
      done += n;
    }
    return all;
  }

  uint8_t U8(uint64_t va) {
    const std::byte* p = Page(va & ~(kPage - 1));
    return p ? std::to_integer<uint8_t>(p[va & (kPage - 1)]) : 0;
  }
  uint16_t U16(uint64_t va) {
    std::array<std::byte, 2> b{};
    Bytes(va, b);
    return LoadLE16(b.data());
  }
  uint32_t U32(uint64_t va) {
    std::array<std::byte, 4> b{};
    Bytes(va, b);
    return LoadLE32(b.data());
  }

  // A reader over the cache, for decoding what the search found without reading it again.
  Result<void> Read(uint64_t va, std::span<std::byte> out) {
    size_t done = 0;
    while (done < out.size()) {
      uint64_t a = va + done;
      uint64_t page = a & ~(kPage - 1);
      size_t n = std::min<uint64_t>(kPage - (a - page), out.size() - done);
      const std::byte* p = Page(page);
      if (!p)
        return pages_.at(page).error.value_or(Error(ErrorCode::kFault, "unreadable", AtVirt(a)));
      std::memcpy(out.data() + done, p + (a - page), n);
      done += n;
    }
    return Ok();
  }

 private:
  struct Entry {
    std::unique_ptr<std::byte[]> data;
    std::optional<Error> error;
  };
  const KernelReadFn& read_;
  std::unordered_map<uint64_t, Entry> pages_;
  uint64_t last_va_ = ~0ull;
  const std::byte* last_ = nullptr;
};

// The single-character tokens for the digits: every digit occurs in some kernel symbol, and a
// character that occurs keeps its own code as a one-character token (scripts/kallsyms.c,
// insert_real_symbols_in_table), so "0\0" .. "9\0" are consecutive in the token table.
constexpr char kDigitTokens[] =
    "0\0"
    "1\0"
    "2\0"
    "3\0"
    "4\0"
    "5\0"
    "6\0"
    "7\0"
    "8\0"
    "9";
constexpr size_t kDigitTokensLen = sizeof(kDigitTokens);  // includes the final NUL

// Finds token table -> token index -> markers -> names + num_syms, each checked against the
// others, from the top of the range down (the tables sit in .rodata, just below .data where
// init_top_pgt is, so going down reads the least); every consistent set goes to `accept`
// until it takes one.
class KallsymsSearch {
 public:
  KallsymsSearch(const KallsymsInput& in, PageCache& mem, std::vector<bool> length_rules)
      : in_(in), mem_(mem), length_rules_(std::move(length_rules)) {}

  // True when `accept` took a candidate.
  bool Run(const std::function<bool(const FoundTables&)>& accept) {
    accept_ = &accept;
    const std::string_view needle(kDigitTokens, kDigitTokensLen);
    uint64_t top = (in_.search_end + kPage - 1) & ~(kPage - 1);
    uint64_t bottom = in_.search_start & ~(kPage - 1);
    std::vector<std::byte> hay(kPage + needle.size());
    for (uint64_t page = top; page > bottom;) {
      page -= kPage;
      // This page and the start of the next, for a needle across the boundary.
      if (!mem_.Page(page)) continue;
      mem_.Bytes(page, hay);
      std::string_view h(reinterpret_cast<const char*>(hay.data()), hay.size());
      for (size_t hit = h.find(needle); hit != std::string_view::npos && hit < kPage;
           hit = h.find(needle, hit + 1)) {
        if (TryTokenTable(page + hit)) return true;
      }
    }
    return false;
  }

 private:
  // `digits` is where token '0' starts. Find the token index after the table, whose entries
  // for '0'..'9' must point at these bytes.
  bool TryTokenTable(uint64_t digits) {
    uint64_t first = RoundUp(digits + kDigitTokensLen, 4);
    for (uint64_t p = first; p < digits + 8192; p += 4) {
      if (mem_.U16(p) != 0) continue;
      uint16_t v = mem_.U16(p + 2 * '0');
      if (v > digits - in_.search_start) continue;
      bool digits_ok = true;
      for (int k = 1; k <= 9 && digits_ok; ++k) {
        digits_ok = mem_.U16(p + 2 * ('0' + k)) == v + 2 * k;
      }
      if (!digits_ok) continue;
      uint64_t table = digits - v;
      if (table % 4 != 0) continue;
      std::vector<std::byte> t(p - table), index(512);
      if (!mem_.Bytes(table, t) || !mem_.Bytes(p, index)) continue;
      auto tt = ParseTokenTable(t, index, table);
      // Only alignment padding between the table's end and the index.
      if (!tt || p - (table + tt->table_bytes) >= 8) continue;
      if (FindNames(table, p)) return true;
    }
    return false;
  }

  // kallsyms_markers sits before the token table: offsets of every 256th name, starting with
  // 0, u32 (unsigned long in older kernels). In 6.2-6.3 (and Debian's 6.1)
  // kallsyms_seqs_of_names sits in between, so look at the array right before the table first
  // (with or without 4 bytes of padding), then further back.
  bool FindNames(uint64_t table, uint64_t index) {
    for (uint64_t stride : {4u, 8u}) {
      for (uint64_t end : {table, table - 4}) {
        if (end % stride == 0 && MarkersEndingAt(end, stride, table, index)) return true;
      }
    }
    uint64_t lo = std::max(in_.search_start, table > (4u << 20) ? table - (4u << 20) : 0);
    for (uint64_t stride : {4u, 8u}) {
      for (uint64_t m = RoundUp(lo, stride); m + 2 * stride <= table; m += stride) {
        if (Marker(m, stride) != 0) continue;
        uint64_t m1 = Marker(m + stride, stride);
        if (m1 < kMinBlock || m1 > kMaxBlock) continue;
        if (MarkersAt(m, stride, table, index)) return true;
      }
    }
    return false;
  }

  uint64_t Marker(uint64_t va, uint64_t stride) {
    if (stride == 4) return mem_.U32(va);
    return mem_.U32(va) | (uint64_t{mem_.U32(va + 4)} << 32);
  }

  // Walks back from `end` while values strictly decrease, down to the 0 of markers[0].
  bool MarkersEndingAt(uint64_t end, uint64_t stride, uint64_t table, uint64_t index) {
    uint64_t m = end;
    uint64_t next = UINT64_MAX;
    while (m >= in_.search_start + stride) {
      uint64_t v = Marker(m - stride, stride);
      if (v >= next || (next != UINT64_MAX && next - v > kMaxBlock)) return false;
      m -= stride;
      if (v == 0) return MarkersAt(m, stride, table, index);
      next = v;
    }
    return false;
  }

  // Markers start at `m`; their count is the length of the increasing run there (or one or
  // two less, when what follows happens to continue the run).
  bool MarkersAt(uint64_t m, uint64_t stride, uint64_t table, uint64_t index) {
    std::vector<uint32_t> run{0};
    for (uint64_t q = m + stride; q + stride <= table; q += stride) {
      uint64_t v = Marker(q, stride);
      if (v <= run.back() || v - run.back() < kMinBlock || v - run.back() > kMaxBlock) break;
      run.push_back(static_cast<uint32_t>(v));
    }
    for (size_t drop = 0; drop < 3 && drop + 2 <= run.size(); ++drop) {
      std::span<const uint32_t> markers(run.data(), run.size() - drop);
      uint64_t last = markers.back();
      if (last + in_.search_start >= m) continue;
      // Between the markers and the token table there is at most kallsyms_seqs_of_names
      // (3 or 4 bytes a symbol, at most 256 symbols a marker) and padding.
      uint64_t markers_end = m + stride * markers.size();
      if (markers_end > table || table - markers_end > 4 * 256 * markers.size() + 16) continue;
      // The names end at the markers (up to alignment padding) and the last block holds
      // 1..256 names, so the names start within this window.
      uint64_t hi = m - last;
      uint64_t lo = std::max(in_.search_start + 8, hi > kMaxBlock ? hi - kMaxBlock : 0);
      for (uint64_t s = RoundUp(lo, 4); s + 2 <= hi; s += 4) {
        for (bool two_byte : length_rules_) {
          if (TryNamesAt(s, m, markers, two_byte, table, index)) return true;
        }
      }
    }
    return false;
  }

  // kallsyms_num_syms is a u32 (unsigned long in older kernels) right before the names (4 or 8
  // bytes before, by alignment);
  // the names must end at the markers and every 256th must start where its marker says. A
  // real kernel has more than 256 symbols (two markers at least).
  bool TryNamesAt(uint64_t s, uint64_t m, std::span<const uint32_t> markers, bool two_byte,
                  uint64_t table, uint64_t index) {
    uint64_t k = markers.size();
    for (uint64_t gap : {4u, 8u}) {
      uint64_t q = s - gap;
      uint32_t n = mem_.U32(q);
      if (n <= (k - 1) * 256 || n > k * 256) continue;
      if (gap == 8 && mem_.U32(s - 4) != 0) continue;
      if (!WalkNames(s, m, n, markers, two_byte, /*from_block=*/k - 1)) continue;
      if (!WalkNames(s, m, n, markers, two_byte, /*from_block=*/0)) continue;
      FoundTables f{};
      f.token_table = table;
      f.token_index = index;
      f.names = s;
      f.num_syms = q;
      f.markers = m;
      f.count = n;
      f.two_byte = two_byte;
      if ((*accept_)(f)) return true;
    }
    return false;
  }

  bool WalkNames(uint64_t s, uint64_t m, uint32_t n, std::span<const uint32_t> markers,
                 bool two_byte, uint64_t from_block) {
    uint64_t pos = s + markers[from_block];
    for (uint64_t i = from_block * 256; i < n; ++i) {
      if (i % 256 == 0 && pos != s + markers[i / 256]) return false;
      if (pos >= m) return false;
      uint32_t len = mem_.U8(pos);
      uint32_t prefix = 1;
      if (two_byte && (len & 0x80)) {
        len = (len & 0x7f) | (uint32_t{mem_.U8(pos + 1)} << 7);
        prefix = 2;
      }
      if (len == 0) return false;
      pos += prefix + len;
    }
    return pos <= m && m - pos < 8;
  }

  const KallsymsInput& in_;
  PageCache& mem_;
  std::vector<bool> length_rules_;
  const std::function<bool(const FoundTables&)>* accept_ = nullptr;
};

}  // namespace

std::string_view KallsymsAddressingName(KallsymsAddressing a) {
  switch (a) {
    case KallsymsAddressing::kAbsolute:
      return "absolute (kallsyms_addresses)";
    case KallsymsAddressing::kRelativeAbsolutePercpu:
      return "base-relative, absolute per-CPU (kallsyms_offsets + kallsyms_relative_base)";
    case KallsymsAddressing::kRelative:
      return "base-relative (kallsyms_offsets + kallsyms_relative_base)";
    case KallsymsAddressing::kPlaceRelative:
      return "place-relative (kallsyms_offsets)";
  }
  return "?";
}

std::optional<std::pair<int, int>> ParseKernelVersion(std::string_view s) {
  int major = 0, minor = 0;
  auto r1 = std::from_chars(s.data(), s.data() + s.size(), major);
  if (r1.ec != std::errc() || r1.ptr == s.data() + s.size() || *r1.ptr != '.') return std::nullopt;
  auto r2 = std::from_chars(r1.ptr + 1, s.data() + s.size(), minor);
  if (r2.ec != std::errc()) return std::nullopt;
  return std::make_pair(major, minor);
}

Result<Kallsyms> DecodeKallsyms(const KallsymsInput& in) {
  if (!in.read) return Error(ErrorCode::kInvalidArgument, "no memory reader for kallsyms");
  // Two-byte name lengths exist from 6.1; older kernels' 0x80..0xff lengths are literal.
  std::vector<bool> rules{true, false};
  if (in.kernel_version) rules = {*in.kernel_version >= std::make_pair(6, 1)};

  const KallsymsLocations& given = in.locations;
  std::optional<Error> given_failed;
  if (given.names && given.num_syms && given.token_table && given.token_index) {
    Located where;
    where.locations = given;
    where.locations.markers.reset();
    where.length_rules = rules;
    auto r = DecodeLocated(in.read, in, where);
    if (r || in.search_end <= in.search_start) return r;
    // Where VMCOREINFO points is not a table that checks out: search before giving up.
    given_failed = std::move(r).error();
  } else if (in.search_end <= in.search_start) {
    return Error(ErrorCode::kNotFound,
                 "VMCOREINFO does not locate kallsyms (kernel before 6.0) and there is no range "
                 "to search");
  }
  PageCache cache(in.read);
  KernelReadFn cached = [&cache](uint64_t va, std::span<std::byte> out) {
    return cache.Read(va, out);
  };
  std::optional<Kallsyms> result;
  std::optional<Error> last_error;
  KallsymsSearch search(in, cache, rules);
  bool found = search.Run([&](const FoundTables& f) {
    Located where;
    where.locations.num_syms = f.num_syms;
    where.locations.names = f.names;
    where.locations.token_table = f.token_table;
    where.locations.token_index = f.token_index;
    where.length_rules = {f.two_byte};
    where.searched = true;
    auto r = DecodeLocated(cached, in, where);
    if (!r) {
      last_error = std::move(r).error();
      return false;
    }
    result = std::move(*r);
    return true;
  });
  if (found) return std::move(*result);
  if (given_failed) return std::move(*given_failed);
  if (last_error) return std::move(*last_error).WithContext("kallsyms found by searching");
  return Error(ErrorCode::kNotFound,
               fmt::format("no kallsyms tables in {:#x}-{:#x}", in.search_start, in.search_end));
}

KallsymsInput KallsymsInputFromVmcoreinfo(const Vmcoreinfo& vi, KernelReadFn read) {
  KallsymsInput in;
  in.read = std::move(read);
  in.locations.num_syms = vi.Symbol("kallsyms_num_syms");
  in.locations.names = vi.Symbol("kallsyms_names");
  in.locations.markers = vi.Symbol("kallsyms_markers");
  in.locations.token_table = vi.Symbol("kallsyms_token_table");
  in.locations.token_index = vi.Symbol("kallsyms_token_index");
  in.locations.offsets = vi.Symbol("kallsyms_offsets");
  in.locations.relative_base = vi.Symbol("kallsyms_relative_base");
  in.locations.addresses = vi.Symbol("kallsyms_addresses");
  for (const auto& [name, value] : vi.symbols) {
    // Only kernel-image symbols: a few SYMBOL()s carry a pointer's value instead of an
    // address (mem_section with SPARSEMEM_EXTREME, vmemmap on x86_64).
    if (value >= KernelMemory::kStartKernelMap && value < KernelMemory::kKernelImageLimit &&
        !name.starts_with("kallsyms_")) {
      in.known_symbols.emplace_back(name, value);
    }
  }
  if (vi.osrelease) in.kernel_version = ParseKernelVersion(*vi.osrelease);
  // Search the kernel image from _stext (else the default x86_64 load address,
  // CONFIG_PHYSICAL_START 16 MiB, plus the KASLR slide) up to init_top_pgt, which sits at the
  // start of .data, just above .rodata where the tables are.
  uint64_t start = vi.Symbol("_stext").value_or(KernelMemory::kStartKernelMap + 0x1000000 +
                                                vi.kernel_offset.value_or(0));
  std::optional<uint64_t> data = vi.Symbol("init_top_pgt");
  if (!data) data = vi.Symbol("swapper_pg_dir");
  in.search_start = start;
  in.search_end = data && *data > start ? *data : start + (128u << 20);
  return in;
}

Result<Kallsyms> ReadKallsyms(const KernelMemory& kmem, const Vmcoreinfo& vi,
                              std::vector<std::string_view> only_names) {
  KallsymsInput in = KallsymsInputFromVmcoreinfo(
      vi, [&kmem](uint64_t va, std::span<std::byte> out) { return kmem.Read(va, out); });
  in.only_names = std::move(only_names);
  return DecodeKallsyms(in);
}

}  // namespace coroner
