// `mod`: the loaded modules, as crash lists them (MODULE NAME BASE SIZE OBJECT FILE), sorted by
// struct module address. `mod -s NAME [FILE]` loads one module's debug file (a .ko with DWARF)
// into the session and lists that module; `mod -S [DIR]` does so for every module it finds a
// file for (in DIR, else the standard places, Session::ModuleDebuginfoCandidates).
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/modules.h"

namespace coroner {

struct ModRow {
  ModuleInfo module;
  std::string object_file;  // the debug file in use; empty: none loaded
  std::string checked;      // how it was matched to the loaded module
  // mod -S: why no file was loaded for this module (crash prints a line instead of a row).
  std::string error;
  bool not_found = false;   // no candidate file at all (crash's "cannot find or load")
};

struct ModResult {
  std::vector<ModRow> modules;
  size_t name_width = 4;  // crash sizes NAME to every loaded module, even for one row
};

Result<ModResult> RunMod(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
