#include "lib/commands/session.h"

#include <charconv>

#include <fmt/format.h>

#include <sys/stat.h>

#include <array>
#include <cstdlib>

#include "lib/debuginfo/btf_types.h"
#include "lib/debuginfo/elf_symbols.h"
#include "lib/dump/elf_notes.h"
#include "lib/kernel/modules.h"

namespace coroner {

Result<std::unique_ptr<Session>> Session::Open(const std::vector<std::string>& dump_files) {
  CORONER_TRY(auto dump, OpenDump(dump_files));
  return FromDump(std::move(dump));
}

Result<std::unique_ptr<Session>> Session::FromDump(std::unique_ptr<Dump> dump) {
  if (!dump || !dump->memory) return Error(ErrorCode::kInvalidArgument, "no dump to open a session on");
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

Result<std::unique_ptr<Session>> Session::Open(const std::vector<std::string>& dump_files,
                                               const SessionOptions& options) {
  CORONER_TRY(auto s, Open(dump_files));
  s->options_ = options;
  std::string path = options.vmlinux;
  if (path.empty() && options.find_vmlinux) {
    const auto& vi = s->dump_->info.vmcoreinfo;
    if (vi && vi->osrelease) {
      for (const std::string& c : VmlinuxCandidates(*vi->osrelease, options)) {
        struct stat st;
        if (::stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          path = c;
          s->notes_.push_back(fmt::format("found {}", c));
          break;
        }
      }
    }
  }
  if (!path.empty()) s->UseVmlinux(path, options.index_dir);
  return s;
}

std::vector<std::string> Session::VmlinuxCandidates(const std::string& release, const SessionOptions& options) {
  std::vector<std::string> out;
  for (const std::string& d : options.debuginfo_dirs) {
    out.push_back(d + "/vmlinux-" + release);
    out.push_back(d + "/" + release + "/vmlinux");
    out.push_back(d + "/lib/modules/" + release + "/vmlinux");
    out.push_back(d + "/boot/vmlinux-" + release);
    out.push_back(d + "/vmlinux");
  }
  // Where `coroner debuginfo fetch` puts it.
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    out.push_back(std::string(x) + "/coroner/debuginfo/" + release + "/vmlinux");
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    out.push_back(std::string(h) + "/.cache/coroner/debuginfo/" + release + "/vmlinux");
  }
  std::string root = options.root.empty() ? "/" : options.root;
  if (root.back() != '/') root += '/';
  out.push_back(root + "usr/lib/debug/boot/vmlinux-" + release);
  out.push_back(root + "usr/lib/debug/lib/modules/" + release + "/vmlinux");
  out.push_back(root + "boot/vmlinux-" + release);
  return out;
}

uint64_t Session::kaslr_offset() const {
  const auto& vi = dump_->info.vmcoreinfo;
  return vi ? vi->kernel_offset.value_or(0) : 0;
}

void Session::UseVmlinux(const std::string& path, const std::string& index_dir) {
  auto syms = ReadElfSymbols(path, kaslr_offset());
  if (!syms) {
    notes_.push_back(fmt::format("{}: not used: {}", path, syms.error().ToString()));
    return;
  }
  // linux_banner in the dump against the file's: the one check that the vmlinux is this kernel.
  const Symbol* banner_sym = syms->Find("linux_banner");
  if (!banner_sym) {
    notes_.push_back(fmt::format("{}: not used: it has no linux_banner symbol", path));
    return;
  }
  uint64_t link_address = banner_sym->address - kaslr_offset();
  auto file_banner = ReadElfString(path, link_address);
  auto read_banner = [&](uint64_t va) -> Result<std::string> {
    CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
    std::string out;
    std::array<std::byte, 512> buf{};
    CORONER_TRY_VOID(km->Read(va, buf));
    for (std::byte b : buf) {
      if (b == std::byte{0}) break;
      out.push_back(static_cast<char>(b));
    }
    return out;
  };
  auto trim = [](std::string b) {
    while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
    return b;
  };
  auto dump_banner = read_banner(banner_sym->address);
  if (!file_banner || !dump_banner || *file_banner != *dump_banner || file_banner->empty()) {
    // Show the dump's real banner, found through its own kallsyms.
    std::string theirs;
    if (auto ks = Symbols(); ks && (*ks)->Find("linux_banner")) {
      auto b = read_banner((*ks)->Find("linux_banner")->address);
      theirs = b ? trim(*b) : "(unreadable: " + b.error().ToString() + ")";
    } else {
      theirs = dump_banner ? trim(*dump_banner) : "(unreadable)";
    }
    notes_.push_back(fmt::format(
        "{} does not match the dump; not used.\n  dump:    {}\n  vmlinux: {}\n"
        "continuing with the dump's own kallsyms and BTF",
        path, theirs, file_banner ? trim(*file_banner) : "(unreadable: " + file_banner.error().ToString() + ")"));
    return;
  }
  vmlinux_ = path;
  elf_symbols_ = std::move(*syms);
  DwarfOptions dwarf_options;
  dwarf_options.index_dir = index_dir;
  auto dwarf = DwarfInfo::Open(path, dwarf_options);
  if (!dwarf) {
    notes_.push_back(fmt::format("{} has no DWARF debug info (stripped?): symbols from its symtab, types "
                                 "from the dump's BTF, no line numbers",
                                 path));
    return;
  }
  dwarf_ = std::move(*dwarf);
}

std::optional<TypeId> Session::GlobalType(std::string_view name) const {
  if (!dwarf_) return std::nullopt;
  auto syms = Symbols();
  if (!syms) return std::nullopt;
  if (const Symbol* sym = (*syms)->Find(name)) {
    // DWARF locations are link-time addresses: kernel-image symbols moved by KASLR, per-CPU
    // offsets did not.
    return dwarf_->GlobalType(name, {sym->address - kaslr_offset(), sym->address}, sym->IsGlobal());
  }
  // A module's global, once its debug file is loaded: relocated to where the module is.
  if (module_debuginfo_.empty()) return std::nullopt;
  auto all = AllSymbols();
  if (!all) return std::nullopt;
  const Symbol* sym = (*all)->Find(name);
  if (!sym || sym->module.empty()) return std::nullopt;
  bool loaded = std::any_of(module_debuginfo_.begin(), module_debuginfo_.end(),
                            [&](const ModuleDebuginfo& m) { return m.module == sym->module; });
  if (!loaded) return std::nullopt;
  return dwarf_->GlobalType(name, {sym->address}, sym->IsGlobal());
}

const ModuleDebuginfo* Session::ModuleDebuginfoAt(uint64_t address) const {
  for (const ModuleDebuginfo& m : module_debuginfo_) {
    for (const auto& [start, end] : m.ranges) {
      if (address >= start && address < end) return &m;
    }
  }
  return nullptr;
}

Result<SourceLine> Session::LineAt(uint64_t address) const {
  if (const ModuleDebuginfo* m = ModuleDebuginfoAt(address)) {
    // Module files are laid out at their runtime addresses.
    const DwarfInfo* d = dwarf_ ? dwarf_.get() : module_dwarf_.get();
    if (auto line = d->LineAt(address, m->module)) return *line;
    return Error(ErrorCode::kNotFound, fmt::format("no line number for {:#x}", address));
  }
  if (!dwarf_) {
    return Error(ErrorCode::kUnsupported, "line numbers need DWARF: give a vmlinux with debug info");
  }
  auto line = dwarf_->LineAt(address - kaslr_offset());
  if (!line) return Error(ErrorCode::kNotFound, fmt::format("no line number for {:#x}", address));
  return *line;
}

Result<UserMemory> Session::UserMemoryOf(const TaskInfo& t) const {
  if (!t.mm) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("PID {} (\"{}\") is a kernel thread: no user address space", t.pid, t.comm));
  }
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  CORONER_TRY(const Kernel* k, GetKernel());
  CORONER_TRY(uint64_t page_offset, PageOffsetBase());
  CORONER_TRY(uint64_t pgd, k->ReadField(t.mm, "mm_struct", "pgd"));  // a direct-map address
  if (pgd < page_offset) {
    return Error(ErrorCode::kBadData, fmt::format("PID {}: mm {:#x} has pgd {:#x}, below the direct map {:#x}",
                                                  t.pid, t.mm, pgd, page_offset));
  }
  return UserMemory(km->paging(), km->physical(), PhysAddr{pgd - page_offset});
}

