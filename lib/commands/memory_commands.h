// Memory commands: vtop, ptov, ptob, btop, rd. Each parses its arguments (crash's syntax) and
// returns a structured result; lib/render prints it in crash's layout or as JSON.
//
//   CORONER_TRY(RdOptions o, ParseRdArgs({"-32", "ffffffff81000000", "4"}));
//   CORONER_TRY(RdResult r, RunRd(session, o));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/arch/x86_64_paging.h"
#include "lib/base/error.h"
#include "lib/commands/kmem_address.h"
#include "lib/commands/session.h"

namespace coroner {

// Parses an address or number as crash does for addresses: hex, with or without 0x.
Result<uint64_t> ParseHexArg(const std::string& s);
// Parses a count: decimal, or hex with 0x.
Result<uint64_t> ParseCountArg(const std::string& s);

struct VtopResult {
  uint64_t va = 0;
  PhysAddr pa;
  uint64_t page_size = 0;
  uint64_t pgd_va = 0;  // the virtual address of the top-level table (init_top_pgt)
  std::vector<PageWalkStep> steps;
  std::optional<PageLine> page;  // the struct page (when the kernel's types can be read)
};
Result<std::vector<VtopResult>> RunVtop(const Session& s, const std::vector<std::string>& args);

struct PtovResult {
  uint64_t pa;
  uint64_t va;
};
Result<std::vector<PtovResult>> RunPtov(const Session& s, const std::vector<std::string>& args);

struct PageConvResult {
  uint64_t in;
  uint64_t out;
};
Result<std::vector<PageConvResult>> RunPtob(const Session& s, const std::vector<std::string>& args);
Result<std::vector<PageConvResult>> RunBtop(const Session& s, const std::vector<std::string>& args);

struct RdOptions {
  std::string address_text;   // a hex address, SYMBOL or SYMBOL+OFFSET (resolved by RunRd)
  uint64_t address = 0;
  uint64_t count = 1;
  unsigned unit = 8;          // bytes per value: 1, 2, 4, 8
  bool physical = false;      // -p
  bool user = false;          // -u: the current context's user address space
  bool ascii_string = false;  // -a
  bool symbolic = false;      // -s
  bool no_ascii = false;      // -x: no ASCII column
  bool decimal = false;       // -d: signed decimal
};
Result<RdOptions> ParseRdArgs(const std::vector<std::string>& args);

struct RdResult {
  RdOptions options;
  std::vector<std::byte> bytes;  // what was read (count*unit bytes, or the string for -a)
  std::optional<Error> stopped;  // a read error after some bytes were read
  // -s: per 8-byte value, "symbol+offset" (decimal, as crash) when it falls in the kernel's or a
  // module's symbol range, else "".
  std::vector<std::string> symbols;
  // -u: the task whose address space was read.
  std::optional<TaskInfo> task;
};
Result<RdResult> RunRd(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
