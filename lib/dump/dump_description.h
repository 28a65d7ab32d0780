// What a dump says about the machine it came from, apart from its pages: the fields of a kdump
// header (utsname, crash time, CPUs, phys_base, dump level) and the ELF notes (PRSTATUS per CPU,
// VMCOREINFO). The dump writers take one; DescribeDump() derives one from an opened dump, so a
// dump can be rewritten in another format with nothing lost.
//
//   CORONER_TRY(auto dump, OpenDump({"vmcore"}));
//   DumpDescription desc = DescribeDump(*dump);
//   CORONER_TRY(auto stats, WriteKdump(*dump->memory, desc, options, std::move(sinks)));
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/dump/dump.h"
#include "lib/dump/elf_notes.h"

namespace coroner {

struct DumpDescription {
  // struct new_utsname: sysname, nodename, release, version, machine, domainname (64 chars each
  // at most; longer values are cut when written).
  std::array<std::string, 6> utsname;
  int64_t timestamp_sec = 0;   // crash time (makedumpfile takes CRASHTIME from VMCOREINFO)
  int64_t timestamp_usec = 0;
  int32_t nr_cpus = 0;         // 0: the number of CORE/NT_PRSTATUS notes
  uint32_t current_cpu = 0;
  uint64_t phys_base = 0;      // x86_64: where the kernel image was loaded, minus its link address
  int32_t dump_level = 0;      // makedumpfile -d bits the pages were filtered with
  std::string vmcoreinfo;      // VMCOREINFO text; stored as a note unless `notes` has one
  std::vector<std::byte> notes;  // ELF note records (Elf64_Nhdr, name, desc; 4-byte aligned)

  const std::string& machine() const { return utsname[4]; }
};

// Derives the description from the dump's headers, notes and VMCOREINFO. For an ELF vmcore,
// which has no utsname, it reads init_uts_ns from the dump's memory as makedumpfile does
// (x86_64: SYMBOL(init_uts_ns) + OFFSET(uts_namespace.name), in the kernel image mapping),
// and falls back to OSRELEASE.
DumpDescription DescribeDump(const Dump& dump);

// Appends one note record (namesz counts the NUL; name and desc padded to 4 bytes).
void AppendElfNote(std::vector<std::byte>& out, std::string_view name, uint32_t type,
                   std::span<const std::byte> desc);
std::vector<std::byte> SerializeElfNotes(const std::vector<ElfNote>& notes);

// The note bytes a writer stores: desc.notes, plus a VMCOREINFO note holding desc.vmcoreinfo
// if the notes have none; with where the VMCOREINFO text sits inside them.
struct NoteBlob {
  std::vector<std::byte> bytes;
  std::optional<uint64_t> vmcoreinfo_offset;  // of the note's desc, from the blob's start
  uint64_t vmcoreinfo_size = 0;
  int32_t prstatus_count = 0;
};
NoteBlob BuildNoteBlob(const DumpDescription& desc);

}  // namespace coroner
