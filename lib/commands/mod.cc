#include "lib/commands/mod.h"

#include <fmt/format.h>

#include <algorithm>

namespace coroner {
namespace {

ModRow RowOf(const Session& s, const ModuleInfo& m) {
  ModRow row;
  row.module = m;
  for (const ModuleDebuginfo& d : s.module_debuginfo()) {
    if (d.module == m.name) {
      row.object_file = d.path;
      row.checked = d.checked;
    }
  }
  return row;
}

}  // namespace

Result<ModResult> RunMod(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const std::vector<ModuleInfo>* loaded, s.Modules());
  std::vector<ModuleInfo> mods = *loaded;
  std::sort(mods.begin(), mods.end(), [](const ModuleInfo& a, const ModuleInfo& b) { return a.module < b.module; });
  ModResult r;
  for (const ModuleInfo& m : mods) r.name_width = std::max(r.name_width, m.name.size());
  if (args.empty()) {
    for (const ModuleInfo& m : mods) r.modules.push_back(RowOf(s, m));
    return r;
  }
  if (args[0] == "-s") {
    if (args.size() < 2 || args.size() > 3) {
      return Error(ErrorCode::kInvalidArgument, "usage: mod -s MODULE [OBJECT_FILE]");
    }
    CORONER_TRY(const ModuleDebuginfo* d, s.LoadModuleDebuginfo(args[1], args.size() == 3 ? args[2] : ""));
    for (const ModuleInfo& m : mods) {
      if (m.module == d->module_address) r.modules.push_back(RowOf(s, m));
    }
    return r;
  }
  if (args[0] == "-S") {
    if (args.size() > 2) return Error(ErrorCode::kInvalidArgument, "usage: mod -S [DIRECTORY]");
    std::string dir = args.size() == 2 ? args[1] : "";
    // As crash: a row for each module loaded, a line for each that was not.
    for (const ModuleInfo& m : mods) {
      auto d = s.LoadModuleDebuginfo(m.name, dir);
      ModRow row = RowOf(s, m);
      if (!d) {
        row.error = d.error().message();
        row.not_found = d.error().code() == ErrorCode::kNotFound;
      }
      r.modules.push_back(std::move(row));
    }
    return r;
  }
  return Error(ErrorCode::kUnsupported,
               fmt::format("mod {}: not supported (supported: mod, mod -s MODULE [FILE], mod -S [DIRECTORY])", args[0]));
}

}  // namespace coroner
