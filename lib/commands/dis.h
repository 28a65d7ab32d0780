// `dis`: x86_64 disassembly of kernel text, laid out as crash 8.0.2 prints it (gdb's AT&T
// syntax through crash's filter):
//
//   0xffffffff81a114f0 <schedule>:	nopl   0x0(%rax,%rax,1) [FTRACE NOP]
//   0xffffffff81a1152e <schedule+62>:	call   0xffffffff81543e90 <__blk_flush_plug>
//
//   dis SYMBOL        the whole function          dis ADDR|SYMBOL+OFF [COUNT]  COUNT (1) instructions
//   dis -r ADDR       function start up to ADDR   dis -f ADDR                  ADDR to the function end
//   dis -l ...        with "file: line" lines where the line changes (needs DWARF)
//
// Bytes come from the dump's memory (live text, so ftrace's nops and alternatives are what ran),
// or from the vmlinux when the page is not in the dump.
//
//   CORONER_TRY(DisResult r, RunDis(session, {"-l", "schedule"}));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct DisLine {
  uint64_t address = 0;
  std::string location;            // "schedule+5" (crash's value_to_symstr, decimal offset)
  std::string bytes;               // hex bytes, for --json
  std::string instruction;         // "mov    0x18(%rbx),%eax", with <sym> and # comments
  std::optional<std::string> source;  // "file: line" (with -l and DWARF)
};

struct DisResult {
  std::vector<DisLine> lines;
  bool line_numbers = false;
  std::vector<std::string> notes;  // e.g. why there are no line numbers
};

Result<DisResult> RunDis(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
