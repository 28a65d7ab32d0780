// kallsyms decoding on synthetic kernel memory: a small encoder writes the tables the way
// scripts/kallsyms.c lays them out in each kernel era, and the decoder must get the symbols
// back, from VMCOREINFO-style locations and by searching.
#include "lib/debuginfo/kallsyms.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

namespace coroner {
namespace {

constexpr uint64_t kText = 0xffffffff81000000ull;  // _text in the synthetic kernels
constexpr uint64_t kSlide = 0x1cc00000ull;         // a KASLR slide

struct Sym {
  char type;
  std::string name;
  uint64_t address;  // runtime address
};

enum class Layout {
  kOld,          // up to 6.3: offsets, relative_base, num_syms, names, markers, tokens
  kOldWithSeqs,  // Debian 6.1 / 6.2-6.3: ... markers, seqs_of_names, tokens
  kNew,          // 6.4+: num_syms, names, markers, tokens, offsets, relative_base, seqs
  kV7,           // 7.x: num_syms, names, markers, tokens, offsets (place-relative), seqs; align 4
};

// A flat piece of fake kernel memory.
struct Memory {
  uint64_t base = 0;
  std::vector<std::byte> bytes;
  std::vector<uint64_t> holes;  // unreadable pages (as excluded pages of a filtered dump)

