// A Session owns one opened dump and everything derived from it (kernel address space, later
// symbols and types). No globals: one process can hold several sessions.
//
//   CORONER_TRY(auto session, Session::Open({"vmcore"}));
//   if (const KernelMemory* km = session->kernel_memory()) km->ReadU64(addr);
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/dwarf_info.h"
#include "lib/debuginfo/kallsyms.h"
#include "lib/debuginfo/symbol_table.h"
#include "lib/debuginfo/types.h"
#include "lib/dump/dump.h"
#include "lib/kernel/bug_table.h"
#include "lib/kernel/kernel.h"
#include "lib/kernel/modules.h"
#include "lib/kernel/orc.h"
#include "lib/kernel/tasks.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {

// How a session finds and uses a vmlinux.
struct SessionOptions {
  std::string vmlinux;                      // given by the user; empty: look for one
  std::vector<std::string> debuginfo_dirs;  // searched before the standard places
  bool find_vmlinux = true;                 // look in the standard places when none is given
  // Where the standard places are (tests point this elsewhere); empty = "/".
  std::string root = "/";
  // Where DWARF name indexes are kept (by build-id); empty: none.
  std::string index_dir;
};

// A loaded module whose debug file (`mod -s`) the session uses.
struct ModuleDebuginfo {
  std::string module;           // its name
  uint64_t module_address = 0;  // struct module
  std::string path;
  std::string checked;          // how the file was matched: "build ID 1234...", "srcversion ...", or why it was not
  // Its allocated sections in memory [start, end), without a live module's freed init sections.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> Open(const std::vector<std::string>& dump_files);
  // Over an already-open dump (its memory may be any PhysicalMemory: the triage file's
  // recording wrapper, a test's fake), with no vmlinux.
  static Result<std::unique_ptr<Session>> FromDump(std::unique_ptr<Dump> dump);
  // With a vmlinux (given or found): symbols from its symtab (KASLR-relocated), types, globals
  // and lines from its DWARF, after checking linux_banner in the dump against the file. A
  // mismatched vmlinux is refused; a vmlinux without DWARF still gives symbols. What happened
  // is in notes(); the dump's own kallsyms and BTF are used for whatever the vmlinux cannot give.
  static Result<std::unique_ptr<Session>> Open(const std::vector<std::string>& dump_files,
                                               const SessionOptions& options);

  // The vmlinux in use (empty if none), its DWARF (nullptr if none), and messages about it.
  const std::string& vmlinux() const { return vmlinux_; }
  const DwarfInfo* dwarf() const { return dwarf_.get(); }
  const std::vector<std::string>& notes() const { return notes_; }
  // The KASLR slide (KERNELOFFSET), 0 if none.
  uint64_t kaslr_offset() const;

  // The type of a global variable or function, from DWARF (nullopt without DWARF or if DWARF
  // does not have it).
  std::optional<TypeId> GlobalType(std::string_view name) const;
  // Source file and line of a kernel text address (needs DWARF: the vmlinux's, or a module's
  // loaded with LoadModuleDebuginfo).
  Result<SourceLine> LineAt(uint64_t address) const;
  // Whether any line numbers are known (a vmlinux with DWARF, or a module's debug file).
  bool HasLineInfo() const { return dwarf_ || module_dwarf_; }

  // crash's `mod -s NAME [FILE]`: uses a loaded module's debug file (a .ko with DWARF) from
  // now on: its lines, and (with a vmlinux's DWARF, whose type table it joins) its types and
  // globals. Without FILE the standard places are searched (ModuleDebuginfoCandidates). The
  // file must be this module: its build ID (else srcversion) must equal the loaded one's.
  // Const like SetContext: it changes what the session knows, not the dump.
  Result<const ModuleDebuginfo*> LoadModuleDebuginfo(std::string_view name, const std::string& path) const;
  const std::deque<ModuleDebuginfo>& module_debuginfo() const { return module_debuginfo_; }
  // Where a module's debug file is looked for, in order: the --debuginfo-dir directories, the
  // vmlinux's directory (and its modules/), `coroner debuginfo fetch`'s cache (~/.cache/coroner/debuginfo/RELEASE/modules), then
  // ROOT/usr/lib/debug/lib/modules/RELEASE and ROOT/lib/modules/RELEASE (searched through).
  std::vector<std::string> ModuleDebuginfoCandidates(std::string_view name) const;
  // The vmlinux places looked at for a release, in order.
  static std::vector<std::string> VmlinuxCandidates(const std::string& release, const SessionOptions& options);

  const Dump& dump() const { return *dump_; }
  const PhysicalMemory& physical() const { return *dump_->memory; }
  // The kernel's virtual address space, or nullptr with the reason in kernel_memory_error().
  const KernelMemory* kernel_memory() const { return kmem_.get(); }
  const std::string& kernel_memory_error() const { return kmem_error_; }
  // Kernel memory or an error saying why there is none.
  Result<const KernelMemory*> RequireKernelMemory() const;

