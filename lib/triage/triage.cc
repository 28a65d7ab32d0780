#include "lib/triage/triage.h"

#include <chrono>
#include <functional>

#include <fmt/format.h>

#include "lib/commands/bt.h"
#include "lib/commands/log.h"
#include "lib/commands/ps.h"
#include "lib/commands/session.h"
#include "lib/commands/sys.h"
#include "lib/debuginfo/btf_types.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/elf_notes.h"
#include "lib/dump/kdump_writer.h"
#include "lib/dump/recording_memory.h"
#include "lib/render/log_render.h"
#include "lib/render/task_render.h"

namespace coroner {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <typename T>
std::string ErrorOf(const Result<T>& r) {
  return r ? std::string() : r.error().ToString();
}

// A command's text as the user sees it, or its error: what the two runs must agree on.
template <typename T>
std::string Output(const Result<T>& r, std::string (*render)(const T&)) {
  return r ? render(*r) : "error: " + r.error().ToString();
}

// A few thousand pages: stronger than makedumpfile's setting, still well under a second for zlib.
int TriageLevel(const TriageOptions& o) {
  if (o.level > 0) return o.level;
  return o.compression == Compression::kZstd ? 12 : o.compression == Compression::kZlib ? 6 : 0;
}

// What the first run's lookups used, for the subsets.
struct Uses {
  TypeUse types;
  TypeId kernel_types = 0;          // the kernel's own BTF types (module BTF follows)
  const TypeTable* btf = nullptr;
  std::vector<bool> symbols;        // over the kernel's symbol table
  std::vector<bool> all_symbols;    // over the kernel's and the modules'
  const SymbolTable* kernel_symbols = nullptr;
  const SymbolTable* merged_symbols = nullptr;
  std::vector<OrcRange> orc;
  const OrcTable* orc_table = nullptr;
};

// One run of the analysis over a recording view of the input.
struct Run {
  std::unique_ptr<Session> session;
  const RecordingMemory* recording = nullptr;
  std::vector<TriagePhase> phases;
  std::vector<std::vector<uint64_t>> phase_pfns;
  std::string output;  // every command's text, in order
};

// Runs sys, log, ps, bt -a, bt and foreach bt over a recording view of `input` whose notes get
// `extra_notes` (the second run: the subsets, read as a triage file's reader reads them). With
// `uses`, the lookups of symbols, types and ORC entries are recorded into it.
Result<Run> Analyse(const Dump& input, const std::vector<ElfNote>& extra_notes, Uses* uses) {
  Run run;
  auto view = std::make_unique<Dump>();
  auto recording = std::make_unique<RecordingMemory>(*input.memory);
  run.recording = recording.get();
  view->memory = std::move(recording);
  view->info = input.info;
  view->info.notes.insert(view->info.notes.end(), extra_notes.begin(), extra_notes.end());
  auto phase = [&](std::string name, std::string error) {
    run.phase_pfns.push_back(run.recording->TakeNewPfns());
    run.phases.push_back({std::move(name), run.phase_pfns.back().size(), 0, std::move(error)});
  };

  CORONER_TRY(run.session, Session::FromDump(std::move(view)));
  const Session& s = *run.session;
  // Page-table pages are recorded as the translations of each step below read them.
  phase("kernel address space", s.kernel_memory() ? "" : s.kernel_memory_error());
  if (!s.kernel_memory()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("no triage file: kernel addresses cannot be translated ({})", s.kernel_memory_error()));
  }
  // What every command needs first, each on its own so the sizes say what dominates.
  auto syms = s.Symbols();
  phase("kallsyms", ErrorOf(syms));
  if (syms && uses) {
    uses->kernel_symbols = *syms;
    (*syms)->RecordUse(&uses->symbols);
  }
  auto btf = s.BtfTypes();
  phase("BTF types", ErrorOf(btf));
  if (btf && uses) {
    uses->btf = *btf;
    uses->kernel_types = static_cast<TypeId>((*btf)->size());
    (*btf)->RecordUse(&uses->types);
  }
  phase("module list", ErrorOf(s.Modules()));
  auto all = s.AllSymbols();
  phase("module symbols and BTF", ErrorOf(all));
  if (all && uses && syms && *all != *syms) {
    uses->merged_symbols = *all;
    (*all)->RecordUse(&uses->all_symbols);
  }
  phase("types", ErrorOf(s.Types()));
  auto orc = s.Orc();
  phase("ORC unwind tables", ErrorOf(orc));
  if (orc && uses) {
    uses->orc_table = *orc;
    (*orc)->RecordUse(&uses->orc);
  }
  // The direct map's base: so `rd`, `ptov` and `kmem ADDR` can translate addresses there (a read
  // of a page left out then says so).
  phase("direct map base", ErrorOf(s.PageOffsetBase()));
  auto tasks = s.Tasks();
  phase("task list", ErrorOf(tasks));
  // The commands themselves, with their usual arguments.
  auto command = [&](std::string name, std::string output, std::string error) {
    run.output += fmt::format("== {}\n{}", name, output);
    phase(std::move(name), std::move(error));
  };
  auto sys = RunSys(s, {});
  command("sys", Output(sys, RenderSysText), ErrorOf(sys));
  auto log = RunLog(s, {});
  command("log", Output(log, RenderLogText), ErrorOf(log));
  auto ps = RunPs(s, {});
  command("ps", Output(ps, RenderPsText), ErrorOf(ps));
  auto bt_all = RunBt(s, {"-a"});
  command("bt -a", Output(bt_all, RenderBtText), ErrorOf(bt_all));
  auto bt = RunBt(s, {});
  command("bt", Output(bt, RenderBtText), ErrorOf(bt));
  if (tasks) {
    // foreach bt: bt of every task, by address (as `foreach bt` runs it).
    std::vector<std::string> every;
    for (const TaskInfo& t : (*tasks)->tasks) every.push_back(fmt::format("{:x}", t.task));
    if (every.empty()) {
      command("foreach bt", "", "");
    } else {
      auto fb = RunBt(s, every);
      command("foreach bt", Output(fb, RenderBtText), ErrorOf(fb));
    }
  }
  if (uses) {
    if (syms) (*syms)->RecordUse(nullptr);
    if (btf) (*btf)->RecordUse(nullptr);
    if (orc) (*orc)->RecordUse(nullptr);
    if (uses->merged_symbols) {
      uses->merged_symbols->RecordUse(nullptr);
      // The kernel's symbols among the merged table's marks, by name (module symbols come from
      // the modules' own memory, which the file keeps).
      uses->kernel_symbols->RecordUse(&uses->symbols);
      auto merged = uses->merged_symbols->symbols();
      for (size_t i = 0; i < merged.size() && i < uses->all_symbols.size(); ++i) {
        if (uses->all_symbols[i] && merged[i].module.empty()) (void)uses->kernel_symbols->Lookup(merged[i].name);
      }
      uses->kernel_symbols->RecordUse(nullptr);
    }
  }
  return run;
}

