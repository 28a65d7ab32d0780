// Typed access to kernel data structures: a member's offset and type by name, values read by
// their declared size, per-CPU variables and list_head walks. Built on any TypeTable (BTF from
// the dump, DWARF later) and any SymbolTable, so walkers (tasks, modules, memory) never hard-code
// a layout and work the same on every kernel version the types describe.
//
//   Kernel k(mem, types, syms);
//   CORONER_TRY(uint64_t pid, k.ReadField(task, "task_struct", "pid"));
//   CORONER_TRY(auto children, k.ListEntries(head, "task_struct", "sibling"));
//   CORONER_TRY(uint64_t rq, k.PerCpuAddress("runqueues", 1));
//
// Every read names what it was reading, so "garbage in a kernel list" becomes an error such as
// "task_struct.tasks list at 0xffff...: entry 0x0 is not a kernel address".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/symbol_table.h"
#include "lib/debuginfo/types.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {

// Where a (possibly nested, dotted) member lives in its structure.
struct Field {
  uint64_t offset = 0;     // bytes from the start of the structure
  TypeId type = 0;         // the member's declared type
  uint64_t size = 0;       // bytes (0 for a function or incomplete type)
  uint32_t bit_shift = 0;  // bitfields: bits above `offset`
  uint32_t bit_size = 0;   // non-zero for a bitfield
};

class Kernel {
 public:
  Kernel(const VirtualMemory& mem, const TypeTable& types, const SymbolTable& syms)
      : mem_(mem), types_(types), syms_(syms) {}

  const VirtualMemory& memory() const { return mem_; }
  const TypeTable& types() const { return types_; }
  const SymbolTable& symbols() const { return syms_; }
  // Why the types are empty (no BTF and no DWARF): structure lookups fail with this.
  void set_no_types_reason(std::string reason) { no_types_reason_ = std::move(reason); }
  // The types are a part of the kernel's (a triage file's subset): said with every type not found.
  void set_types_scope(std::string scope) { types_scope_ = std::move(scope); }
  // Why the types may lack one the user asks for (a triage file's subset), or empty.
  const std::string& types_scope() const { return types_scope_; }

  // A structure type by bare name ("task_struct"), or kNotFound.
  Result<TypeId> StructType(std::string_view name) const;
  Result<uint64_t> SizeOf(std::string_view struct_name) const;
  // "pid", "thread_info.cpu", "se.sum_exec_runtime": anonymous structs/unions are looked
  // through. Cached.
  Result<Field> FieldOf(std::string_view struct_name, std::string_view path) const;
  bool HasField(std::string_view struct_name, std::string_view path) const;
  // The first of several spellings a member has had across kernel versions.
  Result<std::string_view> FirstField(std::string_view struct_name,
                                      std::initializer_list<std::string_view> paths) const;

  // Reads an integer, pointer or enum member by its declared size (bitfields too), as unsigned.
  Result<uint64_t> ReadField(uint64_t addr, std::string_view struct_name, std::string_view path) const;
  // The same, sign-extended from the member's size when its type is signed.
  Result<int64_t> ReadSignedField(uint64_t addr, std::string_view struct_name, std::string_view path) const;
  // A char array member, up to its first NUL ("comm").
  Result<std::string> ReadCharArray(uint64_t addr, std::string_view struct_name, std::string_view path) const;
  // The address of a member (addr + offset).
  Result<uint64_t> FieldAddress(uint64_t addr, std::string_view struct_name, std::string_view path) const;

  // The value of an enumerator of any enum in the types ("NR_FREE_PAGES").
  Result<int64_t> EnumValue(std::string_view enumerator) const;

  Result<uint64_t> ReadU64(uint64_t addr) const { return mem_.ReadU64(addr); }
  Result<uint32_t> ReadU32(uint64_t addr) const { return mem_.ReadU32(addr); }
  Result<uint64_t> ReadUnsigned(uint64_t addr, uint64_t size) const;

  Result<uint64_t> SymbolAddress(std::string_view name) const { return syms_.AddressOf(name); }
  // The CPUs with a per-CPU area (__per_cpu_offset[i] set), up to nr_cpu_ids.
  Result<int> PossibleCpus() const;
  Result<uint64_t> PerCpuOffset(int cpu) const;
  // A per-CPU variable's address on one CPU.
  Result<uint64_t> PerCpuAddress(std::string_view symbol, int cpu) const;

  // Walks a circular list_head starting at `head` (not itself an entry) and returns the address
  // of each containing structure (container_of(entry, struct_name, member)). Stops with an error
  // on a non-kernel pointer, a loop that does not return to head, or more than `limit` entries.
  Result<std::vector<uint64_t>> ListEntries(uint64_t head, std::string_view struct_name,
                                            std::string_view member, size_t limit = 1 << 20) const;

 private:
  const VirtualMemory& mem_;
  const TypeTable& types_;
  const SymbolTable& syms_;
  mutable std::map<std::string, std::optional<Field>, std::less<>> fields_;
  mutable std::optional<int> possible_cpus_;
  mutable std::map<std::string, std::pair<int64_t, TypeId>, std::less<>> enumerators_;  // value, its enum
  mutable std::vector<uint64_t> percpu_offsets_;
  std::string no_types_reason_;
  std::string types_scope_;
};

// True for an address in the kernel half of x86_64's address space (5-level paging puts it
// as low as 0xff00000000000000).
inline bool IsKernelAddress(uint64_t a) { return a >= 0xff00000000000000ull; }

}  // namespace coroner