  KernelReadFn Reader() const {
    return [this](uint64_t va, std::span<std::byte> out) -> Result<void> {
      if (va < base || va - base > bytes.size() || out.size() > bytes.size() - (va - base)) {
        return Error(ErrorCode::kFault, "outside the fake memory", AtVirt(va));
      }
      for (uint64_t h : holes) {
        if (va < h + 4096 && h < va + out.size()) {
          return Error(ErrorCode::kExcluded, "excluded page", AtVirt(h));
        }
      }
      std::memcpy(out.data(), bytes.data() + (va - base), out.size());
      return Ok();
    };
  }
};

class Writer {
 public:
  explicit Writer(uint64_t base) : base_(base) {}
  uint64_t here() const { return base_ + out_.size(); }
  void Align(size_t a) {
    while (out_.size() % a) out_.push_back(std::byte{0});
  }
  void Byte(uint8_t v) { out_.push_back(std::byte{v}); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void Raw(const void* p, size_t n) {
    auto* b = static_cast<const std::byte*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void Junk(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t i = 0; i < n; ++i) out_.push_back(std::byte(rng() & 0xff));
  }
  std::vector<std::byte>& bytes() { return out_; }

 private:
  uint64_t base_;
  std::vector<std::byte> out_;
};

struct Encoded {
  Memory memory;
  KallsymsLocations where;
};

// Token table: every printable character is its own token; a few byte values below 0x20 and
// from 0x80 stand for common strings; the rest are empty.
std::vector<std::string> Tokens() {
  std::vector<std::string> t(256);
  for (int c = 0x21; c < 0x7f; ++c) t[c] = std::string(1, static_cast<char>(c));
  const char* multi[] = {"sched", "_t", "ule", "per_cpu", "kallsyms", "__",    "init", "Tdo_",
                         "tsys_", "ab", "cd",  "ef",      "_end",     "start", "jiff", "ies"};
  int code = 0x80;
  for (const char* m : multi) t[code++] = m;
  t[0x01] = "xyz";
  return t;
}

std::vector<uint8_t> Compress(const std::string& s, const std::vector<std::string>& tokens) {
  std::vector<uint8_t> out;
  size_t i = 0;
  while (i < s.size()) {
    int best = -1;
    size_t best_len = 0;
    for (int c = 0; c < 256; ++c) {
      const std::string& t = tokens[c];
      if (t.size() > best_len && s.compare(i, t.size(), t) == 0) {
        best = c;
        best_len = t.size();
      }
    }
    EXPECT_GE(best, 0) << "no token for " << s.substr(i);
    out.push_back(static_cast<uint8_t>(best));
    i += best_len;
  }
  return out;
}

// Writes the tables at `table_base` after `junk` bytes of noise (the search must skip them).
Encoded Encode(const std::vector<Sym>& syms, Layout layout, KallsymsAddressing addressing,
               bool two_byte, uint64_t relative_base, size_t junk = 0x3000, bool wide = false) {
  const uint64_t region = kText + kSlide + 0x1000000;
  Writer w(region);
  w.Junk(junk, 7);
  const size_t align = layout == Layout::kV7 ? 4 : 8;
  w.Align(align);
  Encoded e;
  const uint32_t n = static_cast<uint32_t>(syms.size());

  // Offsets (or addresses) depend on where they land for place-relative entries.
  auto write_addresses = [&] {
    w.Align(align);
    if (addressing == KallsymsAddressing::kAbsolute) {
      e.where.addresses = w.here();
      for (const Sym& s : syms) w.U64(s.address);
      return;
    }
    e.where.offsets = w.here();
    for (const Sym& s : syms) {
      int64_t v = 0;
      switch (addressing) {
        case KallsymsAddressing::kRelativeAbsolutePercpu:
          v = s.type == 'A' ? static_cast<int64_t>(s.address)
                            : static_cast<int64_t>(relative_base - s.address - 1);
          break;
        case KallsymsAddressing::kRelative:
          v = static_cast<int64_t>(s.address - relative_base);
          break;
        case KallsymsAddressing::kPlaceRelative:
          v = static_cast<int64_t>(s.address - w.here());
          break;
        case KallsymsAddressing::kAbsolute:
          break;
      }
      w.U32(static_cast<uint32_t>(v));
    }
    if (addressing != KallsymsAddressing::kPlaceRelative) {
      w.Align(8);
      e.where.relative_base = w.here();
      w.U64(relative_base);
    }
  };
  std::vector<std::string> tokens = Tokens();
  auto write_names = [&] {
    w.Align(align);
    e.where.num_syms = w.here();
    if (wide) {
      w.U64(n);  // unsigned long kallsyms_num_syms, older kernels
    } else {
      w.U32(n);
    }
    w.Align(align);
    e.where.names = w.here();
    std::vector<uint32_t> markers;
    uint64_t start = w.here();
    for (uint32_t i = 0; i < n; ++i) {
      if (i % 256 == 0) markers.push_back(static_cast<uint32_t>(w.here() - start));
      std::vector<uint8_t> c = Compress(std::string(1, syms[i].type) + syms[i].name, tokens);
      if (c.size() > 0x7f) {
        EXPECT_TRUE(two_byte);
        w.Byte(static_cast<uint8_t>((c.size() & 0x7f) | 0x80));
        w.Byte(static_cast<uint8_t>(c.size() >> 7));
      } else {
        w.Byte(static_cast<uint8_t>(c.size()));
      }
      w.Raw(c.data(), c.size());
    }
    w.Align(align);
    e.where.markers = w.here();
    for (uint32_t m : markers) {
      if (wide) {
        w.U64(m);  // unsigned long kallsyms_markers[], older kernels
      } else {
        w.U32(m);
      }
    }
  };
  auto write_seqs = [&] {
    w.Align(align);
    for (uint32_t i = 0; i < n; ++i) {  // any permutation will do: the decoder ignores it
      uint32_t seq = n - 1 - i;
      w.Byte(static_cast<uint8_t>(seq >> 16));
      w.Byte(static_cast<uint8_t>(seq >> 8));
      w.Byte(static_cast<uint8_t>(seq));
    }
  };
  auto write_tokens = [&] {
    w.Align(align);
    e.where.token_table = w.here();
    std::vector<uint16_t> index;
    uint64_t start = w.here();
    for (const std::string& t : tokens) {
      index.push_back(static_cast<uint16_t>(w.here() - start));
      w.Raw(t.data(), t.size());
      w.Byte(0);
    }
    w.Align(align);
    e.where.token_index = w.here();
    for (uint16_t v : index) w.U16(v);
  };

  switch (layout) {
    case Layout::kOld:
    case Layout::kOldWithSeqs:
      write_addresses();
      write_names();
      if (layout == Layout::kOldWithSeqs) write_seqs();
      write_tokens();
      break;
    case Layout::kNew:
    case Layout::kV7:
      write_names();
      write_tokens();
      write_addresses();
      write_seqs();
      break;
  }
  w.Junk(0x2000, 9);
  e.memory.base = region;
  e.memory.bytes = std::move(w.bytes());
  return e;
}

// A symbol list like a small kernel's, in address order as scripts/kallsyms sorts it:
// per-CPU symbols first (absolute, when the encoding has them), then text and data.
std::vector<Sym> SampleSymbols(size_t count, bool absolute_percpu, bool long_name) {
  std::vector<Sym> v;
  const uint64_t pcpu_base = absolute_percpu ? 0 : kText + kSlide + 0x2e00000;
  char pcpu_type = absolute_percpu ? 'A' : 'D';
  // At one address the kernel puts a linker-script marker after the real object.
  v.push_back({pcpu_type, "fixed_percpu_data", pcpu_base});
  v.push_back({pcpu_type, "__per_cpu_start", pcpu_base});
  v.push_back({pcpu_type, "runqueues", pcpu_base + 0x2c8c0});
  v.push_back({pcpu_type, "__per_cpu_end", pcpu_base + 0x34000});
  std::vector<Sym> rest;
  rest.push_back({'T', "_text", kText + kSlide});
  rest.push_back({'T', "_stext", kText + kSlide});
  rest.push_back({'T', "schedule", kText + kSlide + 0xcc3500});
  rest.push_back({'t', "sysrq_handle_crash", kText + kSlide + 0x8b51b0});
  rest.push_back({'D', "jiffies", kText + kSlide + 0x1c079c0});
  rest.push_back({'D', "init_uts_ns", kText + kSlide + 0x1e219c0});
  rest.push_back({'b', "a_local_bss", kText + kSlide + 0x2000000});
  for (size_t i = 0; rest.size() + v.size() < count; ++i) {
    char type = "TtDdRrBbW"[i % 9];
    rest.push_back(
        {type, "sym_" + std::to_string(i) + "_do_sched", kText + kSlide + 0x100000 + i * 0x40});
  }
  if (long_name) {
    // A Rust-style mangled name: more than 127 tokens even compressed.
    std::string n = "_RNvNtNtCs";
    for (int i = 0; i < 30; ++i) n += "Q" + std::to_string(i) + "q_w";
    rest.push_back({'T', n, kText + kSlide + 0x100000 + 7 * 0x40 + 1});
  }
  v.insert(v.end(), rest.begin(), rest.end());
  std::stable_sort(v.begin(), v.end(),
                   [](const Sym& a, const Sym& b) { return a.address < b.address; });
  return v;
}

KallsymsInput InputFor(const Encoded& e, bool give_locations, std::pair<int, int> version) {
  KallsymsInput in;
  in.read = e.memory.Reader();
  if (give_locations) {
    in.locations = e.where;
    in.locations.markers.reset();  // VMCOREINFO does not name them
  }
  in.search_start = e.memory.base;
  in.search_end = e.memory.base + e.memory.bytes.size();
  in.known_symbols = {{"_stext", kText + kSlide}, {"init_uts_ns", kText + kSlide + 0x1e219c0}};
  in.kernel_version = version;
  return in;
}

void ExpectSame(const Kallsyms& ks, const std::vector<Sym>& want) {
  ASSERT_EQ(ks.symbols.size(), want.size());
  ASSERT_EQ(ks.info.num_syms, want.size());
  auto got = ks.symbols.symbols();
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].type, want[i].type);
    EXPECT_EQ(got[i].address, want[i].address);
    EXPECT_FALSE(got[i].has_size);
  }
  const Symbol* rq = ks.symbols.Find("runqueues");
  ASSERT_NE(rq, nullptr);
  EXPECT_TRUE(rq->percpu);
  EXPECT_TRUE(ks.symbols.Find("__per_cpu_start")->percpu);
  EXPECT_FALSE(ks.symbols.Find("__per_cpu_end")->percpu);
  EXPECT_FALSE(ks.symbols.Find("jiffies")->percpu);
  auto m = ks.symbols.LookupAddress(kText + kSlide + 0xcc3500 + 0x10);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "schedule");
  EXPECT_EQ(m->offset, 0x10u);
}