const ElfNote* Session::CoronerNote(uint32_t type) const {
  for (const ElfNote& n : dump_->info.notes) {
    if (n.name == kCoronerNoteName && n.type == type) return &n;
  }
  return nullptr;
}

Result<const KernelMemory*> Session::RequireKernelMemory() const {
  if (!kmem_) return Error(ErrorCode::kUnsupported, kmem_error_);
  return kmem_.get();
}

Result<const SymbolTable*> Session::Symbols() const {
  if (elf_symbols_) return &*elf_symbols_;
  if (kallsyms_) return &kallsyms_->symbols;
  if (kallsyms_error_) return *kallsyms_error_;
  if (const ElfNote* n = CoronerNote(kCoronerNoteSymbols)) {
    // A triage file keeps the symbols its analysis used; the kallsyms tables are not in it.
    auto t = ReadSymbolSubset(n->desc, "this triage file keeps only the symbols its analysis used");
    if (!t) {
      kallsyms_error_ = std::move(t).error().WithContext("the triage file's symbols (its CORONER note)");
      return *kallsyms_error_;
    }
    kallsyms_.emplace();
    kallsyms_->symbols = std::move(*t);
    return &kallsyms_->symbols;
  }
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
  auto mods = Modules();
  if (!mods) {
    symbol_warnings_.push_back("module symbols: " + mods.error().ToString());
    return core;
  }
  SymbolTable::Builder b;
  b.AddAll(*core);
  AddModuleSymbols(**k, **mods, b, symbol_warnings_);
  all_symbols_ = std::move(b).Build();
  return &*all_symbols_;
}

