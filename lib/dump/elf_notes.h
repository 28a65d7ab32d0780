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
#include <vector>

#include "lib/base/diagnostics.h"

namespace coroner {

inline constexpr uint32_t kNtPrstatus = 1;
inline constexpr uint32_t kNtPrpsinfo = 3;
inline constexpr uint32_t kNtTaskstruct = 4;

struct ElfNote {
  std::string name;  // without the terminating NUL
  uint32_t type = 0;
  std::vector<std::byte> desc;
  uint64_t offset = 0;  // where the note header starts (file offset)
};

std::vector<ElfNote> ParseElfNotes(std::span<const std::byte> bytes, uint64_t base_offset,
                                   Diagnostics& diag);

}  // namespace coroner
