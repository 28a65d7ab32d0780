// DWARF from a vmlinux, read with elfutils libdw: types (into the same TypeTable model BTF
// fills, so `struct`, `whatis` and `p` print identically whichever source is used), the types
// of global variables and functions, and source lines with inlined-call chains.
//
//   CORONER_TRY(auto dwarf, DwarfInfo::Open("vmlinux"));
//   const TypeTable& types = dwarf->types();
//   auto id = types.Find("struct task_struct");                 // converted on demand
//   auto var = dwarf->GlobalType("max_pfn", {0xffffffff8311e2a8}, true);
//   auto line = dwarf->LineAt(0xffffffff81c114f0);  // kernel/sched/core.c: 6654
//
// Kernel DWARF is large (160-300 MB of .debug_info in 2000+ compile units, one copy of every
// header type per unit) and has no name index (.debug_names) in GCC builds. Nothing is
// converted up front. A name index of the units' top-level DIEs (struct/union/enum/typedef/
// base type, variable, function) is built incrementally: a lookup scans further units only
// until the name is found (a whole scan is about half a second; common kernel types appear
// in the first units). A name that only a whole scan finds (or does not) makes the session
// write the full index to a file keyed by the build-id (DwarfOptions), which later sessions
// load instead of scanning. A type is converted when looked up; a named struct, union, enum or
// typedef reached through it is a placeholder filled in (TypeTable::Get) only when used, so
// `struct task_struct` converts one level of its members' types, not the kernel.
//
// Loaded modules' debug files (.ko, relocatable ELF) are added with AddModule: libdwfl applies
// their relocations with each allocated section at the address the kernel loaded it, so their
// addresses are the module's runtime ones. Their units are indexed after the vmlinux's, so a
// name both define (struct device) is the vmlinux's, and module-only names (struct virtio_blk,
// the module's globals) are found once the vmlinux's units have not answered.
//
// Named aggregates and typedefs are merged by name (the first definition found wins), as gdb
// does for `ptype struct x`; two different definitions of one name in separate units (rare in
// the kernel: file-local structs) are not told apart. Addresses are the vmlinux's own (before
// the KASLR slide).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/types.h"

namespace coroner {

struct SourceLine {
  std::string file;  // as the line table names it (crash prints it the same way)
  int line = 0;
};

// One inlined call around an address, innermost first: `function` was inlined, called from
// file:line.
struct InlinedCall {
  std::string function;
  std::string call_file;
  int call_line = 0;
};

// The name index can be kept on disk, keyed by the file's GNU build-id: the first session that
// has to index every unit (a name that is defined late, or nowhere) writes it, and later
// sessions load it instead of scanning once the first units have not answered a lookup.
struct DwarfOptions {
  std::string index_dir;            // empty: no index file
  size_t units_before_index = 64;   // units scanned before an index file is loaded
};

class DwarfInfo {
 public:
  // Fails with kNotFound if the file has no .debug_info (a stripped vmlinux).
  static Result<std::unique_ptr<DwarfInfo>> Open(const std::string& path, const DwarfOptions& options = {});
  // No vmlinux: only the modules added with AddModule (their lines, types and globals).
  static std::unique_ptr<DwarfInfo> CreateEmpty();
  ~DwarfInfo();
  DwarfInfo(const DwarfInfo&) = delete;
  DwarfInfo& operator=(const DwarfInfo&) = delete;

  // Adds a loaded module's debug file, each allocated section placed at `section_addresses`
  // (by section name: what /sys/module/NAME/sections shows; a section missing there is not
  // loaded). Lookups that found nothing before are retried in it.
  Result<void> AddModule(const std::string& path, const std::string& module_name,
                         const std::unordered_map<std::string, uint64_t>& section_addresses);

  // The type table, filled on demand.
  const TypeTable& types() const;

  // The type of the global variable `name`: the definition at one of `addresses` (vmlinux
  // addresses; a static variable has one per file), else, for a global symbol, a declaration
  // with a complete type. Functions give their function type. nullopt if DWARF has neither.
  std::optional<TypeId> GlobalType(std::string_view name, const std::vector<uint64_t>& addresses,
                                   bool global_symbol) const;

  // The line-table row for a text address, and the chain of inlined calls at it: a vmlinux
  // address, or (module named) a runtime address in that module added with AddModule.
  std::optional<SourceLine> LineAt(uint64_t address, std::string_view module = {}) const;
  std::vector<InlinedCall> InlinedCallsAt(uint64_t address, std::string_view module = {}) const;

  // Compile units indexed so far, of how many (for the banner and the bench).
  size_t units_scanned() const;
  size_t units_total() const;
  // The index file for this vmlinux (empty without a build-id or an index_dir), and whether
  // this session loaded it.
  const std::string& index_path() const;
  bool index_loaded() const;

 private:
  class Impl;
  explicit DwarfInfo(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coroner