Result<std::string> Session::DumpBanner() const {
  CORONER_TRY(const SymbolTable* syms, Symbols());
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  const Symbol* sym = syms->Find("linux_banner");
  if (!sym) return Error(ErrorCode::kNotFound, "the dump's kallsyms has no linux_banner");
  CORONER_TRY(std::string b, km->ReadCString(sym->address, 512));
  while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
  return b;
}

Result<std::string> Session::KernelBuildId() const {
  CORONER_TRY(const SymbolTable* syms, Symbols());
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  const Symbol* start = syms->Find("__start_notes");
  const Symbol* stop = syms->Find("__stop_notes");
  if (!start || !stop || stop->address <= start->address || stop->address - start->address > 65536) {
    return Error(ErrorCode::kNotFound, "the dump's kallsyms has no __start_notes..__stop_notes range");
  }
  std::vector<std::byte> notes(stop->address - start->address);
  CORONER_TRY_VOID(km->Read(start->address, notes));
  Diagnostics diag;
  for (const ElfNote& n : ParseElfNotes(notes, start->address, diag)) {
    constexpr uint32_t kNtGnuBuildId = 3;
    if (n.name != "GNU" || n.type != kNtGnuBuildId || n.desc.empty()) continue;
    std::string hex;
    for (std::byte b : n.desc) hex += fmt::format("{:02x}", static_cast<unsigned>(b));
    return hex;
  }
  return Error(ErrorCode::kNotFound, fmt::format("no GNU build ID note in the kernel's notes at {:#x}", start->address));
}

