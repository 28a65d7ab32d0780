// Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/: small hand-made dumps
// (kdump-compressed with each compression and header version, a split pair, flattened streams,
// ELF vmcores with excluded, truncated, overlapping and PN_XNUM segments, notes, VMCOREINFO
// text) and, when given a real dump directory (tests/dumps/make-test-dumps.sh output), pieces
// cut from real files: the PT_NOTE segment, the VMCOREINFO text, and the first blocks of each
// format. The output is deterministic; rerun it after changing it and commit the result.
//
//   ninja -C build make_fuzz_corpus
//   build/fuzz/make_fuzz_corpus fuzz/corpus [~/.cache/coroner/test-dumps/6.1-4level]
//
// The dump layouts written here follow makedumpfile's diskdump_mod.h / makedumpfile.h (kdump
// header version 6, x86_64) and the ELF-64 gABI; they are written independently of coroner's
// readers so that a reader bug is not mirrored here.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "lib/dump/compression.h"

namespace {

namespace fs = std::filesystem;
using coroner::Compression;
using Bytes = std::vector<std::byte>;

constexpr size_t kMaxSeed = 64 * 1024;

// --- little helpers ---------------------------------------------------------------------------

void PutLE(Bytes& b, size_t at, uint64_t v, int n) {
  if (b.size() < at + n) b.resize(at + n);
  for (int i = 0; i < n; ++i) b[at + i] = static_cast<std::byte>(v >> (8 * i));
}
void PutBE(Bytes& b, size_t at, uint64_t v, int n) {
  if (b.size() < at + n) b.resize(at + n);
  for (int i = 0; i < n; ++i) b[at + i] = static_cast<std::byte>(v >> (8 * (n - 1 - i)));
}
void PutStr(Bytes& b, size_t at, std::string_view s) {
  if (b.size() < at + s.size()) b.resize(at + s.size());
  std::memcpy(b.data() + at, s.data(), s.size());
}
void Append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
Bytes FromString(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return Bytes(p, p + s.size());
}
size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

// Deterministic page contents: zero, patterned (compresses well), or noisy (does not).
enum class Fill { kZero, kPattern, kNoise };
Bytes PageBytes(uint64_t pfn, size_t size, Fill fill) {
  Bytes p(size);
  if (fill == Fill::kZero) return p;
  uint64_t x = 0x9e3779b97f4a7c15ull * (pfn + 1);
  for (size_t i = 0; i < size; ++i) {
    if (fill == Fill::kPattern) {
      p[i] = static_cast<std::byte>((i % 64 == 0) ? (pfn & 0xff) : (i / 64) & 0xff);
    } else {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[i] = static_cast<std::byte>(x);
    }
  }
  return p;
}

// --- ELF notes and VMCOREINFO -------------------------------------------------------------------

void AddNote(Bytes& b, std::string_view name, uint32_t type, const Bytes& desc) {
  size_t at = b.size();
  PutLE(b, at, name.size() + 1, 4);
  PutLE(b, at + 4, desc.size(), 4);
  PutLE(b, at + 8, type, 4);
  PutStr(b, at + 12, name);
  b.resize(AlignUp(at + 12 + name.size() + 1, 4));
  Append(b, desc);
  b.resize(AlignUp(b.size(), 4));
}

const char kSmallVmcoreinfo[] =
    "OSRELEASE=6.1.0-fuzz-amd64\n"
    "BUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
    "PAGESIZE=4096\n"
    "SYMBOL(init_uts_ns)=ffffffff82c137a0\n"
    "SYMBOL(node_online_map)=ffffffff82d5e1c8\n"
    "SIZE(page)=64\n"
    "SIZE(list_head)=16\n"
    "OFFSET(page.flags)=0\n"
    "OFFSET(list_head.next)=0\n"
    "LENGTH(zone.free_area)=11\n"
    "NUMBER(NR_FREE_PAGES)=0\n"
    "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
    "KERNELOFFSET=1c000000\n"
    "CRASHTIME=1700000000\n";

Bytes SmallNotes(const std::string& vmcoreinfo) {
  Bytes b;
  for (int cpu = 0; cpu < 2; ++cpu) {
    Bytes prstatus(336);
    PutLE(prstatus, 32, 100 + cpu, 4);  // pr_pid
    AddNote(b, "CORE", 1, prstatus);
  }
  AddNote(b, "VMCOREINFO", 0, FromString(vmcoreinfo));
  return b;
}

// --- kdump-compressed -----------------------------------------------------------------------------

struct KdumpSpec {
  int32_t version = 6;
  uint32_t block_size = 4096;
  uint64_t max_mapnr = 64;
  std::vector<char> state;  // per pfn: 'h' hole, 'x' excluded, 'z' dumped zero, 'p' pattern, 'n' noise
  Compression method = Compression::kZlib;
  int32_t split = 0;
  uint64_t start_pfn = 0, end_pfn = 0;
  uint32_t status = 0;
  std::string vmcoreinfo = kSmallVmcoreinfo;
  Bytes notes;
  bool with_notes = true;
};

// "hhpppzxxpn..." style map of the first pfns; the rest are holes.
std::vector<char> States(std::string_view s, uint64_t n) {
  std::vector<char> v(n, 'h');
  for (size_t i = 0; i < s.size() && i < n; ++i) v[i] = s[i];
  return v;
}

Bytes WriteKdump(const KdumpSpec& s) {
  const size_t bs = s.block_size;
  Bytes f(bs);
  PutStr(f, 0, "KDUMP   ");
  PutLE(f, 8, static_cast<uint32_t>(s.version), 4);
  const char* uts[6] = {"Linux", "fuzz", "6.1.0-fuzz-amd64", "#1 SMP Debian 6.1.0", "x86_64", "(none)"};
  for (int i = 0; i < 6; ++i) PutStr(f, 12 + 65 * i, uts[i]);
  PutLE(f, 408, 1700000000, 8);
  PutLE(f, 416, 123456, 8);
  PutLE(f, 424, s.status, 4);
  PutLE(f, 428, bs, 4);
  // sub-header, VMCOREINFO and notes share the sub-header blocks.
  Bytes sub(104);
  PutLE(sub, 0, 0x1000000, 8);  // phys_base
  PutLE(sub, 8, 31, 4);         // dump_level
  PutLE(sub, 12, static_cast<uint32_t>(s.split), 4);
  PutLE(sub, 16, s.start_pfn, 8);
  PutLE(sub, 24, s.end_pfn, 8);
  size_t vi_off = bs + 104;
  size_t note_off = AlignUp(vi_off + s.vmcoreinfo.size(), 8);
  Bytes notes = s.with_notes ? (s.notes.empty() ? SmallNotes(s.vmcoreinfo) : s.notes) : Bytes();
  if (s.version >= 3) {
    PutLE(sub, 32, vi_off, 8);
    PutLE(sub, 40, s.vmcoreinfo.size(), 8);
  }
  if (s.version >= 4 && !notes.empty()) {
    PutLE(sub, 48, note_off, 8);
    PutLE(sub, 56, notes.size(), 8);
  }
  PutLE(sub, 80, s.start_pfn, 8);
  PutLE(sub, 88, s.end_pfn, 8);
  PutLE(sub, 96, s.max_mapnr, 8);
  size_t sub_end = s.version >= 3 ? note_off + notes.size() : bs + 104;
  uint32_t sub_blocks = static_cast<uint32_t>(AlignUp(sub_end, bs) / bs - 1);
  PutLE(f, 432, sub_blocks, 4);
  size_t bitmap_bytes = AlignUp((s.max_mapnr + 7) / 8, bs);
  uint32_t bitmap_blocks = static_cast<uint32_t>(2 * bitmap_bytes / bs);
  PutLE(f, 436, bitmap_blocks, 4);
  PutLE(f, 440, s.max_mapnr, 4);
  PutLE(f, 460, 2, 4);  // nr_cpus
  f.resize(bs);
  Append(f, sub);
  if (s.version >= 3) {
    PutStr(f, vi_off, s.vmcoreinfo);
    if (!notes.empty()) {
      f.resize(note_off);
      Append(f, notes);
    }
  }
  f.resize((1 + sub_blocks) * bs);

  // Bitmaps. A split file holds the pages of [start_pfn, end_pfn) only.
  size_t bm1 = f.size(), bm2 = bm1 + bitmap_bytes;
  f.resize(bm2 + bitmap_bytes);
  std::vector<uint64_t> dumped;
  for (uint64_t pfn = 0; pfn < s.max_mapnr; ++pfn) {
    char st = pfn < s.state.size() ? s.state[pfn] : 'h';
    if (st != 'h') f[bm1 + pfn / 8] |= static_cast<std::byte>(1 << (pfn % 8));
    bool in_file = !s.split || (pfn >= s.start_pfn && pfn < s.end_pfn);
    if (st == 'z' || st == 'p' || st == 'n') {
      f[bm2 + pfn / 8] |= static_cast<std::byte>(1 << (pfn % 8));
      if (in_file) dumped.push_back(pfn);
    }
  }
  // Descriptors, then data; all-zero pages share one stored page, as makedumpfile does.
  size_t desc_off = f.size();
  size_t data_off = desc_off + dumped.size() * 24;
  Bytes data;
  int64_t zero_at = -1;
  uint32_t zero_size = 0, zero_flags = 0;
  for (size_t i = 0; i < dumped.size(); ++i) {
    uint64_t pfn = dumped[i];
    char st = s.state[pfn];
    Fill fill = st == 'z' ? Fill::kZero : st == 'p' ? Fill::kPattern : Fill::kNoise;
    int64_t off;
    uint32_t size, flags;
    if (fill == Fill::kZero && zero_at >= 0) {
      off = zero_at;
      size = zero_size;
      flags = zero_flags;
    } else {
      Bytes page = PageBytes(pfn, bs, fill);
      Bytes packed = *coroner::CompressPage(s.method, page);
      flags = 0;
      if (packed.empty()) {
        packed = page;
      } else {
        flags = s.method == Compression::kZlib     ? 0x1
                : s.method == Compression::kLzo    ? 0x2
                : s.method == Compression::kSnappy ? 0x4
                                                   : 0x20;
      }
      off = static_cast<int64_t>(data_off + data.size());
      size = static_cast<uint32_t>(packed.size());
      Append(data, packed);
      if (fill == Fill::kZero) {
        zero_at = off;
        zero_size = size;
        zero_flags = flags;
      }
    }
    size_t at = desc_off + i * 24;
    PutLE(f, at, static_cast<uint64_t>(off), 8);
    PutLE(f, at + 8, size, 4);
    PutLE(f, at + 12, flags, 4);
    PutLE(f, at + 16, 0, 8);
  }
  f.resize(data_off);
  Append(f, data);
  return f;
}

// --- flattened ------------------------------------------------------------------------------------

struct FlatRecord {
  uint64_t offset;
  Bytes data;
};

Bytes Flatten(const std::vector<FlatRecord>& recs, bool end_marker) {
  Bytes f(4096);
  PutStr(f, 0, "makedumpfile");
  PutBE(f, 16, 1, 8);  // type
  PutBE(f, 24, 1, 8);  // version
  for (const auto& r : recs) {
    size_t at = f.size();
    PutBE(f, at, r.offset, 8);
    PutBE(f, at + 8, r.data.size(), 8);
    Append(f, r.data);
  }
  if (end_marker) {
    size_t at = f.size();
    PutBE(f, at, ~uint64_t{0}, 8);
    PutBE(f, at + 8, ~uint64_t{0}, 8);
  }
  return f;
}

// Cuts a file into records of `chunk` bytes, written back to front (a reader must index, not
// stream), with the first record repeated at the end over stale bytes.
std::vector<FlatRecord> Records(const Bytes& file, size_t chunk, bool reverse) {
  std::vector<FlatRecord> recs;
  for (size_t off = 0; off < file.size(); off += chunk) {
    size_t n = std::min(chunk, file.size() - off);
    recs.push_back({off, Bytes(file.begin() + off, file.begin() + off + n)});
  }
  if (reverse) std::reverse(recs.begin(), recs.end());
  return recs;
}

// --- ELF ------------------------------------------------------------------------------------------

struct ElfSeg {
  uint32_t type;  // 1 PT_LOAD, 4 PT_NOTE
  uint64_t paddr, memsz, filesz;
  Bytes data;            // for PT_NOTE the notes; for PT_LOAD filled from PageBytes
  int64_t offset = -1;   // forced file offset (overlap, past EOF), else appended
};

Bytes WriteElf(const std::vector<ElfSeg>& segs, bool pn_xnum = false, size_t cut = 0) {
  const size_t phoff = 64;
  size_t data_at = AlignUp(phoff + segs.size() * 56, 16);
  if (pn_xnum) data_at += 64;  // section header 0 holds the count
  Bytes f(data_at);
  PutStr(f, 0, "\x7f" "ELF");
  f[4] = std::byte{2};  // ELFCLASS64
  f[5] = std::byte{1};  // little-endian
  f[6] = std::byte{1};
  PutLE(f, 16, 4, 2);   // ET_CORE
  PutLE(f, 18, 62, 2);  // EM_X86_64
  PutLE(f, 20, 1, 4);
  PutLE(f, 32, phoff, 8);
  PutLE(f, 52, 64, 2);
  PutLE(f, 54, 56, 2);
  PutLE(f, 56, pn_xnum ? 0xffff : segs.size(), 2);
  if (pn_xnum) {
    size_t sh = data_at - 64;
    PutLE(f, 40, sh, 8);  // e_shoff
    PutLE(f, 58, 64, 2);  // e_shentsize
    PutLE(f, 60, 1, 2);   // e_shnum
    PutLE(f, sh + 44, segs.size(), 4);  // sh_info = real e_phnum
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    const ElfSeg& s = segs[i];
    size_t ph = phoff + i * 56;
    uint64_t off = s.offset >= 0 ? static_cast<uint64_t>(s.offset) : f.size();
    Bytes content = s.data;
    if (s.type == 1 && content.empty()) {
      for (uint64_t a = 0; a < s.filesz; a += 4096) {
        Bytes page = PageBytes((s.paddr + a) / 4096, 4096, ((s.paddr + a) / 4096) % 3 ? Fill::kPattern : Fill::kZero);
        page.resize(std::min<uint64_t>(4096, s.filesz - a));
        Append(content, page);
      }
    }
    PutLE(f, ph, s.type, 4);
    PutLE(f, ph + 4, s.type == 1 ? 7 : 0, 4);
    PutLE(f, ph + 8, off, 8);
    PutLE(f, ph + 16, s.type == 1 ? 0xffff888000000000ull + s.paddr : 0, 8);
    PutLE(f, ph + 24, s.paddr, 8);
    PutLE(f, ph + 32, s.type == 4 ? content.size() : s.filesz, 8);
    PutLE(f, ph + 40, s.type == 4 ? content.size() : s.memsz, 8);
    PutLE(f, ph + 48, s.type == 1 ? 4096 : 0, 8);
    if (s.offset < 0) Append(f, content);
  }
  if (cut && cut < f.size()) f.resize(cut);
  return f;
}

// --- real dumps --------------------------------------------------------------------------------

Bytes ReadFile(const fs::path& p, size_t max = ~size_t{0}, uint64_t offset = 0) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  Bytes b(max == ~size_t{0} ? fs::file_size(p) - offset : max);
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  b.resize(static_cast<size_t>(in.gcount()));
  return b;
}

