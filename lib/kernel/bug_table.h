// The kernel's BUG()/WARN() table (__start___bug_table .. __stop___bug_table): for the address of
// each ud2 the kernel puts there, the source file and line of the BUG/WARN, its flags and (7.x)
// the WARN format string. Entries use relative pointers (CONFIG_GENERIC_BUG_RELATIVE_POINTERS);
// member offsets come from BTF's struct bug_entry, which grew format_disp in 7.x.
//
//   CORONER_TRY(BugTable bugs, BugTable::Load(kernel));
//   if (auto b = bugs.Find(rip)) ... b->file, b->line, b->Warning()
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/kernel/kernel.h"

namespace coroner {

struct BugEntry {
  uint64_t addr = 0;  // the ud2
  std::string file;
  uint32_t line = 0;
  uint16_t flags = 0;
  std::string format;  // WARN's message format (7.x), "" before
  bool Warning() const { return flags & 1; }  // BUGFLAG_WARNING
  // "kernel BUG at mm/slub.c:123!" or "WARNING: at kernel/fork.c:45", as the kernel prints them.
  std::string Describe() const;
};

class BugTable {
 public:
  static Result<BugTable> Load(const Kernel& k);
  size_t size() const { return entries_.size(); }
  // The entry whose ud2 is at `addr`, with its file name read.
  std::optional<BugEntry> Find(uint64_t addr) const;
  // Every entry, in address order, with file names.
  std::vector<BugEntry> All() const;

 private:
  BugEntry Resolve(size_t i) const;
  const Kernel* k_ = nullptr;
  struct Raw {
    uint64_t addr;
    uint64_t file;
    uint64_t format;
    uint32_t line;
    uint16_t flags;
  };
  std::vector<Raw> entries_;  // sorted by addr
};

}  // namespace coroner
