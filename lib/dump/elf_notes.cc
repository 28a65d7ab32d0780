#include "lib/dump/elf_notes.h"

#include <fmt/format.h>

#include "lib/base/byte_reader.h"

namespace coroner {

std::vector<ElfNote> ParseElfNotes(std::span<const std::byte> bytes, uint64_t base_offset,
                                   Diagnostics& diag) {
  std::vector<ElfNote> notes;
  ByteReader r(bytes, Endian::kLittle, base_offset);
  while (r.remaining() >= 12) {
    uint64_t at = r.offset();
    uint32_t namesz = *r.U32();
    uint32_t descsz = *r.U32();
    uint32_t type = *r.U32();
    if (namesz == 0 && descsz == 0 && type == 0) break;  // zero padding ends the notes
    auto name = r.Bytes(namesz);
    if (!name) {
      diag.Warn(fmt::format("ELF note at file offset {:#x}: name ({} bytes) runs past the end", at,
                            namesz));
      break;
    }
    (void)r.AlignTo(4);
    auto desc = r.Bytes(descsz);
    if (!desc) {
      diag.Warn(fmt::format("ELF note at file offset {:#x}: descriptor ({} bytes) runs past the end",
                            at, descsz));
      break;
    }
    (void)r.AlignTo(4);
    ElfNote note;
    std::string_view nm(reinterpret_cast<const char*>(name->data()), name->size());
    while (!nm.empty() && nm.back() == '\0') nm.remove_suffix(1);
    note.name = std::string(nm);
    note.type = type;
    note.desc.assign(desc->begin(), desc->end());
    note.offset = at;
    notes.push_back(std::move(note));
  }
  return notes;
}

}  // namespace coroner