uint64_t LoadLE(const Bytes& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

// The PT_NOTE bytes of a real ELF vmcore.
Bytes RealNotes(const fs::path& elf) {
  Bytes head = ReadFile(elf, 1 << 16);
  if (head.size() < 64) return {};
  uint64_t phoff = LoadLE(head, 32, 8);
  uint64_t phnum = LoadLE(head, 56, 2);
  for (uint64_t i = 0; i < phnum && phoff + (i + 1) * 56 <= head.size(); ++i) {
    size_t ph = phoff + i * 56;
    if (LoadLE(head, ph, 4) == 4) {
      return ReadFile(elf, LoadLE(head, ph + 32, 8), LoadLE(head, ph + 8, 8));
    }
  }
  return {};
}

std::string VmcoreinfoOf(const Bytes& notes) {
  size_t at = 0;
  while (at + 12 <= notes.size()) {
    uint64_t namesz = LoadLE(notes, at, 4), descsz = LoadLE(notes, at + 4, 4);
    if (namesz == 0 && descsz == 0) break;
    size_t name_at = at + 12, desc_at = AlignUp(name_at + namesz, 4);
    if (desc_at + descsz > notes.size()) break;
    std::string name(reinterpret_cast<const char*>(notes.data() + name_at), namesz ? namesz - 1 : 0);
    if (name == "VMCOREINFO") {
      std::string text(reinterpret_cast<const char*>(notes.data() + desc_at), descsz);
      return text.substr(0, text.find('\0'));
    }
    at = AlignUp(desc_at + descsz, 4);
  }
  return {};
}

// --- output ----------------------------------------------------------------------------------------

int g_failures = 0;

void Write(const fs::path& dir, const std::string& name, const Bytes& b) {
  if (b.size() >= kMaxSeed) {
    std::fprintf(stderr, "seed %s/%s is %zu bytes (limit %zu)\n", dir.c_str(), name.c_str(),
                 b.size(), kMaxSeed);
    ++g_failures;
    return;
  }
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [REAL_DUMP_DIR]\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path real = argc == 3 ? fs::path(argv[2]) : fs::path();

  Bytes real_notes;
  std::string real_vmcoreinfo;
  if (!real.empty()) {
    real_notes = RealNotes(real / "vmcore.elf");
    real_vmcoreinfo = VmcoreinfoOf(real_notes);
    if (real_notes.empty() || real_vmcoreinfo.empty()) {
      std::fprintf(stderr, "%s: no notes/VMCOREINFO found in vmcore.elf\n", real.c_str());
      return 1;
    }
  }

  // elf_notes
  {
    fs::path d = out / "elf_notes";
    Write(d, "small", SmallNotes(kSmallVmcoreinfo));
    Bytes padded = SmallNotes("OSRELEASE=6.1\n");
    padded.resize(padded.size() + 64);
    Write(d, "zero-padded", padded);
    Bytes cut = SmallNotes(kSmallVmcoreinfo);
    cut.resize(cut.size() - 100);
    Write(d, "desc-cut", cut);
    Bytes huge;
    AddNote(huge, "CORE", 1, Bytes(8));
    PutLE(huge, huge.size(), 0xffffffffu, 4);  // namesz
    PutLE(huge, huge.size(), 16, 4);
    PutLE(huge, huge.size(), 1, 4);
    Write(d, "huge-namesz", huge);
    Bytes unaligned;
    AddNote(unaligned, "QEMU", 0, Bytes(13, std::byte{0x5a}));
    AddNote(unaligned, "", 7, Bytes(3, std::byte{1}));
    Write(d, "odd-sizes", unaligned);
    if (!real_notes.empty()) Write(d, "real-pt-note", real_notes);
  }

  // vmcoreinfo
  {
    fs::path d = out / "vmcoreinfo";
    Write(d, "small", FromString(kSmallVmcoreinfo));
    Write(d, "bad-values",
          FromString("PAGESIZE=notanumber\nSYMBOL(x)=zz\nOFFSET(a.b)=-1\nNUMBER(n)=9999999999999999999999\n"
                     "noequals\n=empty-key\nSIZE()=1\nOFFSET(a.b.c)=2\nKERNELOFFSET=\nCRASHTIME=12x\n"));
    Write(d, "nul-inside", FromString(std::string("OSRELEASE=6.1\0SYMBOL(hidden)=1\n", 31)));
    Write(d, "crlf", FromString("OSRELEASE=6.1\r\nPAGESIZE=4096\r\n"));
    if (!real_vmcoreinfo.empty()) Write(d, "real", FromString(real_vmcoreinfo));
  }

  // kdump
  const std::string_view kMap = "hxzppnpxxhhppzzzpnpppxxxxpppphhhhpppzzppxpxpxpnnppp";
  std::vector<std::pair<std::string, Bytes>> kdumps;
  {
    fs::path d = out / "kdump";
    struct M { Compression c; const char* name; };
    for (M m : {M{Compression::kZlib, "zlib"}, M{Compression::kLzo, "lzo"},
                M{Compression::kSnappy, "snappy"}, M{Compression::kZstd, "zstd"}}) {
      KdumpSpec s;
      s.method = m.c;
      s.state = States(kMap, s.max_mapnr);
      if (!real_vmcoreinfo.empty() && m.c == Compression::kZlib) {
        s.vmcoreinfo = real_vmcoreinfo;
        s.notes = real_notes;
      }
      Bytes f = WriteKdump(s);
      kdumps.emplace_back(m.name, f);
      Write(d, std::string("v6-") + m.name, f);
    }
    {
      KdumpSpec s;
      s.method = Compression::kNone;
      s.state = States("hpznxpzp", s.max_mapnr);
      Write(d, "v6-raw", WriteKdump(s));
    }
    for (int v : {1, 2, 3, 4, 5}) {
      KdumpSpec s;
      s.version = v;
      s.state = States(kMap, s.max_mapnr);
      Write(d, "v" + std::to_string(v) + "-zlib", WriteKdump(s));
    }
    {
      KdumpSpec s;
      s.block_size = 512;
      s.max_mapnr = 200;
      s.state = States(kMap, s.max_mapnr);
      s.state[150] = 'p';
      s.with_notes = false;
      Write(d, "bs512", WriteKdump(s));
    }
    {
      KdumpSpec s;
      s.state = States(kMap, s.max_mapnr);
      s.status = 0x8;  // incomplete: the writer stopped
      Bytes f = WriteKdump(s);
      f.resize(f.size() - 700);
      Write(d, "incomplete-cut", f);
      KdumpSpec t;
      t.state = States(kMap, t.max_mapnr);
      Bytes g = WriteKdump(t);
      g.resize(5 * 4096 + 24 * 10);
      Write(d, "cut-in-descs", g);
    }
    {
      // Descriptors that lie: past EOF, oversized, zero, negative offset, and a corrupt page.
      KdumpSpec s;
      s.state = States("pppppp", s.max_mapnr);
      Bytes f = WriteKdump(s);
      size_t desc = 4 * 4096;  // header, sub-header block, two bitmap blocks
      PutLE(f, desc + 0 * 24, 0x7fffffff0000ull, 8);
      PutLE(f, desc + 1 * 24 + 8, 0x100000, 4);
      PutLE(f, desc + 2 * 24, 0, 8);
      PutLE(f, desc + 3 * 24, static_cast<uint64_t>(-4096), 8);
      PutLE(f, desc + 4 * 24 + 12, 0x2, 4);  // says lzo, holds zlib
      Write(d, "bad-descs", f);
    }
    {
      // A split pair in one input, cut by the marker kdump_fuzzer.cc looks for.
      KdumpSpec a;
      a.state = States(kMap, a.max_mapnr);
      a.split = 1;
      a.start_pfn = 0;
      a.end_pfn = 24;
      KdumpSpec b = a;
      b.start_pfn = 24;
      b.end_pfn = 64;
      Bytes pair = WriteKdump(a);
      Append(pair, FromString("\n=SPLIT=\n"));
      Append(pair, WriteKdump(b));
      Write(d, "split-pair", pair);
      KdumpSpec c = a;
      c.start_pfn = 30;
      c.end_pfn = 64;
      Bytes gap = WriteKdump(a);
      Append(gap, FromString("\n=SPLIT=\n"));
      Append(gap, WriteKdump(c));
      Write(d, "split-gap", gap);
    }
    if (!real.empty()) {
      for (const char* name : {"vmcore.kdump-zlib", "vmcore.kdump-lzo", "qemu.kdump-zlib"}) {
        Bytes head = ReadFile(real / name, 24 * 1024);
        if (!head.empty()) Write(d, std::string("real-head-") + name, head);
      }
    }
  }

  // flattened
  {
    fs::path d = out / "flattened";
    const Bytes& k = kdumps[0].second;
    Write(d, "kdump-in-order", Flatten(Records(k, 4096, false), true));
    Write(d, "kdump-reversed", Flatten(Records(k, 1000, true), true));
    auto recs = Records(k, 3000, false);
    // A stale record first, overwritten later (makedumpfile rewrites the header at the end).
    recs.insert(recs.begin(), FlatRecord{0, Bytes(512, std::byte{0xee})});
    Write(d, "kdump-overwrite", Flatten(recs, true));
    Write(d, "no-end-marker", Flatten(Records(k, 4096, false), false));
    Bytes cut = Flatten(Records(k, 4096, false), true);
    cut.resize(cut.size() - 1000);
    Write(d, "cut-in-record", cut);
    std::vector<FlatRecord> holes = {{0, Bytes(k.begin(), k.begin() + 4096)},
                                     {10000, Bytes(100, std::byte{1})},
                                     {1ull << 40, Bytes(16, std::byte{2})}};
    Write(d, "holes", Flatten(holes, true));
    Bytes bad = Flatten({{0, Bytes(16)}}, true);
    PutBE(bad, 4096, static_cast<uint64_t>(-5), 8);
    Write(d, "negative-offset", bad);
    if (!real.empty()) {
      Bytes head = ReadFile(real / "vmcore.flat-zlib", 48 * 1024);
      if (!head.empty()) Write(d, "real-head-flat-zlib", head);
    }
  }

  // elf_vmcore
  {
    fs::path d = out / "elf_vmcore";
    Bytes notes = SmallNotes(kSmallVmcoreinfo);
    std::vector<ElfSeg> segs = {
        {4, 0, 0, 0, notes},
        {1, 0x1000, 0x2000, 0x2000, {}},
        {1, 0x5000, 0x3000, 0x1000, {}},  // the last two pages excluded
        {1, 0x9000, 0x1c00, 0x1c00, {}},  // RAM ends mid-page
    };
    Write(d, "small", WriteElf(segs));
    Write(d, "pn-xnum", WriteElf(segs, true));
    Write(d, "truncated", WriteElf(segs, false, 64 + 4 * 56 + notes.size() + 0x2800));
    auto overlap = segs;
    overlap.push_back({1, 0x2000, 0x1000, 0x1000, {}, -1});  // inside the first LOAD
    overlap.push_back({1, 0x6000, 0x4000, 0x4000, {}, -1});  // straddles the second
    Write(d, "overlap", WriteElf(overlap));
    auto odd = segs;
    odd[1].filesz = 0x3000;  // filesz > memsz
    odd.push_back({1, 0xffffffffff000ull, 0x1000, 0x1000, {}, -1});
    odd.push_back({1, 0x20000, 0x1000, 0x1000, {}, 0x7fffffff});  // data far past EOF
    Write(d, "odd", WriteElf(odd));
    if (!real_notes.empty()) {
      auto r = segs;
      r[0].data = real_notes;
      Write(d, "real-notes", WriteElf(r));
    }
    if (!real.empty()) {
      Bytes head = ReadFile(real / "vmcore.elf", 16 * 1024);
      if (!head.empty()) Write(d, "real-head-vmcore-elf", head);
      Bytes q = ReadFile(real / "qemu.elf", 16 * 1024);
      if (!q.empty()) Write(d, "real-head-qemu-elf", q);
    }
  }
  return g_failures ? 1 : 0;
}