Result<uint64_t> Session::ResolveSymbol(std::string_view text) const {
  CORONER_TRY(const SymbolTable* syms, AllSymbols());
  std::string_view name = text;
  uint64_t offset = 0;
  if (auto plus = text.find('+'); plus != std::string_view::npos) {
    name = text.substr(0, plus);
    std::string_view num = text.substr(plus + 1);
    int base = 10;
    if (num.size() > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X')) {
      num.remove_prefix(2);
      base = 16;
    }
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), offset, base);
    if (ec != std::errc() || end != num.data() + num.size() || num.empty()) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("invalid offset in {}", text));
    }
  }
  const Symbol* sym = syms->Find(name);
  if (!sym) {
    return Error(ErrorCode::kNotFound, WithScope(*syms, fmt::format("symbol not found: {}", name)));
  }
  return sym->address + offset;
}

Result<const std::vector<ModuleInfo>*> Session::Modules() const {
  if (!modules_) {
    CORONER_TRY(const Kernel* k, GetKernel());
    modules_ = ReadModules(*k);
  }
  if (!*modules_) return modules_->error();
  return &**modules_;
}

Result<const TypeTable*> Session::Types() const {
  if (dwarf_) return &dwarf_->types();
  CORONER_TRY(const TypeTable* btf, BtfTypes());
  (void)GetKernel();  // adds the loaded modules' BTF (a kernel that cannot be read has none)
  return btf;
}

Result<const TypeTable*> Session::BtfTypes() const {
  if (types_) return &*types_;
  if (types_error_) return *types_error_;
  auto load = [&]() -> Result<TypeTable> {
    // A triage file keeps the types its analysis used, as a BTF subset in a note.
    if (const ElfNote* n = CoronerNote(kCoronerNoteBtf)) {
      btf_is_subset_ = true;
      auto t = LoadBtfTypes(n->desc);
      if (!t) return std::move(t).error().WithContext("the triage file's BTF subset (its CORONER note)");
      return t;
    }
    CORONER_TRY(const SymbolTable* syms, Symbols());
    const Symbol* start = syms->Find("__start_BTF");
    const Symbol* stop = syms->Find("__stop_BTF");
    if (!start || !stop) {
      return Error(ErrorCode::kNotFound,
                   "the kernel has no BTF (no __start_BTF/__stop_BTF: built without CONFIG_DEBUG_INFO_BTF)");
    }
    CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
    CORONER_TRY(btf_blob_, ReadKernelBtf(*km, start->address, stop->address));
    auto t = LoadBtfTypes(btf_blob_);
    if (!t) {
      return std::move(t).error().WithContext(fmt::format("the kernel's BTF at {:#x} (__start_BTF, {} bytes)",
                                                          start->address, btf_blob_.size()));
    }
    return t;
  };
  auto t = load();
  if (!t) {
    Error e = std::move(t).error();
    if (!dwarf_) {
      // Say what still works: commands that need no types, and where types would come from.
      e = Error(e.code(), e.message() + "; without types only log, sym, rd, dis, vtop, eval and parts of sys work: give a "
                                        "vmlinux with DWARF (coroner DUMP VMLINUX, or coroner debuginfo fetch DUMP)");
    }
    types_error_ = std::move(e);
    return *types_error_;
  }
  types_ = std::move(*t);
  return &*types_;
}

Result<const Kernel*> Session::GetKernel() const {
  if (kernel_) return kernel_.get();
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  CORONER_TRY(const SymbolTable* syms, Symbols());
  // The walkers (tasks, modules, slab, ...) use the dump's BTF when it has one: it is complete
  // at once, where DWARF types load on demand; DWARF serves kernels built without BTF.
  auto btf = BtfTypes();
  const TypeTable* types = nullptr;
  if (btf) {
    types = *btf;
  } else if (auto any = Types()) {
    types = *any;
  } else {
    // No types: the kernel layer still reads symbols and memory (sys's taint, CPUs, uptime),
    // and every structure it is asked for fails with this reason.
    no_types_.emplace();
    types = &*no_types_;
  }
  kernel_ = std::make_unique<Kernel>(*km, *types, *syms);
  if (!btf && no_types_) kernel_->set_no_types_reason(btf.error().message());
  if (btf_is_subset_) {
    // The modules' split BTF numbers its types after the kernel's whole BTF, which is not here.
    kernel_->set_types_scope("this triage file keeps only the types its analysis used");
  } else if (btf) {
    AddModuleBtf();
  }
  return kernel_.get();
}

