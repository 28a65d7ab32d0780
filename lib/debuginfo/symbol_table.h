// A kernel symbol table: name, address, size (when the source knows it), the nm/kallsyms type
// letter, and whether the symbol is per-CPU. Built once from any source (kallsyms decoded from
// dump memory, a vmlinux .symtab, later module symbols), then queried through indexes sorted
// once at Build():
//
//   SymbolTable::Builder b;
//   b.Add("schedule", 0xffffffff81cc3500, 'T');
//   SymbolTable table = std::move(b).Build();
//   const Symbol* s = table.Find("schedule");              // preferred match (global first)
//   std::optional<SymbolMatch> m = table.LookupAddress(0xffffffff81cc3510);  // schedule+0x10
//   for (const Symbol& sym : table.symbols()) ...          // address order, like crash `sym -l`
//   for (const Symbol* sym : table.WithPrefix("sched")) ...  // name order, for completion
//
// Type letters follow nm(1) and /proc/kallsyms: T/t text, D/d data, B/b bss, R/r read-only data,
// A/a absolute, W/w weak (V/v weak object), upper case = global, lower case = local. Kernels
// with CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP up to 6.14) report per-CPU symbols as 'A'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/error.h"

namespace coroner {

struct Symbol {
  std::string_view name;  // owned by the SymbolTable
  uint64_t address = 0;
  uint64_t size = 0;      // meaningful only when has_size
  bool has_size = false;  // kallsyms has no sizes; ELF does
  char type = '?';        // nm / kallsyms type letter
  bool percpu = false;    // lives in the per-CPU area ([__per_cpu_start, __per_cpu_end))
  std::string_view module;  // the module it belongs to; empty for the kernel image

  // nm's convention: upper-case letters are global (or weak) symbols.
  bool IsGlobal() const { return type >= 'A' && type <= 'Z'; }
  bool IsWeak() const { return type == 'W' || type == 'w' || type == 'V' || type == 'v'; }
  bool IsText() const { return type == 'T' || type == 't' || type == 'W' || type == 'w'; }
};

// The symbol an address falls in (or after), and how far into it.
struct SymbolMatch {
  const Symbol* symbol = nullptr;
  uint64_t offset = 0;
  // False when the table knows the symbol's size and the address is past its end (the address
  // is in a gap after the symbol; crash still prints it as symbol+offset).
  bool inside = true;
};

class SymbolTable {
 public:
  class Builder {
   public:
    void Reserve(size_t symbols, size_t name_bytes);
    // Adds one symbol; names are copied. Order of addition breaks ties between symbols at one
    // address (earlier first) after the preference rules of Build().
    void Add(std::string_view name, uint64_t address, char type,
             std::optional<uint64_t> size = std::nullopt, bool percpu = false,
             std::string_view module = {});
    // Adds every symbol of another table (to extend the kernel's with modules').
    void AddAll(const SymbolTable& other);
    size_t size() const { return entries_.size(); }
    // Sorts and indexes. O(n log n); the builder is consumed.
    SymbolTable Build() &&;

   private:
    struct Entry {
      uint64_t address;
      uint64_t size;
      uint32_t name_offset;
      uint32_t name_length;
      uint32_t module_offset;
      uint32_t module_length;
      char type;
      bool has_size;
      bool percpu;
    };
    std::vector<char> names_;
    std::vector<Entry> entries_;
  };

  SymbolTable() = default;
  SymbolTable(SymbolTable&&) = default;
  SymbolTable& operator=(SymbolTable&&) = default;
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  size_t size() const { return symbols_.size(); }
  bool empty() const { return symbols_.empty(); }

  // Every symbol in address order; symbols at one address are in preference order (non-weak
  // before weak, then fewer leading underscores, then source order), as the kernel's
  // scripts/kallsyms orders them.
  std::span<const Symbol> symbols() const { return symbols_; }

  // All symbols with this exact name, preferred first: global before weak before local, then
  // by address.
  std::vector<const Symbol*> Lookup(std::string_view name) const;
  // The preferred symbol of that name, or nullptr.
  const Symbol* Find(std::string_view name) const;
  // The preferred symbol's address, or a kNotFound error naming the symbol.
  Result<uint64_t> AddressOf(std::string_view name) const;

  // The symbol containing `address`, or else the nearest one below it (the first, in
  // preference order, of the symbols at the highest address <= `address`). nullopt when
  // `address` is below every symbol.
  std::optional<SymbolMatch> LookupAddress(uint64_t address) const;
  // The index in symbols() of the first symbol at an address >= `address` (for iteration
  // "from here", as crash's `sym -l` range forms do).
  size_t LowerBound(uint64_t address) const;
  // Distance from a symbol to the next higher symbol address (the kernel's own estimate of a
  // symbol's size when it has none, as kallsyms_lookup_size_offset does); nullopt for the last.
  std::optional<uint64_t> DistanceToNext(const Symbol& symbol) const;

  // Symbols whose name starts with `prefix`, in name order (then preference order), at most
  // `limit` of them.
  std::vector<const Symbol*> WithPrefix(std::string_view prefix,
                                        size_t limit = std::numeric_limits<size_t>::max()) const;

 private:
  std::vector<char> names_;        // every name, back to back (stable storage)
  std::vector<Symbol> symbols_;    // address order
  std::vector<uint32_t> by_name_;  // indexes into symbols_, name order
};

}  // namespace coroner