  // Kernel symbols, decoded from the dump's kallsyms on first use.
  Result<const SymbolTable*> Symbols() const;
  // The kernel's symbols plus every loaded module's (from the module list), built on first use;
  // the kernel's alone, with a warning in symbol_warnings(), when the modules cannot be read.
  Result<const SymbolTable*> AllSymbols() const;
  const std::vector<std::string>& symbol_warnings() const { return symbol_warnings_; }
  // The dump's linux_banner (from its own kallsyms), without the trailing newline.
  Result<std::string> DumpBanner() const;
  // The kernel image's GNU build ID (hex), from its .notes section in memory.
  Result<std::string> KernelBuildId() const;

  // SYMBOL or SYMBOL+OFFSET (decimal or 0x hex), kernel or module, to an address.
  Result<uint64_t> ResolveSymbol(std::string_view text) const;
  // The loaded modules (the kernel's `modules` list), read once.
  Result<const std::vector<ModuleInfo>*> Modules() const;
  // Kernel types, from the dump's own BTF (__start_BTF..__stop_BTF) on first use.
  Result<const TypeTable*> Types() const;
  // The dump's own BTF types, whatever else the session has.
  Result<const TypeTable*> BtfTypes() const;
  // Typed access to kernel structures (needs symbols and types), built on first use.
  Result<const Kernel*> GetKernel() const;
  // Every task, read once (ps, sys, bt, foreach share it).
  Result<const TaskList*> Tasks() const;
  // The CPU that panicked (panic_cpu), -1 if none did.
  int PanicCpu() const;
  // The current context (crash's `set`): the task chosen with SetContext, else the panic task
  // (the active task of the panic CPU, or of CPU 0).
  Result<const TaskInfo*> ContextTask() const;
  Result<void> SetContext(uint64_t task) const;

  // The kernel's ORC unwind tables and every loaded module's, read from memory once (a module
  // whose table cannot be read is left out, with a warning in symbol_warnings()).
  Result<const OrcTable*> Orc() const;
  // The BUG()/WARN() table, read once.
  Result<const BugTable*> Bugs() const;
  // Where symbols and types come from, for the banner.
  std::string SourcesDescription() const;

  // coroner's own note of this type (elf_notes.h: a triage file's), or nullptr.
  const ElfNote* CoronerNote(uint32_t type) const;

  // --minimal: only commands that need no kernel data-structure walks (see MinimalCommands()).
  void set_minimal(bool m) { minimal_ = m; }
  bool minimal() const { return minimal_; }

  // The next $N for `p` output.
  int NextValueNumber() const { return ++value_number_; }

  // A task's user address space (its mm's page tables); an error for a kernel thread.
  Result<UserMemory> UserMemoryOf(const TaskInfo& t) const;

  // The direct map's base (page_offset_base), found once.
  Result<uint64_t> PageOffsetBase() const;
  // Where PageOffsetBase came from, for messages ("mem_section in VMCOREINFO", ...).
  const std::string& page_offset_source() const { return page_offset_source_; }

 private:
  void UseVmlinux(const std::string& path, const std::string& index_dir);
  const ModuleDebuginfo* ModuleDebuginfoAt(uint64_t address) const;
  // Appends every loaded module's BTF (module.btf_data) to the BTF types, once the kernel can
  // read the module list.
  void AddModuleBtf() const;

  std::unique_ptr<Dump> dump_;
  mutable bool btf_is_subset_ = false;  // the types are a triage file's BTF subset
  std::string vmlinux_;
  std::unique_ptr<DwarfInfo> dwarf_;
  // Without a vmlinux's DWARF: the modules' debug files alone (for their line numbers).
  mutable std::unique_ptr<DwarfInfo> module_dwarf_;
  mutable std::deque<ModuleDebuginfo> module_debuginfo_;  // stable addresses
  SessionOptions options_;
  std::vector<std::string> notes_;
  mutable std::optional<SymbolTable> elf_symbols_;
  std::unique_ptr<KernelMemory> kmem_;
  std::string kmem_error_;
  mutable std::optional<Kallsyms> kallsyms_;
  mutable std::optional<Error> kallsyms_error_;
  mutable std::optional<TypeTable> types_;
  mutable std::vector<std::byte> btf_blob_;  // the kernel's BTF, the base of the modules' BTF
  mutable std::optional<Error> types_error_;
  // With no types at all (no BTF, no DWARF): the empty table the kernel layer gets, so that
  // what needs only symbols and memory still works and the rest says why it cannot.
  mutable std::optional<TypeTable> no_types_;
  mutable std::optional<uint64_t> page_offset_base_;
  mutable std::unique_ptr<Kernel> kernel_;
  mutable std::optional<SymbolTable> all_symbols_;
  mutable std::optional<Result<std::vector<ModuleInfo>>> modules_;
  mutable std::vector<std::string> symbol_warnings_;
  mutable std::optional<TaskList> tasks_;
  mutable std::optional<OrcTable> orc_;
  mutable std::optional<BugTable> bugs_;
  mutable std::optional<Error> bugs_error_;
  mutable std::optional<Error> orc_error_;
  mutable std::optional<Error> tasks_error_;
  mutable int value_number_ = 0;
  bool minimal_ = false;
  mutable uint64_t context_task_ = 0;
  mutable std::string page_offset_source_;
};

// The tasks a command's arguments name: PIDs (decimal) or task addresses (hex); none selects
// the current context (set, else the panic task), as crash does. An option or a value that names
// no task is an error.
Result<std::vector<const TaskInfo*>> SelectTasks(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
