#include "lib/triage/triage.h"

#include <chrono>
#include <functional>
#include <set>

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

namespace coroner {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <typename T>
std::string ErrorOf(const Result<T>& r) {
  return r ? std::string() : r.error().ToString();
}

// A few thousand pages: stronger than makedumpfile's setting, still well under a second for zlib.
int TriageLevel(const TriageOptions& o) {
  if (o.level > 0) return o.level;
  return o.compression == Compression::kZstd ? 12 : o.compression == Compression::kZlib ? 6 : 0;
}

// The physical pages only the kernel's BTF occupies (__start_BTF .. __stop_BTF, its first and
// last page left in: they may hold other data).
std::set<uint64_t> BtfPagesOnly(const Session& s, uint64_t page_size) {
  std::set<uint64_t> out;
  auto syms = s.Symbols();
  if (!syms || !s.kernel_memory()) return out;
  const Symbol* start = (*syms)->Find("__start_BTF");
  const Symbol* stop = (*syms)->Find("__stop_BTF");
  if (!start || !stop || stop->address <= start->address) return out;
  for (uint64_t va = (start->address / page_size + 1) * page_size; va + page_size <= stop->address / page_size * page_size;
       va += page_size) {
    if (auto pa = s.kernel_memory()->ToPhys(va)) out.insert(pa->value / page_size);
  }
  return out;
}

}  // namespace

Result<TriageStats> WriteTriageFile(const Dump& input, const TriageOptions& options,
                                    std::unique_ptr<ByteSink> sink) {
  if (!input.info.vmcoreinfo) {
    return Error(ErrorCode::kUnsupported, "the dump has no VMCOREINFO: no triage file can be made from it");
  }
  const auto start = std::chrono::steady_clock::now();
  TriageStats st;

  // The session reads through a recording view of the input: same notes and VMCOREINFO.
  auto view = std::make_unique<Dump>();
  auto recording = std::make_unique<RecordingMemory>(*input.memory);
  const RecordingMemory& rec = *recording;
  view->memory = std::move(recording);
  view->info = input.info;

  std::vector<std::vector<uint64_t>> phase_pfns;
  auto phase = [&](std::string name, std::string error) {
    phase_pfns.push_back(rec.TakeNewPfns());
    st.phases.push_back({std::move(name), phase_pfns.back().size(), 0, std::move(error)});
  };

  CORONER_TRY(auto session, Session::FromDump(std::move(view)));
  const Session& s = *session;
  // Page-table pages are recorded as the translations of each step below read them.
  phase("kernel address space", s.kernel_memory() ? "" : s.kernel_memory_error());
  if (!s.kernel_memory()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("no triage file: kernel addresses cannot be translated ({})", s.kernel_memory_error()));
  }
  // What every command needs first, each on its own so the sizes say what dominates.
  phase("kallsyms", ErrorOf(s.Symbols()));
  auto btf = s.BtfTypes();
  phase("BTF types", ErrorOf(btf));
  // The kernel's BTF is read whole (libbpf parses all of it), but the commands use a few hundred
  // of its ~100,000 types: the file keeps those as a BTF subset in a note, not the BTF's pages.
  TypeUse type_use;
  const TypeId kernel_types = btf ? static_cast<TypeId>((*btf)->size()) : 0;
  if (btf) (*btf)->RecordUse(&type_use);
  phase("module list", ErrorOf(s.Modules()));
  phase("module symbols and BTF", ErrorOf(s.AllSymbols()));
  phase("types", ErrorOf(s.Types()));
  phase("ORC unwind tables", ErrorOf(s.Orc()));
  // The direct map's base: so `rd`, `ptov` and `kmem ADDR` can translate addresses there (a read
  // of a page left out then says so).
  phase("direct map base", ErrorOf(s.PageOffsetBase()));
  auto tasks = s.Tasks();
  phase("task list", ErrorOf(tasks));
  // The commands themselves, with their usual arguments.
  phase("sys", ErrorOf(RunSys(s, {})));
  phase("log", ErrorOf(RunLog(s, {})));
  phase("ps", ErrorOf(RunPs(s, {})));
  phase("bt -a", ErrorOf(RunBt(s, {"-a"})));
  phase("bt", ErrorOf(RunBt(s, {})));
  if (tasks) {
    // foreach bt: bt of every task, by address (as `foreach bt` runs it).
    std::vector<std::string> all;
    for (const TaskInfo& t : (*tasks)->tasks) all.push_back(fmt::format("{:x}", t.task));
    phase("foreach bt", all.empty() ? "" : ErrorOf(RunBt(s, all)));
  }
  st.recorded_pages = rec.recorded_pages();
  std::set<uint64_t> btf_pfns;  // the BTF's own pages, replaced by the subset
  std::vector<std::byte> btf_subset;
  if (btf) {
    (*btf)->RecordUse(nullptr);
    auto subset = WriteBtfSubset(**btf, type_use, kernel_types);
    if (!subset) return std::move(subset).error().WithContext("the triage file's BTF subset");
    btf_subset = std::move(*subset);
    btf_pfns = BtfPagesOnly(s, input.memory->page_size());
  }
  st.analysis_seconds = SecondsSince(start);

  // Exactly the recorded pages the input holds; the rest of RAM excluded.
  const auto write_start = std::chrono::steady_clock::now();
  DumpDescription desc = DescribeDump(input);
  desc.dump_level = options.dump_level;
  // Marks the file, so a read of a page it lacks says why (crash and libkdumpfile skip the note).
  const std::string_view mark = "triage file: only the pages coroner's sys, log, ps, bt -a and foreach bt read";
  AppendElfNote(desc.notes, kCoronerNoteName, kCoronerNoteTriage, std::as_bytes(std::span(mark)));
  if (!btf_subset.empty()) AppendElfNote(desc.notes, kCoronerNoteName, kCoronerNoteBtf, btf_subset);
  st.btf_subset_bytes = btf_subset.size();
  KdumpWriterOptions wo;
  wo.compression = options.compression;
  wo.level = TriageLevel(options);
  wo.select = [&](Pfn pfn) { return rec.Recorded(pfn) && !btf_pfns.contains(pfn.value); };
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
  for (size_t i = 0; i < phase_pfns.size(); ++i) {
    for (uint64_t pfn : phase_pfns[i]) {
      if (btf_pfns.contains(pfn)) {
        --st.phases[i].new_pages;
        continue;
      }
      if (input.memory->ReadPage(Pfn{pfn}, page) && enc.Encode(page, e)) st.phases[i].bytes += e.bytes.size();
    }
  }
  return st;
}

}  // namespace coroner
