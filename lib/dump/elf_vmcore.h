// ELF64 vmcores: copies of /proc/vmcore, makedumpfile -E output, QEMU dump-guest-memory.
// PT_LOAD segments give physical memory (p_paddr); [p_filesz, p_memsz) of a segment is memory
// the writer left out (makedumpfile -E uses that for excluded pages). PT_NOTE segments hold
// PRSTATUS per CPU, VMCOREINFO and QEMU's CPU state.
//
// Internal to lib/dump: OpenDump() calls it after sniffing "\x7fELF".
#pragma once

#include "lib/base/byte_source.h"
#include "lib/dump/dump.h"

namespace coroner {

// Fills dump.memory and dump.info from an ELF vmcore in `src` (which must outlive dump.memory).
Result<void> OpenElfVmcore(const ByteSource& src, Dump& dump);

}  // namespace coroner
