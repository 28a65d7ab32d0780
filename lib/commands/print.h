// `p EXPR`: a value of the kernel, printed as crash prints it (gdb's pretty layout).
// Expressions: a global, then any chain of .member, ->member and [index]; `&global`. A per-CPU
// variable takes crash's cpuspec, `name:N`, `name:N,M`, `name:a` (every CPU); without one, its
// type and per-CPU addresses are shown.
// Types come from the vmlinux's DWARF, else from the dump's BTF. BTF holds types, and the types
// of per-CPU variables, but not those of other globals, which come from a short table of
// well-known globals; anything else says so.
//
//   CORONER_TRY(PrintResult r, RunPrint(session, {"init_uts_ns.name.release"}));
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct PrintResult {
  std::string expression;    // as given, or "per_cpu(NAME, CPU)" for a per-CPU value
  bool bare_symbol = false;  // crash shows "name = $1 = value" for these
  int number = 0;            // the $N
  std::string type;          // C type of the value
  std::optional<uint64_t> address;
  std::string text;          // the value in gdb's layout
};

// A per-CPU variable printed without a cpuspec: its type and each CPU's address.
struct PerCpuInfo {
  std::string declaration;  // "int cpu_number"
  std::vector<uint64_t> addresses;
};

struct PrintOutput {
  std::vector<PrintResult> values;
  std::optional<PerCpuInfo> percpu;
};

Result<PrintOutput> RunPrint(const Session& s, const std::vector<std::string>& args);

// crash's cpuspec: "N", "N,M,...", "N-M", "a" or "all", for `cpus` CPUs.
Result<std::vector<int>> ParseCpuSpec(std::string_view spec, int cpus);

// The C type of a well-known global whose type BTF does not record, or nullopt.
std::optional<std::string> KnownGlobalType(std::string_view name);

}  // namespace coroner