struct Era {
  const char* name;
  Layout layout;
  KallsymsAddressing addressing;
  std::pair<int, int> version;
  bool wide = false;  // unsigned long num_syms and markers
};

const Era kEras[] = {
    {"5.10", Layout::kOld, KallsymsAddressing::kRelativeAbsolutePercpu, {5, 10}},
    {"4.x-addresses", Layout::kOld, KallsymsAddressing::kAbsolute, {4, 19}},
    {"old-wide-markers", Layout::kOld, KallsymsAddressing::kAbsolute, {4, 4}, true},
    {"6.1-debian", Layout::kOldWithSeqs, KallsymsAddressing::kRelativeAbsolutePercpu, {6, 1}},
    {"6.12", Layout::kNew, KallsymsAddressing::kRelativeAbsolutePercpu, {6, 12}},
    {"6.16", Layout::kNew, KallsymsAddressing::kRelative, {6, 16}},
    {"7.2", Layout::kV7, KallsymsAddressing::kPlaceRelative, {7, 2}},
};

class KallsymsEras : public ::testing::TestWithParam<Era> {};

TEST_P(KallsymsEras, DecodesFromLocationsAndBySearch) {
  const Era& era = GetParam();
  bool abs_pcpu = era.addressing == KallsymsAddressing::kRelativeAbsolutePercpu ||
                  era.addressing == KallsymsAddressing::kAbsolute;
  bool two_byte = era.version >= std::make_pair(6, 1);
  // 1100 symbols: five marker blocks, the last one partial.
  std::vector<Sym> syms = SampleSymbols(1100, abs_pcpu, two_byte);
  uint64_t rb = kText + kSlide;
  Encoded e = Encode(syms, era.layout, era.addressing, two_byte, rb, 0x3000, era.wide);
  for (bool give : {true, false}) {
    SCOPED_TRACE(give ? "locations" : "search");
    auto ks = DecodeKallsyms(InputFor(e, give, era.version));
    ASSERT_TRUE(ks) << ks.error().ToString();
    EXPECT_EQ(ks->info.addressing, era.addressing);
    EXPECT_EQ(ks->info.searched, !give);
    EXPECT_EQ(ks->info.two_byte_lengths, two_byte);
    EXPECT_EQ(ks->info.known_checked, 2u);
    EXPECT_EQ(ks->info.known_matched, 2u);
    EXPECT_EQ(*ks->info.locations.names, *e.where.names);
    EXPECT_EQ(*ks->info.locations.token_table, *e.where.token_table);
    EXPECT_EQ(*ks->info.locations.markers, *e.where.markers);
    ExpectSame(*ks, syms);
  }
  // Without a version the decoder tries both length rules; without known symbols it still
  // decides the address encoding from the order and range of the addresses.
  KallsymsInput in = InputFor(e, false, era.version);
  in.kernel_version.reset();
  in.known_symbols.clear();
  auto ks = DecodeKallsyms(in);
  ASSERT_TRUE(ks) << ks.error().ToString();
  EXPECT_EQ(ks->info.addressing, era.addressing);
  ExpectSame(*ks, syms);
}

