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
  // In a subset table (a triage file's): how far the symbol reaches, i.e. the distance to the
  // next symbol of the whole table it was taken from (kLastSymbol for that table's last);
  // addresses past it are not known here. 0 in a complete table.
  uint64_t extent = 0;
  static constexpr uint64_t kLastSymbol = ~uint64_t{0};

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
    // Adds a copy of one symbol (its extent too).
    void Add(const Symbol& s);
    // Adds every symbol of another table (to extend the kernel's with modules'); a subset
    // table's scope comes along.
    void AddAll(const SymbolTable& other);
    // Marks the table as a subset: what it lacks is explained by `scope` (see scope()).
    void set_scope(std::string scope) { scope_ = std::move(scope); }
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
      uint64_t extent;
      char type;
      bool has_size;
      bool percpu;
    };
    std::vector<char> names_;
    std::vector<Entry> entries_;
    std::string scope_;
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

  // Empty for a complete table. For a subset (a triage file keeps only the symbols its
  // analysis used) why symbols are missing; lookups by address answer only within the kept
  // symbols' extents, and name lookups that fail say this.
  const std::string& scope() const { return scope_; }

  // While `marks` is set, every lookup marks the symbols it answers with (marks[i] for
  // symbols()[i], and every symbol at the same address), so that a subset can keep exactly
  // them; nullptr stops recording. Iterating symbols() is not recorded.
  void RecordUse(std::vector<bool>* marks) const;

 private:
  void Mark(size_t index) const;
  void MarkAt(const Symbol* s) const { if (use_) Mark(static_cast<size_t>(s - symbols_.data())); }

  std::vector<char> names_;        // every name, back to back (stable storage)
  std::vector<Symbol> symbols_;    // address order
  std::vector<uint32_t> by_name_;  // indexes into symbols_, name order
  std::string scope_;
  mutable std::vector<bool>* use_ = nullptr;
};

// A subset of a table as bytes (a triage file's CORONER note type 3): `keep` (symbols of
// `table`, the kernel's own) with their extents in `table`, in table order.
std::vector<std::byte> WriteSymbolSubset(const SymbolTable& table, const std::vector<bool>& keep);
// Reads such bytes back (untrusted: every length and order is checked) into a subset table
// whose scope() is `scope`.
Result<SymbolTable> ReadSymbolSubset(std::span<const std::byte> bytes, std::string scope);

// `message`, followed by " (scope)" when `table` is a subset: a lookup that fails there says why.
std::string WithScope(const SymbolTable& table, std::string message);

}  // namespace coroner
