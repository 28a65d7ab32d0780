#include "lib/commands/mod.h"

#include <fmt/format.h>

#include <algorithm>

namespace coroner {

Result<ModResult> RunMod(const Session& s, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("mod {}: only the module list is supported yet (loading module "
                             "debuginfo with -s/-S is not)", args[0]));
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  ModResult r;
  CORONER_TRY(r.modules, ReadModules(*k));
  std::sort(r.modules.begin(), r.modules.end(),
            [](const ModuleInfo& a, const ModuleInfo& b) { return a.module < b.module; });
  return r;
}

}  // namespace coroner
