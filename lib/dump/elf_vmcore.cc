#include "lib/dump/elf_vmcore.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "lib/base/byte_reader.h"
#include "lib/base/checked.h"

namespace coroner {
namespace {

constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint16_t kPnXnum = 0xffff;
constexpr uint64_t kMaxNoteBytes = 64ull << 20;  // far above any real vmcore's notes
constexpr uint64_t kMaxPhdrs = 1u << 22;

struct Segment {
  uint64_t paddr;
  uint64_t memsz;
  uint64_t filesz;       // bytes of the segment stored in the file (may pass EOF)
  uint64_t file_offset;
  uint64_t end() const { return paddr + memsz; }
};

std::string MachineName(uint16_t m) {
  switch (m) {
    case 62: return "x86_64";
    case 183: return "aarch64";
    case 3: return "i386";
    case 21: return "ppc64";
    case 22: return "s390x";
    case 243: return "riscv64";
    default: return fmt::format("ELF machine {}", m);
  }
}

class ElfMemory final : public PhysicalMemory {
 public:
  ElfMemory(const ByteSource& src, std::vector<Segment> segs, uint64_t page_size)
      : src_(src), segs_(std::move(segs)), page_size_(page_size) {
    uint64_t end = segs_.empty() ? 0 : segs_.back().end();
    pfn_limit_ = end / page_size_ + (end % page_size_ ? 1 : 0);
  }

  uint64_t page_size() const override { return page_size_; }
  uint64_t pfn_limit() const override { return pfn_limit_; }

  PageState StateOf(Pfn pfn) const override {
    uint64_t start = pfn.value * page_size_;
    // The page's state is that of its first byte that lies in a segment.
    const Segment* s = FindFrom(start);
    if (!s || s->paddr >= start + page_size_) return PageState::kNotPresent;
    uint64_t a = std::max(start, s->paddr);
    return StateAt(*s, a, start + page_size_);
  }

  Result<void> ReadPage(Pfn pfn, std::span<std::byte> out) const override {
    if (out.size() != page_size_) {
      return Error(ErrorCode::kInvalidArgument, "ReadPage buffer is not one page");
    }
    uint64_t start = pfn.value * page_size_;
    uint64_t end = start + page_size_;
    const Segment* s = FindFrom(start);
    if (!s || s->paddr >= end) return PageError(pfn, PageState::kNotPresent);
    // The common case, one segment holding the whole page: no zero fill first.
    if (s->paddr <= start && s->end() >= end) return ReadFromSegment(*s, start, out);
    // Bytes of the page outside every segment (RAM ending mid-page) read as zero; bytes inside
    // a segment must be readable.
    std::fill(out.begin(), out.end(), std::byte{0});
    for (; s != segs_.data() + segs_.size() && s->paddr < end; ++s) {
      uint64_t a = std::max(start, s->paddr);
      uint64_t b = std::min(end, s->end());
      if (a >= b) continue;
      CORONER_TRY_VOID(ReadFromSegment(*s, a, out.subspan(a - start, b - a)));
    }
    return Ok();
  }

  Result<void> Read(PhysAddr addr, std::span<std::byte> out) const override {
    uint64_t a = addr.value;
    size_t done = 0;
    while (done < out.size()) {
      const Segment* s = FindFrom(a);
      if (!s || s->paddr > a) {
        return Error(ErrorCode::kNotPresent,
                     fmt::format("physical address {:#x} is not in the dump (no memory there)", a),
                     AtPhys(a));
      }
      size_t n = static_cast<size_t>(std::min<uint64_t>(s->end() - a, out.size() - done));
      CORONER_TRY_VOID(ReadFromSegment(*s, a, out.subspan(done, n)));
      done += n;
      a += n;
    }
    return Ok();
  }

  void ForEachDumpedRange(const std::function<void(PfnRange)>& fn) const override {
    Walk([&](uint64_t first, uint64_t count, PageState st) {
      if (st == PageState::kDumped) fn({first, count});
    });
  }

  PageCounts CountPages() const override {
    PageCounts c;
    c.total = pfn_limit_;
    Walk([&](uint64_t, uint64_t count, PageState st) {
      c.present += count;
      if (st == PageState::kDumped) c.dumped += count;
      if (st == PageState::kExcluded) c.excluded += count;
      if (st == PageState::kTruncated) c.truncated += count;
    });
    return c;
  }

