#include "lib/commands/log.h"

#include <fmt/format.h>

namespace coroner {

Result<LogResult> RunLog(const Session& s, const std::vector<std::string>& args) {
  LogResult r;
  for (const std::string& a : args) {
    if (a == "-t") {
      r.options.timestamps = false;
    } else if (a == "-m") {
      r.options.levels = true;
    } else if (a.size() > 1 && a[0] == '-' && a.find_first_not_of("tm", 1) == std::string::npos) {
      for (char c : a.substr(1)) (c == 't' ? r.options.timestamps = false : r.options.levels = true);
    } else {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    }
  }
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());
  CORONER_TRY(r.log, ReadPrintkLog(*km, *s.dump().info.vmcoreinfo));
  return r;
}

}  // namespace coroner
