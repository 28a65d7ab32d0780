// Runs one command line against a session: splits it into words, finds the command, runs it,
// and renders its result as text (crash's layout) or JSON. The front-end (REPL, batch mode)
// calls only this.
//
//   auto out = ExecuteCommand(session, "rd -32 ffffffff81000000 4", /*json=*/false);
//   if (out) std::cout << *out; else std::cerr << out.error().ToString();
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/base/error.h"
#include "lib/commands/session.h"

namespace coroner {

Result<std::string> ExecuteCommand(const Session& session, std::string_view line, bool json);
// Names of the commands this build supports (help, completion).
std::vector<std::string> CommandNames();
// Splits a command line into words (quotes group words).
std::vector<std::string> SplitCommandLine(std::string_view line);

}  // namespace coroner
