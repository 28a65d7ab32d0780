#include "lib/kernel/modules.h"

#include <fmt/format.h>

namespace coroner {
namespace {

// enum mod_mem_type (6.4+): MOD_TEXT .. MOD_RO_AFTER_INIT are core, the MOD_INIT_* are freed.
constexpr uint64_t kCoreMemTypes = 4;

}  // namespace

Result<std::vector<ModuleInfo>> ReadModules(const Kernel& k) {
  CORONER_TRY(uint64_t head, k.SymbolAddress("modules"));
  CORONER_TRY(std::vector<uint64_t> mods, k.ListEntries(head, "module", "list", 1 << 16));
  bool mem_array = k.HasField("module", "mem");
  std::vector<ModuleInfo> out;
  for (uint64_t m : mods) {
    ModuleInfo info;
    info.module = m;
    CORONER_TRY(info.name, k.ReadCharArray(m, "module", "name"));
    CORONER_TRY(info.state, k.ReadField(m, "module", "state"));
    CORONER_TRY(info.taints, k.ReadField(m, "module", "taints"));
    if (mem_array) {
      CORONER_TRY(Field mem, k.FieldOf("module", "mem"));
      CORONER_TRY(uint64_t mm_size, k.SizeOf("module_memory"));
      for (uint64_t t = 0; t < kCoreMemTypes; ++t) {
        uint64_t mm = m + mem.offset + t * mm_size;
        CORONER_TRY(uint64_t size, k.ReadField(mm, "module_memory", "size"));
        if (t == 0) CORONER_TRY_VOID([&]() -> Result<void> {
          CORONER_TRY(info.base, k.ReadField(mm, "module_memory", "base"));
          return Ok();
        }());
        info.size += size;
      }
    } else {
      CORONER_TRY(info.base, k.ReadField(m, "module", "core_layout.base"));
      CORONER_TRY(info.size, k.ReadField(m, "module", "core_layout.size"));
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace coroner
