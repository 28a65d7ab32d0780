// ELF note records (Elf64_Nhdr + name + desc, 4-byte aligned), as found in a vmcore's PT_NOTE
// segment and in a kdump header's note area. Parsing stops cleanly at zero padding.
//
//   Diagnostics diag;
//   std::vector<ElfNote> notes = ParseElfNotes(bytes, /*base_offset=*/phdr.p_offset, diag);
//   for (auto& n : notes) if (n.name == "CORE" && n.type == kNtPrstatus) ...
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/diagnostics.h"

namespace coroner {

inline constexpr uint32_t kNtPrstatus = 1;
inline constexpr uint32_t kNtPrpsinfo = 3;
inline constexpr uint32_t kNtTaskstruct = 4;
// coroner's own note, in a kdump header's note area: name "CORONER", type 1, desc a line of text.
// It marks a triage file (`coroner collect --triage-file`), which holds only the pages coroner's
// first-look commands read, so that a read of any other page can say so. Readers that do not
// know it (crash, libkdumpfile, makedumpfile) skip it as they skip any unknown note.
inline constexpr std::string_view kCoronerNoteName = "CORONER";
inline constexpr uint32_t kCoronerNoteTriage = 1;
// Type 2, in a triage file: a BTF blob of just the types its analysis used (the kernel's own
// BTF pages are left out); coroner reads its types from it.
inline constexpr uint32_t kCoronerNoteBtf = 2;
// Type 3: the kernel symbols the analysis used, each with its extent (WriteSymbolSubset); the
// kallsyms tables' pages are left out.
inline constexpr uint32_t kCoronerNoteSymbols = 3;
// Type 4: the ORC entries the unwinds used, decoded, with the ip ranges they cover
// (WriteOrcSubset); the ORC tables' pages are left out.
inline constexpr uint32_t kCoronerNoteOrc = 4;

struct ElfNote {
  std::string name;  // without the terminating NUL
  uint32_t type = 0;
  std::vector<std::byte> desc;
  uint64_t offset = 0;  // where the note header starts (file offset)
};

std::vector<ElfNote> ParseElfNotes(std::span<const std::byte> bytes, uint64_t base_offset,
                                   Diagnostics& diag);

}  // namespace coroner
