#include "lib/commands/session.h"

#include <fmt/format.h>

#include "lib/debuginfo/btf_types.h"
#include "lib/kernel/modules.h"

namespace coroner {

Result<std::unique_ptr<Session>> Session::Open(const std::vector<std::string>& dump_files) {
  CORONER_TRY(auto dump, OpenDump(dump_files));
  auto s = std::unique_ptr<Session>(new Session());
  s->dump_ = std::move(dump);
  if (!s->dump_->info.vmcoreinfo) {
    s->kmem_error_ = "the dump has no VMCOREINFO, so kernel addresses cannot be translated";
  } else if (s->dump_->info.machine != "x86_64") {
    s->kmem_error_ = fmt::format("kernel address translation for {} is not supported yet", s->dump_->info.machine);
  } else {
    auto km = KernelMemory::Create(*s->dump_->memory, *s->dump_->info.vmcoreinfo);
    if (km) {
      s->kmem_ = std::move(*km);
    } else {
      s->kmem_error_ = km.error().ToString();
    }
  }
  return s;
}

Result<const KernelMemory*> Session::RequireKernelMemory() const {
  if (!kmem_) return Error(ErrorCode::kUnsupported, kmem_error_);
  return kmem_.get();
}

Result<const SymbolTable*> Session::Symbols() const {
  if (kallsyms_) return &kallsyms_->symbols;
  if (kallsyms_error_) return *kallsyms_error_;
  auto km = RequireKernelMemory();
  if (!km) return km.error();
  auto k = ReadKallsyms(**km, *dump_->info.vmcoreinfo);
  if (!k) {
    kallsyms_error_ = std::move(k).error().WithContext("decoding kallsyms from the dump");
    return *kallsyms_error_;
  }
  kallsyms_ = std::move(*k);
  return &kallsyms_->symbols;
}

Result<const SymbolTable*> Session::AllSymbols() const {
  if (all_symbols_) return &*all_symbols_;
  CORONER_TRY(const SymbolTable* core, Symbols());
  auto k = GetKernel();
  if (!k) {
    symbol_warnings_.push_back("module symbols: " + k.error().ToString());
    return core;
  }
  auto mods = ReadModules(**k);
  if (!mods) {
    symbol_warnings_.push_back("module symbols: " + mods.error().ToString());
    return core;
  }
  SymbolTable::Builder b;
  b.AddAll(*core);
  AddModuleSymbols(**k, *mods, b, symbol_warnings_);
  all_symbols_ = std::move(b).Build();
  return &*all_symbols_;
}

Result<const TypeTable*> Session::Types() const {
  if (types_) return &*types_;
  if (types_error_) return *types_error_;
  auto load = [&]() -> Result<TypeTable> {
    CORONER_TRY(const SymbolTable* syms, Symbols());
    const Symbol* start = syms->Find("__start_BTF");
    const Symbol* stop = syms->Find("__stop_BTF");
    if (!start || !stop) {
      return Error(ErrorCode::kNotFound,
                   "the kernel has no BTF (no __start_BTF/__stop_BTF: built without CONFIG_DEBUG_INFO_BTF)");
    }
    CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
    CORONER_TRY(auto blob, ReadKernelBtf(*km, start->address, stop->address));
    return LoadBtfTypes(blob);
  };
  auto t = load();
  if (!t) {
    types_error_ = std::move(t).error();
    return *types_error_;
  }
  types_ = std::move(*t);
  return &*types_;
}

Result<const Kernel*> Session::GetKernel() const {
  if (kernel_) return kernel_.get();
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  CORONER_TRY(const SymbolTable* syms, Symbols());
  CORONER_TRY(const TypeTable* types, Types());
  kernel_ = std::make_unique<Kernel>(*km, *types, *syms);
  return kernel_.get();
}

Result<const TaskList*> Session::Tasks() const {
  if (tasks_) return &*tasks_;
  if (tasks_error_) return *tasks_error_;
  CORONER_TRY(const Kernel* k, GetKernel());
  auto t = ReadTasks(*k);
  if (!t) {
    tasks_error_ = std::move(t).error().WithContext("reading the task list");
    return *tasks_error_;
  }
  tasks_ = std::move(*t);
  return &*tasks_;
}

int Session::PanicCpu() const {
  auto k = GetKernel();
  if (!k) return -1;
  if (auto pc = (*k)->SymbolAddress("panic_cpu")) {
    if (auto v = (*k)->ReadU32(*pc)) return static_cast<int32_t>(*v);
  }
  return -1;
}

Result<const TaskInfo*> Session::ContextTask() const {
  CORONER_TRY(const TaskList* tl, Tasks());
  if (context_task_) {
    if (const TaskInfo* t = tl->FindTask(context_task_)) return t;
  }
  int cpu = PanicCpu();
  if (cpu < 0) cpu = 0;
  if (static_cast<size_t>(cpu) < tl->active.size()) {
    if (const TaskInfo* t = tl->FindTask(tl->active[static_cast<size_t>(cpu)])) return t;
  }
  return Error(ErrorCode::kNotFound, fmt::format("no active task on CPU {} to use as the context", cpu));
}

Result<void> Session::SetContext(uint64_t task) const {
  CORONER_TRY(const TaskList* tl, Tasks());
  if (!tl->FindTask(task)) return Error(ErrorCode::kNotFound, fmt::format("{:#x} is not a task", task));
  context_task_ = task;
  return Ok();
}

Result<const OrcTable*> Session::Orc() const {
  if (orc_) return &*orc_;
  if (orc_error_) return *orc_error_;
  CORONER_TRY(const Kernel* k, GetKernel());
  auto t = OrcTable::Load(*k);
  if (!t) {
    orc_error_ = std::move(t).error().WithContext("reading the ORC unwind tables");
    return *orc_error_;
  }
  orc_ = std::move(*t);
  return &*orc_;
}

Result<const BugTable*> Session::Bugs() const {
  if (bugs_) return &*bugs_;
  if (bugs_error_) return *bugs_error_;
  CORONER_TRY(const Kernel* k, GetKernel());
  auto t = BugTable::Load(*k);
  if (!t) {
    bugs_error_ = std::move(t).error().WithContext("reading the bug table");
    return *bugs_error_;
  }
  bugs_ = std::move(*t);
  return &*bugs_;
}

std::string Session::SourcesDescription() const {
  std::string out;
  out += kmem_ ? fmt::format("page tables from VMCOREINFO ({}-level)", kmem_->five_level() ? 5 : 4)
               : "no kernel address space";
  if (kallsyms_) out += fmt::format("; {} symbols from kallsyms in the dump", kallsyms_->symbols.size());
  if (types_) out += fmt::format("; {} types from the dump's BTF", types_->size());
  return out;
}

Result<uint64_t> Session::PageOffsetBase() const {
  if (page_offset_base_) return *page_offset_base_;
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  // mem_section (SPARSEMEM_EXTREME, every x86_64 distribution kernel) is allocated from the
  // direct map, so its virtual address minus its physical address is the direct map's base,
  // to the 1 GiB alignment KASLR gives page_offset_base.
  const Vmcoreinfo& vi = *dump_->info.vmcoreinfo;
  if (auto ms = vi.Symbol("mem_section"); ms && *ms < KernelMemory::kStartKernelMap) {
    auto pa = km->ToPhys(*ms);
    if (pa) {
      uint64_t base = *ms - pa->value;
      if ((base & ((1ull << 30) - 1)) == 0) {
        page_offset_base_ = base;
        page_offset_source_ = "mem_section in VMCOREINFO";
        return base;
      }
    }
  }
  return Error(ErrorCode::kNotFound,
               "cannot find the direct map's base (page_offset_base) from VMCOREINFO alone");
}

}  // namespace coroner
