// Opening a dump: detects the format (ELF vmcore, kdump-compressed, makedumpfile's flattened
// stream, a split set) and returns its PhysicalMemory plus everything the file says about
// itself (DumpInfo). Several paths form a split set.
//
//   CORONER_TRY(std::unique_ptr<Dump> dump, OpenDump({"vmcore"}));
//   fmt::print("{} {}\n", dump->info.format, dump->info.vmcoreinfo ? "has VMCOREINFO" : "");
//   dump->memory->ReadPage(Pfn{0x100}, page);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "lib/base/byte_source.h"
#include "lib/base/diagnostics.h"
#include "lib/base/error.h"
#include "lib/dump/elf_notes.h"
#include "lib/dump/physical_memory.h"
#include "lib/dump/vmcoreinfo.h"

namespace coroner {

// A header field as the file stores it, in file order, for `info` to show.
struct HeaderField {
  std::string name;
  std::variant<uint64_t, int64_t, std::string> value;
  bool hex = false;  // print numbers in hex
};

struct HeaderSection {
  std::string title;  // e.g. "disk_dump_header", "kdump_sub_header", "ELF header"
  std::vector<HeaderField> fields;
};

struct DumpInfo {
  std::string format;                 // "ELF vmcore", "kdump-compressed", ...
  std::vector<std::string> files;     // the paths opened
  std::string machine;                // "x86_64"
  uint64_t page_size = 0;
  std::vector<std::string> compression;  // methods the page data uses: "zlib", "none", ...
  std::optional<int64_t> dump_level;  // makedumpfile -d level, when the format records it
  bool incomplete = false;
  std::vector<std::string> incomplete_reasons;
  // A coroner triage file (collect --triage-file): its CORONER note's text; empty otherwise.
  std::string triage;
  std::vector<HeaderSection> headers;
  std::vector<ElfNote> notes;         // CORE/PRSTATUS, QEMU, VMCOREINFO, ... in file order
  std::optional<Vmcoreinfo> vmcoreinfo;
};

struct Dump {
  std::vector<std::unique_ptr<ByteSource>> sources;  // kept alive for memory
  std::unique_ptr<PhysicalMemory> memory;
  DumpInfo info;
  Diagnostics diagnostics;
};

// Opens one dump, or a split set when several paths are given.
Result<std::unique_ptr<Dump>> OpenDump(const std::vector<std::string>& paths);
// Opens from already-open sources (tests, fuzzing).
Result<std::unique_ptr<Dump>> OpenDumpSources(std::vector<std::unique_ptr<ByteSource>> sources);

}  // namespace coroner
