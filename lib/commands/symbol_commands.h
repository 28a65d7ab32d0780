// sym, struct/union and whatis: symbols from kallsyms and types from BTF, both read from the
// dump itself (no vmlinux needed).
//
//   CORONER_TRY(SymResult r, RunSym(session, {"jiffies"}));   // ffffffff87c079c0 (D) jiffies
//   CORONER_TRY(StructResult s, RunStruct(session, {"-o", "task_struct"}, "struct"));
#pragma once

#include <cstdint>
#include <optional>
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

// One member picked out of a structure at an address, as crash shows it: the member's line(s)
// as they stand in the whole structure's printout (`indent` spaces; a comma unless it is the
// last member of the structure or anonymous aggregate that holds it).
struct StructMemberValue {
  std::string spec;  // as given: "pid", "se.on_rq", "pids[2]"
  int indent = 2;
  std::string value;  // gdb's layout; nested lines already indented from `indent`
  bool comma = false;
};

// One structure at an address (`struct NAME ADDR [COUNT]`).
struct StructInstance {
  uint64_t address = 0;
  std::optional<int> cpu;             // with a cpuspec: the CPU whose copy this is
  std::optional<std::string> value;   // the whole structure, gdb's layout
  std::vector<StructMemberValue> members;  // NAME.m1,m2: just those members
};

struct StructResult {
  const TypeTable* types = nullptr;
  TypeId id = 0;
  bool offsets = false;
  std::string symbol;  // whatis of a global: its declaration "type name;"
  std::string kind = "struct";        // struct / union
  std::vector<std::string> members;   // NAME.m1,m2 (without an address: their layout lines)
  bool has_address = false;
  std::string notice;                 // a line crash prints before the result
  bool hex = false;                   // -x: integers, offsets and the size in hexadecimal
  std::vector<StructInstance> instances;
};
// crash's struct / union command:
//   struct NAME[.member[,member...]] [-o] [-x|-d] [-l OFFSET|struct.member] [ADDR|SYMBOL[:cpuspec]]
//          [COUNT|-c COUNT]
// Without an address: the layout (-o: with offsets; .member: just those members, with their
// offsets). With one: the structure in gdb's layout (-o: each member's address), COUNT
// consecutive ones (negative: the ones leading up to it), or only the named members ("se.on_rq",
// "pids[2]" reach into embedded structures and arrays). kind = "struct" / "union".
Result<StructResult> RunStruct(const Session& s, const std::vector<std::string>& args, const char* kind);
// crash's "*" pointer-to command: `*NAME ...` is `struct NAME ...` or `union NAME ...`, whichever
// the type is.
Result<StructResult> RunPointerTo(const Session& s, const std::string& name, const std::vector<std::string>& args);
// True when `word` (NAME or NAME.member) names a struct or union, so that crash's short form
// `NAME ADDR` (the command name dropped) can run struct on it.
bool NamesAggregate(const Session& s, const std::string& word);
// `whatis NAME`: a type's definition.
Result<StructResult> RunWhatis(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
