// Loaded modules from the kernel's `modules` list: name, struct module address, where the core
// text starts and the size /proc/modules reports (core_layout before 6.4, mem[] after).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/debuginfo/symbol_table.h"
#include "lib/kernel/kernel.h"

namespace coroner {

struct ModuleInfo {
  uint64_t module = 0;  // struct module
  std::string name;
  uint64_t base = 0;    // core text (the address /proc/modules prints)
  uint64_t size = 0;    // core size, as /proc/modules
  uint64_t text_size = 0;  // the core text at `base` (MOD_TEXT, or core_layout.text_size)
  uint64_t state = 0;   // MODULE_STATE_LIVE 0, COMING 1, GOING 2, UNFORMED 3
  uint64_t taints = 0;
};

Result<std::vector<ModuleInfo>> ReadModules(const Kernel& k);

// Where the kernel placed each of a module's allocated ELF sections: mod->sect_attrs, what
// /sys/module/NAME/sections/ shows (CONFIG_KALLSYMS + CONFIG_SYSFS). The layout is probed:
// struct module_sect_attr {battr, address} (5.8+) or {mattr, name, address} (before), else
// (kernels that dropped module_sect_attr) each bin_attribute of the group with the address in
// its private field. Init sections keep the address they had before being freed.
struct ModuleSection {
  std::string name;
  uint64_t address = 0;
};
Result<std::vector<ModuleSection>> ReadModuleSections(const Kernel& k, const ModuleInfo& m);

// The loaded module's GNU build ID (hex), from its .note.gnu.build-id section in memory.
Result<std::string> ReadModuleBuildId(const Kernel& k, const std::vector<ModuleSection>& sections);
// mod->srcversion (empty when the module has none).
Result<std::string> ReadModuleSrcversion(const Kernel& k, const ModuleInfo& m);

// Adds each module's symbols (mod->kallsyms: its ELF symtab, strtab and the type letters
// /proc/kallsyms shows) to `b`, tagged with the module name. A module whose symbols cannot be
// read is skipped with a warning naming it.
void AddModuleSymbols(const Kernel& k, const std::vector<ModuleInfo>& mods, SymbolTable::Builder& b,
                      std::vector<std::string>& warnings);

}  // namespace coroner