INSTANTIATE_TEST_SUITE_P(All, KallsymsEras, ::testing::ValuesIn(kEras), [](const auto& param_info) {
  std::string n = param_info.param.name;
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

TEST(Kallsyms, SearchSkipsHolesAndDecoys) {
  std::vector<Sym> syms = SampleSymbols(1000, true, false);
  Encoded e = Encode(syms, Layout::kOld, KallsymsAddressing::kRelativeAbsolutePercpu, false,
                     kText + kSlide, /*junk=*/0x6000);
  // Above the real tables (the search goes down from the top): a copy of the token table and
  // index, which checks out by itself but has no markers or names below it.
  auto& b = e.memory.bytes;
  uint64_t table_off = *e.where.token_table - e.memory.base;
  uint64_t end_off = *e.where.token_index + 512 - e.memory.base;
  std::vector<std::byte> copy(b.begin() + table_off, b.begin() + end_off);
  while (b.size() % 4096) b.push_back(std::byte{0x5a});
  b.insert(b.end(), 4096, std::byte{0x11});
  b.insert(b.end(), copy.begin(), copy.end());
  b.insert(b.end(), 4096, std::byte{0x22});
  // Unreadable pages in the junk below the tables and between the tables and the decoy.
  e.memory.holes = {e.memory.base + 0x1000, (*e.where.token_index & ~0xfffull) + 0x2000};
  ASSERT_LT(e.memory.holes[1] + 4096, e.memory.base + b.size() - 4096 - copy.size());

  auto ks = DecodeKallsyms(InputFor(e, false, {5, 10}));
  ASSERT_TRUE(ks) << ks.error().ToString();
  EXPECT_TRUE(ks->info.searched);
  EXPECT_EQ(*ks->info.locations.token_table, *e.where.token_table);
  ExpectSame(*ks, syms);

  // VMCOREINFO pointing at the decoy: decoding there fails, the search finds the real one.
  KallsymsInput in = InputFor(e, true, {5, 10});
  in.locations.token_table = e.memory.base + b.size() - 4096 - copy.size();
  in.locations.names = *in.locations.token_table - 0x1000;
  ks = DecodeKallsyms(in);
  ASSERT_TRUE(ks) << ks.error().ToString();
  EXPECT_TRUE(ks->info.searched);
  ExpectSame(*ks, syms);
}

TEST(Kallsyms, LongNameNeedsTwoByteLengths) {
  std::vector<Sym> syms = SampleSymbols(300, true, true);
  Encoded e =
      Encode(syms, Layout::kNew, KallsymsAddressing::kRelativeAbsolutePercpu, true, kText + kSlide);
  auto ks = DecodeKallsyms(InputFor(e, true, {6, 12}));
  ASSERT_TRUE(ks) << ks.error().ToString();
  const Symbol* rust = nullptr;
  for (const Symbol& s : ks->symbols.symbols()) {
    if (s.name.starts_with("_RNv")) rust = &s;
  }
  ASSERT_NE(rust, nullptr);
  EXPECT_GT(rust->name.size(), 127u);  // more tokens than one length byte holds
  // Told it is a 5.x kernel, the lengths are read as one byte and decoding fails cleanly.
  auto old = DecodeKallsyms(InputFor(e, true, {5, 10}));
  EXPECT_FALSE(old);
}

TEST(Kallsyms, WrongKnownSymbolIsRejected) {
  std::vector<Sym> syms = SampleSymbols(300, true, false);
  Encoded e = Encode(syms, Layout::kOld, KallsymsAddressing::kRelativeAbsolutePercpu, false,
                     kText + kSlide);
  KallsymsInput in = InputFor(e, true, {5, 10});
  in.known_symbols = {{"_stext", kText}};  // the unrelocated address: a different kernel
  auto ks = DecodeKallsyms(in);
  ASSERT_FALSE(ks);
  EXPECT_EQ(ks.error().code(), ErrorCode::kBadData);
  EXPECT_NE(ks.error().message().find("0/1 known symbols agree"), std::string::npos)
      << ks.error().message();
}

TEST(Kallsyms, CorruptTablesFailCleanly) {
  std::vector<Sym> syms = SampleSymbols(600, true, false);
  Encoded good = Encode(syms, Layout::kNew, KallsymsAddressing::kRelativeAbsolutePercpu, false,
                        kText + kSlide);
  auto at = [&](Encoded& e, uint64_t va) { return e.memory.bytes.data() + (va - e.memory.base); };

  {  // A token index that goes backwards.
    Encoded e = good;
    uint16_t v = 3;
    std::memcpy(at(e, *e.where.token_index + 2 * 0x41), &v, 2);
    auto ks = DecodeKallsyms(InputFor(e, true, {6, 12}));
    ASSERT_FALSE(ks);
    EXPECT_EQ(ks.error().code(), ErrorCode::kBadData);
  }
  {  // An absurd symbol count.
    Encoded e = good;
    uint32_t v = 0xffffffff;
    std::memcpy(at(e, *e.where.num_syms), &v, 4);
    auto ks = DecodeKallsyms(InputFor(e, true, {6, 12}));
    ASSERT_FALSE(ks);
  }
  {  // A count larger than the names: decoding runs into the markers and fails or misreads,
     // never reads outside memory.
    Encoded e = good;
    uint32_t v = 5000;
    std::memcpy(at(e, *e.where.num_syms), &v, 4);
    auto ks = DecodeKallsyms(InputFor(e, true, {6, 12}));
    ASSERT_FALSE(ks);
  }
  {  // Memory that ends inside kallsyms_names.
    Encoded e = good;
    e.memory.bytes.resize(*e.where.names + 100 - e.memory.base);
    auto ks = DecodeKallsyms(InputFor(e, true, {6, 12}));
    ASSERT_FALSE(ks);
    EXPECT_TRUE(ks.error().code() == ErrorCode::kFault ||
                ks.error().code() == ErrorCode::kTruncated)
        << ks.error().ToString();
  }
  {  // Nothing to find.
    Memory m;
    m.base = kText + kSlide;
    m.bytes.resize(1 << 20);
    KallsymsInput in;
    in.read = m.Reader();
    in.search_start = m.base;
    in.search_end = m.base + m.bytes.size();
    auto ks = DecodeKallsyms(in);
    ASSERT_FALSE(ks);
    EXPECT_EQ(ks.error().code(), ErrorCode::kNotFound);
  }
  {  // No locations and no search range.
    KallsymsInput in;
    in.read = good.memory.Reader();
    auto ks = DecodeKallsyms(in);
    ASSERT_FALSE(ks);
    EXPECT_EQ(ks.error().code(), ErrorCode::kNotFound);
  }
}

TEST(Kallsyms, FuzzedBytesNeverCrash) {
  std::vector<Sym> syms = SampleSymbols(400, true, false);
  Encoded good = Encode(syms, Layout::kOld, KallsymsAddressing::kRelativeAbsolutePercpu, false,
                        kText + kSlide);
  std::mt19937 rng(1);
  uint64_t lo = *good.where.offsets - good.memory.base;
  uint64_t hi = *good.where.token_index + 512 - good.memory.base;
  for (int round = 0; round < 200; ++round) {
    Encoded e = good;
    for (int k = 0; k < 8; ++k) {
      e.memory.bytes[lo + rng() % (hi - lo)] = std::byte(rng() & 0xff);
    }
    for (bool give : {true, false}) {
      auto ks = DecodeKallsyms(InputFor(e, give, {5, 10}));
      if (ks) {
        EXPECT_EQ(ks->symbols.size(), syms.size());
      }
    }
  }
}

TEST(Kallsyms, ParseKernelVersion) {
  EXPECT_EQ(ParseKernelVersion("6.12.117+deb13-cloud-amd64"), std::make_pair(6, 12));
  EXPECT_EQ(ParseKernelVersion("5.10.0-35-cloud-amd64"), std::make_pair(5, 10));
  EXPECT_EQ(ParseKernelVersion("7.2"), std::make_pair(7, 2));
  EXPECT_FALSE(ParseKernelVersion("linux"));
  EXPECT_FALSE(ParseKernelVersion("6"));
}

}  // namespace
}  // namespace coroner
