// Writes an ELF64 vmcore (ET_CORE, little-endian) from any PhysicalMemory, laid out as
// makedumpfile -E writes one: the ELF header, the program headers (PT_NOTE first, then the
// PT_LOADs; PN_XNUM and section header 0 past 65534 of them), the notes (VMCOREINFO among
// them), then each PT_LOAD's bytes in order. Each PT_LOAD is one run of dumped pages followed by
// a run of excluded pages (p_filesz < p_memsz), so readers see excluded pages as excluded and
// holes as holes. Pages the source lacks (kTruncated) become excluded and set e_flags bit 0
// (DUMP_ELF_INCOMPLETE, as makedumpfile and crash's netdump.h define it).
//
//   CORONER_TRY(auto sink, FileSink::Create("vmcore.elf"));
//   CORONER_TRY(ElfWriteStats st, WriteElfVmcore(*dump->memory, DescribeDump(*dump), {},
//                                                std::move(sink)));
//
// p_vaddr is 0: a physical dump does not know the kernel's virtual layout (readers use
// VMCOREINFO for that).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/base/types.h"
#include "lib/dump/byte_sink.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/physical_memory.h"

namespace coroner {

inline constexpr uint32_t kElfFlagIncomplete = 0x1;  // DUMP_ELF_INCOMPLETE

struct ElfWriterOptions {
  // Which dumped pages to write; the rest become excluded. Empty: all.
  std::function<bool(Pfn)> select;
  bool mark_incomplete = false;
  // Program header slots kept free (as PT_NULL) for pages whose read fails: each such failure
  // inside a run of dumped pages splits that run's segment in two. With none left, a failing
  // read stops the write with its error. 0 gives exactly makedumpfile's segment count.
  uint32_t spare_segments = 0;
};

struct ElfWriteStats {
  uint64_t load_segments = 0;
  uint64_t dumped_pages = 0;    // pages with their bytes in the file
  uint64_t excluded_pages = 0;  // RAM pages in a segment's excluded tail
  uint64_t missing_pages = 0;   // of those, pages the source lacked or failed to read
  uint64_t read_errors = 0;
  std::vector<std::string> errors;  // the first few read errors
  uint64_t bytes = 0;               // file size
  bool incomplete = false;
};

Result<ElfWriteStats> WriteElfVmcore(const PhysicalMemory& mem, const DumpDescription& desc,
                                     const ElfWriterOptions& options, std::unique_ptr<ByteSink> sink);

}  // namespace coroner