// The subsets of the first run's lookups, as the notes a triage file carries.
Result<std::vector<ElfNote>> SubsetNotes(const Uses& u, TriageStats& st) {
  std::vector<ElfNote> notes;
  auto add = [&](uint32_t type, std::vector<std::byte> desc) {
    ElfNote n;
    n.name = std::string(kCoronerNoteName);
    n.type = type;
    n.desc = std::move(desc);
    notes.push_back(std::move(n));
  };
  if (u.btf) {
    auto subset = WriteBtfSubset(*u.btf, u.types, u.kernel_types);
    if (!subset) return std::move(subset).error().WithContext("the triage file's BTF subset");
    st.btf_subset_bytes = subset->size();
    add(kCoronerNoteBtf, std::move(*subset));
  }
  if (u.kernel_symbols) {
    auto subset = WriteSymbolSubset(*u.kernel_symbols, u.symbols);
    st.symbol_subset_bytes = subset.size();
    add(kCoronerNoteSymbols, std::move(subset));
  }
  if (u.orc_table) {
    auto subset = WriteOrcSubset(*u.orc_table, u.orc);
    st.orc_subset_bytes = subset.size();
    add(kCoronerNoteOrc, std::move(subset));
  }
  return notes;
}

// Where the two runs' outputs first differ, for the message.
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  size_t line = a.rfind('\n', i == 0 ? 0 : i - 1);
  line = line == std::string::npos ? 0 : line + 1;
  auto until_eol = [](const std::string& s, size_t from) {
    size_t e = s.find('\n', from);
    return s.substr(from, e == std::string::npos ? std::string::npos : e - from);
  };
  return fmt::format("\"{}\" became \"{}\"", until_eol(a, line), until_eol(b, line));
}

}  // namespace

