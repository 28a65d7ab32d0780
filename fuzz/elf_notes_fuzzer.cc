// Fuzz target: ELF note records (ParseElfNotes), as found in a vmcore's PT_NOTE segment and a
// kdump header's note area.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.h"
#include "lib/dump/elf_notes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coroner;
  auto bytes = fuzz::AsBytes(data, size);
  const uint64_t base = 0x1000;
  Diagnostics diag;
  std::vector<ElfNote> notes = ParseElfNotes(bytes, base, diag);
  uint64_t prev = 0;
  for (const ElfNote& n : notes) {
    // Each note starts inside the input, after the previous one, and fits in what is left.
    FUZZ_CHECK(n.offset >= base && n.offset - base < size);
    FUZZ_CHECK(n.offset >= prev);
    uint64_t rel = n.offset - base;
    FUZZ_CHECK(12 + n.name.size() + n.desc.size() <= size - rel);
    prev = n.offset + 12;
  }
  return 0;
}