 private:
  // The segment containing `a`, or else the first one after it; nullptr if none.
  const Segment* FindFrom(uint64_t a) const {
    auto it = std::upper_bound(segs_.begin(), segs_.end(), a,
                               [](uint64_t x, const Segment& s) { return x < s.paddr; });
    if (it != segs_.begin() && std::prev(it)->end() > a) --it;
    return it == segs_.end() ? nullptr : &*it;
  }

  // The state of the page whose bytes in `s` start at `a` and end before `page_end`: dumped
  // only if all of those stored in the file are there (a page cut by truncation is truncated).
  PageState StateAt(const Segment& s, uint64_t a, uint64_t page_end) const {
    uint64_t rel = a - s.paddr;
    if (rel >= s.filesz) return PageState::kExcluded;
    uint64_t rel_end = std::min(page_end, s.paddr + s.filesz) - s.paddr;
    if (s.file_offset + rel_end > src_.size()) return PageState::kTruncated;
    return PageState::kDumped;
  }

  Result<void> ReadFromSegment(const Segment& s, uint64_t a, std::span<std::byte> out) const {
    uint64_t rel = a - s.paddr;
    if (rel + out.size() > s.filesz) {
      uint64_t bad = std::max(a, s.paddr + s.filesz);
      return Error(ErrorCode::kExcluded,
                   fmt::format("page {:#x} was excluded by the dump's filter", bad / page_size_),
                   AtPhys(bad));
    }
    uint64_t off = s.file_offset + rel;
    if (!RangeFits(off, out.size(), src_.size())) {
      uint64_t bad = std::max(a, s.paddr + (src_.size() > s.file_offset ? src_.size() - s.file_offset : 0));
      return Error(ErrorCode::kTruncated,
                   fmt::format("page {:#x} is missing: {} ends at {:#x}", bad / page_size_,
                               src_.name(), src_.size()),
                   AtPhys(bad));
    }
    auto r = src_.ReadExact(off, out);
    if (!r) return std::move(r).error().At(AtPhys(a));
    return Ok();
  }

  // Calls fn(first_pfn, count, state) over all pages in segments, each pfn once, ascending.
  template <typename Fn>
  void Walk(Fn&& fn) const {
    uint64_t next_pfn = 0;  // pfns below this were already reported
    for (const Segment& s : segs_) {
      uint64_t in_file = s.filesz;
      uint64_t file_left = src_.size() > s.file_offset ? src_.size() - s.file_offset : 0;
      uint64_t readable = std::min(in_file, file_left);
      if (readable < in_file) {
        // The file ends inside this segment: the page the cut falls in is truncated too.
        uint64_t cut = s.paddr + readable;
        readable = cut / page_size_ * page_size_ > s.paddr ? cut / page_size_ * page_size_ - s.paddr : 0;
      }
      struct Part { uint64_t a, b; PageState st; };
      Part parts[3] = {{s.paddr, s.paddr + readable, PageState::kDumped},
                       {s.paddr + readable, s.paddr + in_file, PageState::kTruncated},
                       {s.paddr + in_file, s.end(), PageState::kExcluded}};
      for (const Part& p : parts) {
        if (p.a >= p.b) continue;
        uint64_t first = std::max(p.a / page_size_, next_pfn);
        uint64_t last = (p.b + page_size_ - 1) / page_size_;  // exclusive
        if (first >= last) continue;
        fn(first, last - first, p.st);
        next_pfn = last;
      }
    }
  }

