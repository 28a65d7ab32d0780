#include "lib/dump/elf_writer.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace coroner {
namespace {

constexpr uint64_t kEhdrSize = 64;
constexpr uint64_t kPhdrSize = 56;
constexpr uint64_t kShdrSize = 64;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint64_t kPnXnum = 0xffff;
constexpr uint32_t kPfRwx = 7;  // PF_R | PF_W | PF_X, as kexec-tools writes /proc/vmcore's
constexpr size_t kMaxErrorsKept = 10;

void Put16(std::byte* p, uint16_t v) { std::memcpy(p, &v, 2); }  // little-endian host
void Put32(std::byte* p, uint32_t v) { std::memcpy(p, &v, 4); }
void Put64(std::byte* p, uint64_t v) { std::memcpy(p, &v, 8); }

Result<uint16_t> ElfMachineOf(const std::string& machine) {
  if (machine.empty() || machine == "x86_64") return uint16_t{62};  // EM_X86_64
  if (machine == "aarch64") return uint16_t{183};
  if (machine == "riscv64") return uint16_t{243};
  if (machine == "ppc64le") return uint16_t{21};
  return Error(ErrorCode::kUnsupported,
               fmt::format("writing ELF vmcores of machine \"{}\" is not supported", machine));
}

// One PT_LOAD: `dumped` pages stored in the file, then `excluded` pages only in memory.
struct Segment {
  uint64_t start_pfn;
  uint64_t dumped = 0;
  uint64_t excluded = 0;
  uint64_t offset = 0;
};

}  // namespace

