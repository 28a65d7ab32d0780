// `p EXPR`: a value of the kernel, printed as crash prints it (gdb's pretty layout).
// Expressions: a global, then any chain of .member, ->member and [index]; `&global`.
// Types come from the dump's BTF. BTF holds types but not the types of ordinary global
// variables, so those come from a short table of well-known globals (per-CPU variables are in
// BTF but not handled yet); anything else says so.
//
//   CORONER_TRY(PrintResult r, RunPrint(session, {"init_uts_ns.name.release"}));
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct PrintResult {
  std::string expression;
  bool bare_symbol = false;  // crash shows "name = $1 = value" for these
  int number = 0;            // the $N
  std::string type;          // C type of the value
  std::optional<uint64_t> address;
  std::string text;          // the value in gdb's layout
};

Result<PrintResult> RunPrint(const Session& s, const std::vector<std::string>& args);

// The C type of a well-known global whose type BTF does not record, or nullopt.
std::optional<std::string> KnownGlobalType(std::string_view name);

}  // namespace coroner