Result<TriageStats> WriteTriageFile(const Dump& input, const TriageOptions& options,
                                    std::unique_ptr<ByteSink> sink) {
  if (!input.info.vmcoreinfo) {
    return Error(ErrorCode::kUnsupported, "the dump has no VMCOREINFO: no triage file can be made from it");
  }
  const auto start = std::chrono::steady_clock::now();
  TriageStats st;

  // First run: the commands over the whole dump, recording which symbols, types and ORC entries
  // they look up. Those are a small part of the kallsyms, BTF and ORC tables (a few hundred of
  // ~150,000 symbols, ~100,000 types, ~400,000 entries), so the file keeps them as notes, and
  // not the tables' pages.
  Uses uses;
  CORONER_TRY(Run first, Analyse(input, {}, &uses));
  CORONER_TRY(std::vector<ElfNote> subsets, SubsetNotes(uses, st));
  // Second run: as coroner reads the triage file, with the notes. It records the pages the file
  // must hold, and its output must equal the first run's; where it does not, the subsets miss
  // something and the file keeps the first run's pages without them.
  CORONER_TRY(Run second, Analyse(input, subsets, nullptr));
  const Run* used = &second;
  if (second.output != first.output) {
    st.subset_problem = "with only the symbols, types and ORC entries the analysis used, its output differs (" +
                        FirstDifference(first.output, second.output) + "); the file keeps their whole tables";
    subsets.clear();
    st.btf_subset_bytes = st.symbol_subset_bytes = st.orc_subset_bytes = 0;
    used = &first;
  }
  st.phases = used->phases;
  st.recorded_pages = used->recording->recorded_pages();
  st.analysis_seconds = SecondsSince(start);

  // Exactly the recorded pages the input holds; the rest of RAM excluded.
  const auto write_start = std::chrono::steady_clock::now();
  DumpDescription desc = DescribeDump(input);
  desc.dump_level = options.dump_level;
  // Marks the file, so a read of a page it lacks says why (crash and libkdumpfile skip the note).
  const std::string_view mark = "triage file: only the pages coroner's sys, log, ps, bt -a and foreach bt read";
  AppendElfNote(desc.notes, kCoronerNoteName, kCoronerNoteTriage, std::as_bytes(std::span(mark)));
  for (const ElfNote& n : subsets) AppendElfNote(desc.notes, n.name, n.type, n.desc);
  KdumpWriterOptions wo;
  wo.compression = options.compression;
  wo.level = TriageLevel(options);
  const RecordingMemory& rec = *used->recording;
  wo.select = [&](Pfn pfn) { return rec.Recorded(pfn); };
  std::vector<std::unique_ptr<ByteSink>> sinks;
  sinks.push_back(std::move(sink));
  CORONER_TRY(KdumpWriteStats ws, WriteKdump(*input.memory, desc, wo, std::move(sinks)));
  st.pages = ws.dumped_pages;
  st.missing_pages = ws.missing_pages;
  for (const KdumpFileStats& f : ws.files) st.bytes += f.bytes;
  st.write_seconds = SecondsSince(write_start);

  // What each step costs in the file, to say what dominates.
  PageEncoder enc(options.compression, false, TriageLevel(options));
  std::vector<std::byte> page(input.memory->page_size());
  EncodedPage e;
  for (size_t i = 0; i < used->phase_pfns.size(); ++i) {
    for (uint64_t pfn : used->phase_pfns[i]) {
      if (input.memory->ReadPage(Pfn{pfn}, page) && enc.Encode(page, e)) st.phases[i].bytes += e.bytes.size();
    }
  }
  return st;
}

}  // namespace coroner