Result<ElfWriteStats> WriteElfVmcore(const PhysicalMemory& mem, const DumpDescription& desc,
                                     const ElfWriterOptions& options, std::unique_ptr<ByteSink> sink) {
  CORONER_TRY(uint16_t machine, ElfMachineOf(desc.machine()));
  const uint64_t ps = mem.page_size();
  ElfWriteStats st;

  // Plan: one segment per [dumped run][excluded run] between holes.
  std::vector<Segment> plan;
  bool open = false;
  uint64_t truncated = 0;
  const uint64_t limit = mem.pfn_limit();
  for (uint64_t pfn = 0; pfn < limit; ++pfn) {
    PageState state = mem.StateOf(Pfn{pfn});
    if (state == PageState::kDumped && options.select && !options.select(Pfn{pfn})) {
      state = PageState::kExcluded;
    }
    if (state == PageState::kTruncated) ++truncated;
    switch (state) {
      case PageState::kNotPresent:
        open = false;
        break;
      case PageState::kDumped:
        if (!open || plan.back().excluded > 0) plan.push_back({pfn});
        open = true;
        ++plan.back().dumped;
        break;
      case PageState::kExcluded:
      case PageState::kTruncated:
        if (!open) plan.push_back({pfn});
        open = true;
        ++plan.back().excluded;
        break;
    }
  }
  st.incomplete = options.mark_incomplete || truncated > 0;
  st.missing_pages = truncated;

  NoteBlob notes = BuildNoteBlob(desc);
  const uint64_t slots = 1 + plan.size() + options.spare_segments;
  const bool xnum = slots >= kPnXnum;
  const uint64_t notes_off = kEhdrSize + slots * kPhdrSize + (xnum ? kShdrSize : 0);
  const uint64_t data_off = notes_off + notes.bytes.size();
  {
    uint64_t off = data_off;
    for (Segment& s : plan) {
      s.offset = off;
      off += s.dumped * ps;
    }
  }

  auto headers = [&](const std::vector<Segment>& segs, bool incomplete) {
    std::vector<std::byte> b(notes_off);
    std::byte* e = b.data();
    static constexpr unsigned char kIdent[] = {0x7f, 'E', 'L', 'F', 2 /*ELFCLASS64*/,
                                               1 /*ELFDATA2LSB*/, 1 /*EV_CURRENT*/};
    std::memcpy(e, kIdent, sizeof(kIdent));
    Put16(e + 16, 4);  // ET_CORE
    Put16(e + 18, machine);
    Put32(e + 20, 1);  // EV_CURRENT
    Put64(e + 32, kEhdrSize);  // e_phoff
    Put32(e + 48, incomplete ? kElfFlagIncomplete : 0);
    Put16(e + 52, static_cast<uint16_t>(kEhdrSize));
    Put16(e + 54, static_cast<uint16_t>(kPhdrSize));
    Put16(e + 56, static_cast<uint16_t>(xnum ? kPnXnum : slots));
    if (xnum) {
      // Extended numbering (elf(5)): the count is in section header 0's sh_info.
      uint64_t sh = kEhdrSize + slots * kPhdrSize;
      Put64(e + 40, sh);  // e_shoff
      Put16(e + 58, static_cast<uint16_t>(kShdrSize));
      Put16(e + 60, 1);  // e_shnum
      Put64(e + sh + 32, 1);  // sh_size (as makedumpfile writes it)
      Put32(e + sh + 44, static_cast<uint32_t>(slots));
    }
    std::byte* p = e + kEhdrSize;
    Put32(p, kPtNote);
    Put64(p + 8, notes_off);
    Put64(p + 32, notes.bytes.size());
    Put64(p + 40, notes.bytes.size());
    p += kPhdrSize;
    for (const Segment& s : segs) {
      Put32(p, kPtLoad);
      Put32(p + 4, kPfRwx);
      Put64(p + 8, s.offset);
      Put64(p + 24, s.start_pfn * ps);               // p_paddr
      Put64(p + 32, s.dumped * ps);                  // p_filesz
      Put64(p + 40, (s.dumped + s.excluded) * ps);   // p_memsz
      p += kPhdrSize;
    }
    // Unused slots stay zero: PT_NULL.
    return b;
  };

  std::vector<std::byte> first = headers(plan, st.incomplete);
  CORONER_TRY_VOID(sink->WriteAt(0, first));
  CORONER_TRY_VOID(sink->WriteAt(notes_off, notes.bytes));

  // Write the pages; a failed read ends the current segment's stored part there.
  std::vector<Segment> done;
  uint32_t spare = options.spare_segments;
  SequentialWriter out(*sink, data_off);
  std::vector<std::byte> page(ps);
  for (const Segment& s : plan) {
    Segment cur{s.start_pfn, 0, 0, out.offset()};
    for (uint64_t k = 0; k < s.dumped; ++k) {
      const uint64_t pfn = s.start_pfn + k;
      auto r = mem.ReadPage(Pfn{pfn}, page);
      if (!r) {
        if (cur.excluded == 0 && spare == 0 && k + 1 < s.dumped) {
          return std::move(r).error().WithContext(
              fmt::format("{}: page {:#x} cannot be read and no spare program header is left",
                          sink->name(), pfn));
        }
        ++cur.excluded;
        ++st.missing_pages;
        ++st.read_errors;
        if (st.errors.size() < kMaxErrorsKept) st.errors.push_back(r.error().ToString());
        st.incomplete = true;
        continue;
      }
      if (cur.excluded > 0) {
        // Pages after a failed one: a new segment (uses the spare reserved for it above).
        --spare;
        done.push_back(cur);
        cur = Segment{pfn, 0, 0, out.offset()};
      }
      CORONER_TRY_VOID(out.Append(page));
      ++cur.dumped;
    }
    cur.excluded += s.excluded;
    done.push_back(cur);
  }
  CORONER_TRY_VOID(out.Flush());

  std::vector<std::byte> last = headers(done, st.incomplete);
  if (last != first) CORONER_TRY_VOID(sink->WriteAt(0, last));
  CORONER_TRY_VOID(sink->Finish());

  st.load_segments = done.size();
  for (const Segment& s : done) {
    st.dumped_pages += s.dumped;
    st.excluded_pages += s.excluded;
  }
  st.bytes = std::max(out.offset(), data_off);
  return st;
}

}  // namespace coroner