void Session::AddModuleBtf() const {
  // Each module's BTF lives in the BPF subsystem's btf_modules list (struct btf_module, whose
  // struct btf holds the raw split BTF); module.btf_data is freed once the module is loaded.
  // Kernels built without CONFIG_DEBUG_INFO_BTF_MODULES (5.10 here) have no such list.
  auto head = kernel_->SymbolAddress("btf_modules");
  if (!head) return;
  auto entries = kernel_->ListEntries(*head, "btf_module", "list", 1 << 12);
  if (!entries) {
    symbol_warnings_.push_back("module BTF: " + entries.error().ToString());
    return;
  }
  constexpr uint64_t kMaxModuleBtf = 64u << 20;
  for (uint64_t e : *entries) {
    auto add = [&]() -> Result<size_t> {
      CORONER_TRY(uint64_t btf, kernel_->ReadField(e, "btf_module", "btf"));
      CORONER_TRY(uint64_t data, kernel_->ReadField(btf, "btf", "data"));
      CORONER_TRY(uint64_t size, kernel_->ReadField(btf, "btf", "data_size"));
      if (!data || !size || size > kMaxModuleBtf) {
        return Error(ErrorCode::kBadData, fmt::format("struct btf {:#x}: data {:#x}, {} bytes", btf, data, size));
      }
      std::vector<std::byte> blob(size);
      CORONER_TRY_VOID(kernel_->memory().Read(data, blob));
      return AddSplitBtfTypes(*types_, btf_blob_, blob);
    };
    auto added = add();
    if (!added) symbol_warnings_.push_back(fmt::format("module BTF at {:#x}: {}", e, added.error().ToString()));
  }
  types_->Index();
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
  if (const ElfNote* n = CoronerNote(kCoronerNoteOrc)) {
    // A triage file keeps the entries its unwinds used (modules' too); the tables are not in it.
    auto t = ReadOrcSubset(n->desc);
    if (!t) {
      orc_error_ = std::move(t).error().WithContext("the triage file's ORC entries (its CORONER note)");
      return *orc_error_;
    }
    orc_ = std::move(*t);
    return &*orc_;
  }
  CORONER_TRY(const Kernel* k, GetKernel());
  auto t = OrcTable::Load(*k);
  if (!t) {
    orc_error_ = std::move(t).error().WithContext("reading the ORC unwind tables");
    return *orc_error_;
  }
  if (auto mods = Modules()) {
    for (const ModuleInfo& m : **mods) {
      auto added = t->AddModule(*k, m.module, m.base, m.base + m.text_size);
      if (!added) symbol_warnings_.push_back(fmt::format("ORC of module {}: {}", m.name, added.error().ToString()));
    }
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
  if (elf_symbols_) out += fmt::format("; {} symbols from {}", elf_symbols_->size(), vmlinux_);
  if (dwarf_) out += fmt::format("; types, globals and line numbers from its DWARF");
  if (kallsyms_ && !kallsyms_->symbols.scope().empty()) {
    out += fmt::format("; the {} symbols this triage file kept", kallsyms_->symbols.size());
  } else if (kallsyms_) {
    out += fmt::format("; {} symbols from kallsyms in the dump", kallsyms_->symbols.size());
  }
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

Result<std::vector<const TaskInfo*>> SelectTasks(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const TaskList* tl, s.Tasks());
  std::vector<const TaskInfo*> out;
  for (const std::string& a : args) {
    if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    }
    std::vector<const TaskInfo*> hits = tl->Match(a, false);
    if (hits.empty()) return Error(ErrorCode::kNotFound, fmt::format("invalid task or pid value: {}", a));
    out.insert(out.end(), hits.begin(), hits.end());
  }
  if (args.empty()) {
    CORONER_TRY(const TaskInfo* t, s.ContextTask());
    out.push_back(t);
  }
  return out;
}

}  // namespace coroner
