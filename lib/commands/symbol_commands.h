// sym, struct/union and whatis: symbols from kallsyms and types from BTF, both read from the
// dump itself (no vmlinux needed).
//
//   CORONER_TRY(SymResult r, RunSym(session, {"jiffies"}));   // ffffffff87c079c0 (D) jiffies
//   CORONER_TRY(StructResult s, RunStruct(session, {"-o", "task_struct"}, "struct"));
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct SymLine {
  uint64_t address = 0;
  char type = '?';
  std::string name;
  uint64_t offset = 0;  // for an address that is inside a symbol
  std::string module;   // "" for the kernel image
  std::string source;   // "file: line" of a text address, with DWARF (crash prints it)
};

struct SymResult {
  std::vector<SymLine> lines;
};
Result<SymResult> RunSym(const Session& s, const std::vector<std::string>& args);

struct StructResult {
  const TypeTable* types = nullptr;
  TypeId id = 0;
  bool offsets = false;
  std::string symbol;  // whatis of a global: its declaration "type name;"
};
// `struct NAME`, `union NAME` (kind = "struct" / "union"), `-o` for offsets.
Result<StructResult> RunStruct(const Session& s, const std::vector<std::string>& args, const char* kind);
// `whatis NAME`: a type's definition.
Result<StructResult> RunWhatis(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
