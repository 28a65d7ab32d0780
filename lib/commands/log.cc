#include "lib/commands/log.h"

#include <fmt/format.h>

#include "lib/commands/sys.h"

namespace coroner {

Result<LogResult> RunLog(const Session& s, const std::vector<std::string>& args) {
  LogResult r;
  for (const std::string& a : args) {
    if (a.size() < 2 || a[0] != '-' || a.find_first_not_of("tTmdc", 1) != std::string::npos) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("option {} is not supported (supported: -t -T -m -d -c; not -a, -s)", a));
    }
    for (char c : a.substr(1)) {
      switch (c) {
        case 't': r.options.timestamps = false; break;
        case 'T': r.options.human_time = true; break;
        case 'm': r.options.levels = true; break;
        case 'd': r.options.dictionary = true; break;
        default: r.options.caller = true; break;
      }
    }
  }
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());
  CORONER_TRY(r.log, ReadPrintkLog(*km, *s.dump().info.vmcoreinfo));
  if (r.options.human_time && r.options.timestamps) {
    r.boot_time = BootTime(s, &r.log);
    if (!r.boot_time) {
      return Error(ErrorCode::kNotFound, "log -T: the boot time is not known (it needs CRASHTIME in VMCOREINFO and jiffies)");
    }
  }
  if (r.options.caller) {
    if (r.log.format != "lockless ring buffer") {
      return Error(ErrorCode::kUnsupported, fmt::format("log -c: the {} keep no caller id", r.log.format));
    }
    if (auto k = s.GetKernel()) {
      if (auto pm = (*k)->SymbolAddress("pid_max")) {
        if (auto v = (*k)->ReadU32(*pm)) r.caller_width = *v <= 99999 ? 6 : *v <= 999999 ? 7 : 11;
      }
    }
  }
  return r;
}

}  // namespace coroner
