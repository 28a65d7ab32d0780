// `mod`: the loaded modules, as crash lists them (MODULE NAME BASE SIZE OBJECT FILE), sorted by
// struct module address. Module debuginfo loading (-s/-S) is not supported yet.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/modules.h"

namespace coroner {

struct ModResult {
  std::vector<ModuleInfo> modules;
};

Result<ModResult> RunMod(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