  const ByteSource& src_;
  std::vector<Segment> segs_;
  uint64_t page_size_;
  uint64_t pfn_limit_;
};

// Sorts segments by address and cuts overlaps away. /proc/vmcore maps kernel text twice: once
// as its own PT_LOAD and once inside the RAM segment holding it (the bytes are the same), and
// makedumpfile -E keeps both, each with its own tail left out of the file (p_filesz <
// p_memsz), so one of them may hold pages the other leaves out (7.2 kernel: pfns
// 0x1a006-0x1a02f are in the RAM segment's data but past the text segment's p_filesz). So
// bytes in the file win over bytes left out; among equals the earlier segment (by address,
// then file order) wins.
std::vector<Segment> NormalizeSegments(const std::vector<Segment>& segs, Diagnostics& diag) {
  std::vector<Segment> in_file, left_out;
  for (const Segment& s : segs) {
    if (s.filesz) in_file.push_back({s.paddr, s.filesz, s.filesz, s.file_offset});
    if (s.memsz > s.filesz) left_out.push_back({s.paddr + s.filesz, s.memsz - s.filesz, 0, 0});
  }
  auto by_addr = [](const Segment& a, const Segment& b) { return a.paddr < b.paddr; };
  std::stable_sort(in_file.begin(), in_file.end(), by_addr);
  std::stable_sort(left_out.begin(), left_out.end(), by_addr);
  // start -> segment, disjoint; each part is added only where nothing added before covers it.
  std::map<uint64_t, Segment> out;
  bool partial_overlap = false;  // a part both added and cut (one wholly inside another is normal)
  auto add_uncovered = [&](const Segment& s) {
    auto it = out.upper_bound(s.paddr);
    if (it != out.begin() && std::prev(it)->second.end() > s.paddr) --it;
    uint64_t cur = s.paddr;
    bool added = false, cut = false;
    while (cur < s.end()) {
      uint64_t next = it == out.end() ? s.end() : std::min(s.end(), it->first);
      if (next > cur) {
        uint64_t skip = cur - s.paddr;
        out.emplace_hint(it, cur, Segment{cur, next - cur, s.filesz ? next - cur : 0, s.file_offset + skip});
        added = true;
      }
      if (it == out.end() || it->first >= s.end()) break;
      cut = true;
      cur = std::max(cur, it->second.end());
      ++it;
    }
    partial_overlap = partial_overlap || (added && cut);
  };
  for (const Segment& s : in_file) add_uncovered(s);
  for (const Segment& s : left_out) add_uncovered(s);
  if (partial_overlap) {
    diag.Warn("overlapping PT_LOAD segments: bytes one holds win over bytes another leaves out, "
              "otherwise the earlier one is used");
  }
  std::vector<Segment> v;
  v.reserve(out.size());
  for (const auto& [start, seg] : out) v.push_back(seg);
  return v;
}

}  // namespace

Result<void> OpenElfVmcore(const ByteSource& src, Dump& dump) {
  const std::string& path = src.name();
  std::array<std::byte, 64> eh{};
  if (auto r = src.ReadExact(0, eh); !r) {
    return Error(ErrorCode::kTruncated, fmt::format("{}: ELF header is cut short", path), AtOffset(0));
  }
  if (eh[4] != std::byte{2}) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: 32-bit ELF vmcores are not supported yet", path), AtOffset(4));
  }
  if (eh[5] != std::byte{1}) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: big-endian ELF vmcores are not supported yet", path), AtOffset(5));
  }
  ByteReader r(eh, Endian::kLittle);
  (void)r.Skip(16);
  uint16_t e_type = *r.U16();
  uint16_t e_machine = *r.U16();
  (void)r.U32();  // e_version
  (void)r.U64();  // e_entry
  uint64_t e_phoff = *r.U64();
  uint64_t e_shoff = *r.U64();
  uint32_t e_flags = *r.U32();
  (void)r.U16();  // e_ehsize
  uint16_t e_phentsize = *r.U16();
  uint64_t e_phnum = *r.U16();
  if (e_type != 4) {
    return Error(ErrorCode::kBadData,
                 fmt::format("{}: ELF type {} is not a core file (ET_CORE = 4)", path, e_type),
                 AtOffset(16));
  }
  if (e_phentsize != 56) {
    return Error(ErrorCode::kBadData,
                 fmt::format("{}: program header size {} (expected 56)", path, e_phentsize),
                 AtOffset(54));
  }
  if (e_phnum == kPnXnum) {
    // More than 65534 segments (makedumpfile -E can write that many): the count is in the
    // first section header's sh_info.
    std::array<std::byte, 64> sh{};
    if (auto rr = src.ReadExact(e_shoff, sh); !rr) {
      return Error(ErrorCode::kTruncated,
                   fmt::format("{}: e_phnum is PN_XNUM but section header 0 is unreadable", path),
                   AtOffset(e_shoff));
    }
    e_phnum = LoadLE32(sh.data() + 44);
  }
  if (e_phnum > kMaxPhdrs) {
    return Error(ErrorCode::kBadData, fmt::format("{}: {} program headers is implausible", path, e_phnum),
                 AtOffset(56));
  }
  auto phdrs_cut = [&] {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: program headers ({} x 56 bytes) are cut short", path, e_phnum),
                 AtOffset(e_phoff));
  };
  // Checked against the file before allocating: a 64-byte header may claim 4M headers.
  if (!RangeFits(e_phoff, e_phnum * 56, src.size())) return phdrs_cut();
  std::vector<std::byte> ph(e_phnum * 56);
  if (auto rr = src.ReadExact(e_phoff, ph); !rr) return phdrs_cut();

  DumpInfo& info = dump.info;
  info.format = "ELF vmcore";
  info.machine = MachineName(e_machine);
  HeaderSection hdr{"ELF header", {}};
  hdr.fields.push_back({"e_type", uint64_t{e_type}});
  hdr.fields.push_back({"e_machine", uint64_t{e_machine}});
  hdr.fields.push_back({"e_phoff", e_phoff, true});
  hdr.fields.push_back({"e_phnum", e_phnum});
  HeaderSection segs_section{"program headers", {}};

  std::vector<Segment> segs;
  ByteReader pr(ph, Endian::kLittle, e_phoff);
  for (uint64_t i = 0; i < e_phnum; ++i) {
    uint32_t p_type = *pr.U32();
    (void)pr.U32();  // p_flags
    uint64_t p_offset = *pr.U64();
    uint64_t p_vaddr = *pr.U64();
    uint64_t p_paddr = *pr.U64();
    uint64_t p_filesz = *pr.U64();
    uint64_t p_memsz = *pr.U64();
    (void)pr.U64();  // p_align
    uint64_t at = e_phoff + i * 56;
    if (p_type == kPtNote) {
      segs_section.fields.push_back(
          {fmt::format("NOTE[{}]", i), fmt::format("offset={:#x} size={:#x}", p_offset, p_filesz)});
      uint64_t avail = p_offset < src.size() ? src.size() - p_offset : 0;
      uint64_t n = std::min({p_filesz, avail, kMaxNoteBytes});
      if (n < p_filesz) {
        dump.diagnostics.Warn(fmt::format("PT_NOTE at {:#x}: {} of {} bytes readable", p_offset, n, p_filesz));
      }
      std::vector<std::byte> nb(n);
      if (n && src.ReadExact(p_offset, nb)) {
        auto notes = ParseElfNotes(nb, p_offset, dump.diagnostics);
        for (auto& note : notes) info.notes.push_back(std::move(note));
      }
    } else if (p_type == kPtLoad) {
      segs_section.fields.push_back(
          {fmt::format("LOAD[{}]", i),
           fmt::format("paddr={:#x} vaddr={:#x} offset={:#x} filesz={:#x} memsz={:#x}", p_paddr,
                       p_vaddr, p_offset, p_filesz, p_memsz)});
      if (!CheckedAdd(p_paddr, p_memsz) || !CheckedAdd(p_offset, p_filesz)) {
        return Error(ErrorCode::kOverflow,
                     fmt::format("{}: PT_LOAD {} overflows the address space", path, i), AtOffset(at));
      }
      if (p_filesz > p_memsz) {
        dump.diagnostics.Warn(fmt::format("PT_LOAD {}: p_filesz > p_memsz; using p_memsz", i));
        p_filesz = p_memsz;
      }
      segs.push_back({p_paddr, p_memsz, p_filesz, p_offset});
    }
  }
  info.headers.push_back(std::move(hdr));
  info.headers.push_back(std::move(segs_section));

  for (const ElfNote& note : info.notes) {
    if (note.name == "VMCOREINFO") {
      std::string_view text(reinterpret_cast<const char*>(note.desc.data()), note.desc.size());
      info.vmcoreinfo = ParseVmcoreinfo(text, dump.diagnostics);
      break;
    }
  }
  uint64_t page_size = 4096;
  if (info.vmcoreinfo && info.vmcoreinfo->page_size) {
    uint64_t ps = *info.vmcoreinfo->page_size;
    if (ps >= 512 && ps <= (1u << 20) && (ps & (ps - 1)) == 0) {
      page_size = ps;
    } else {
      dump.diagnostics.Warn(fmt::format("VMCOREINFO PAGESIZE={} is implausible; using 4096", ps));
    }
  }
  info.page_size = page_size;
  info.compression = {"none"};
  if (e_flags & 0x1) {
    // DUMP_ELF_INCOMPLETE: makedumpfile -E sets it when it could not write every page
    // (makedumpfile.c check_and_modify_elf_headers; crash netdump.h).
    info.incomplete = true;
    info.incomplete_reasons.push_back(
        fmt::format("{}: the writer marked the dump incomplete (e_flags {:#x})", path, e_flags));
  }

  segs = NormalizeSegments(segs, dump.diagnostics);
  uint64_t needed = 0;
  for (const Segment& s : segs) needed = std::max(needed, s.file_offset + s.filesz);
  if (needed > src.size()) {
    info.incomplete = true;
    info.incomplete_reasons.push_back(
        fmt::format("{} ends at {:#x} but its segments need {:#x} bytes", path, src.size(), needed));
  }
  dump.memory = std::make_unique<ElfMemory>(src, std::move(segs), page_size);
  return Ok();
}

}  // namespace coroner
