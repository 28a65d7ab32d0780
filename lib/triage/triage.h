// The triage file (`coroner collect --triage-file F`): a small kdump-compressed file holding only
// the pages coroner's first-look commands read (`sys`, `log`, `ps`, `bt -a`, `foreach bt`),
// written before the full dump so a first analysis is possible seconds after the panic even if
// the full dump never completes.
//
// How: the input dump's memory is wrapped in a RecordingMemory, a Session is opened over it and
// the commands' lib/commands Run* functions are run (the renderers read no memory, so their
// results need exactly these pages); the kernel page-table pages the translations walked are
// recorded too, as they are read through the same memory. Then exactly the recorded pages are
// written (every other RAM page is marked excluded, so a read of one fails, never gives zeros),
// with the header, VMCOREINFO and notes the full dump gets, plus a CORONER note marking the file
// as a triage file (elf_notes.h): coroner's reader then says "not in this triage file".
//
// The commands look up a few hundred of the kernel's symbols, types and ORC entries, but the
// tables they come from (kallsyms, BTF, ORC) are ~90% of what they read. So the first run
// records those lookups and the file keeps just them, as CORONER notes (types 2-4: a BTF
// subset, the symbols with their extents, the decoded ORC entries with their ip ranges). A
// second run, reading the notes as coroner does when it opens the triage file, records the
// pages the file holds; its output must equal the first run's, or the file keeps the whole
// tables instead (TriageStats::subset_problem says why).
//
// A layer of its own above lib/commands: lib/collect sits below lib/commands (the page filter
// needs only lib/kernel), and the triage file needs the commands themselves.
//
//   TriageOptions o;
//   o.compression = Compression::kZlib;
//   CORONER_TRY(auto sink, FileSink::Create("triage.kdump"));
//   CORONER_TRY(TriageStats st, WriteTriageFile(*dump, o, std::move(sink)));
//   for (const auto& p : st.phases) fmt::print("{}: {} pages\n", p.name, p.new_pages);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/dump/byte_sink.h"
#include "lib/dump/compression.h"
#include "lib/dump/dump.h"

namespace coroner {

struct TriageOptions {
  // Measured on the 6.1 sample dump (2780 pages): zlib (libdeflate) level 6 3.45 MB in 0.75 s,
  // level 12 3.37 MB in 5.7 s; zstd level 1 4.15 MB, 12 3.26 MB in 3.6 s, 19 3.1 MB in 9.7 s.
  // zlib at 6 is the knee, and every reader (crash builds without zstd too) has zlib.
  Compression compression = Compression::kZlib;
  int level = 0;  // compression level (PageEncoder); 0: zlib 6, zstd 12, else the only one
  // The dump level recorded in the header (makedumpfile's -d bits): the triage file leaves out
  // everything a -d 31 dump does and more, so 31 by default (sys shows [PARTIAL DUMP]).
  int dump_level = 31;
};

// One step of the analysis and the pages it was the first to read.
struct TriagePhase {
  std::string name;      // "kallsyms", "BTF types", "sys", "bt -a", ...
  uint64_t new_pages = 0;
  uint64_t bytes = 0;    // those pages compressed as in the file (page headers not counted)
  std::string error;     // the step failed on the input (the file is still written)
};

struct TriageStats {
  std::vector<TriagePhase> phases;
  uint64_t pages = 0;          // pages written (the recorded pages the input holds)
  uint64_t recorded_pages = 0; // distinct pages read (some may be absent from the input)
  uint64_t bytes = 0;          // size of the file
  uint64_t missing_pages = 0;  // recorded pages whose read failed while writing
  uint64_t btf_subset_bytes = 0;     // the types the analysis used (a note), for the BTF's pages
  uint64_t symbol_subset_bytes = 0;  // the symbols it used, for kallsyms' pages
  uint64_t orc_subset_bytes = 0;     // the ORC entries it used, for the ORC tables' pages
  // Non-empty when the subsets did not reproduce the analysis (the file then keeps the tables).
  std::string subset_problem;
  double analysis_seconds = 0;
  double write_seconds = 0;
};

// Runs the analysis on `input` and writes the triage file to `sink`. Fails only when the file
// cannot be written or the dump cannot be analysed at all (no VMCOREINFO: nothing to triage);
// a command failing on the input is noted in its phase.
Result<TriageStats> WriteTriageFile(const Dump& input, const TriageOptions& options,
                                    std::unique_ptr<ByteSink> sink);

}  // namespace coroner
