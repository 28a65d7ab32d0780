#include "lib/kernel/modules.h"

#include <fmt/format.h>

#include <cstring>

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
        if (t == 0) {
          CORONER_TRY(info.base, k.ReadField(mm, "module_memory", "base"));
          info.text_size = size;
        }
        info.size += size;
      }
    } else {
      CORONER_TRY(info.base, k.ReadField(m, "module", "core_layout.base"));
      CORONER_TRY(info.size, k.ReadField(m, "module", "core_layout.size"));
      CORONER_TRY(info.text_size, k.ReadField(m, "module", "core_layout.text_size"));
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<ModuleSection>> ReadModuleSections(const Kernel& k, const ModuleInfo& m) {
  if (!k.HasField("module", "sect_attrs")) {
    return Error(ErrorCode::kUnsupported, "struct module has no sect_attrs (a kernel without CONFIG_SYSFS or CONFIG_KALLSYMS)");
  }
  CORONER_TRY(uint64_t attrs, k.ReadField(m.module, "module", "sect_attrs"));
  if (!attrs) return Error(ErrorCode::kNotFound, fmt::format("module {}: sect_attrs is NULL", m.name));
  constexpr uint64_t kMaxSections = 1024;
  constexpr size_t kMaxName = 256;
  std::vector<ModuleSection> out;
  if (k.HasField("module_sect_attr", "address") && k.HasField("module_sect_attrs", "nsections")) {
    CORONER_TRY(uint64_t n, k.ReadField(attrs, "module_sect_attrs", "nsections"));
    if (n > kMaxSections) return Error(ErrorCode::kBadData, fmt::format("module {}: {} sections", m.name, n), ErrorLocation{ErrorLocation::Kind::kVirtAddr, attrs});
    CORONER_TRY(Field array, k.FieldOf("module_sect_attrs", "attrs"));
    CORONER_TRY(uint64_t stride, k.SizeOf("module_sect_attr"));
    CORONER_TRY(std::string_view name_field, k.FirstField("module_sect_attr", {"battr.attr.name", "name"}));
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t a = attrs + array.offset + i * stride;
      CORONER_TRY(uint64_t name, k.ReadField(a, "module_sect_attr", name_field));
      CORONER_TRY(uint64_t address, k.ReadField(a, "module_sect_attr", "address"));
      CORONER_TRY(std::string s, k.memory().ReadCString(name, kMaxName));
      out.push_back({std::move(s), address});
    }
    return out;
  }
  // No struct module_sect_attr: the group's NULL-terminated bin_attribute pointers.
  CORONER_TRY(std::string_view list_field,
              k.FirstField("module_sect_attrs", {"grp.bin_attrs", "grp.bin_attrs_new"}));
  CORONER_TRY(uint64_t list, k.ReadField(attrs, "module_sect_attrs", list_field));
  for (uint64_t i = 0;; ++i) {
    if (i > kMaxSections) return Error(ErrorCode::kBadData, fmt::format("module {}: no end to its sections", m.name), ErrorLocation{ErrorLocation::Kind::kVirtAddr, list});
    CORONER_TRY(uint64_t battr, k.ReadU64(list + 8 * i));
    if (!battr) break;
    CORONER_TRY(uint64_t name, k.ReadField(battr, "bin_attribute", "attr.name"));
    CORONER_TRY(uint64_t address, k.ReadField(battr, "bin_attribute", "private"));
    CORONER_TRY(std::string s, k.memory().ReadCString(name, kMaxName));
    out.push_back({std::move(s), address});
  }
  return out;
}

Result<std::string> ReadModuleBuildId(const Kernel& k, const std::vector<ModuleSection>& sections) {
  for (const ModuleSection& s : sections) {
    if (s.name != ".note.gnu.build-id") continue;
    // Elf64_Nhdr {namesz, descsz, type}, "GNU\0", the ID (at most 64 bytes in practice).
    std::byte hdr[16];
    CORONER_TRY_VOID(k.memory().Read(s.address, hdr));
    uint32_t namesz, descsz, type;
    std::memcpy(&namesz, hdr, 4);
    std::memcpy(&descsz, hdr + 4, 4);
    std::memcpy(&type, hdr + 8, 4);
    constexpr uint32_t kNtGnuBuildId = 3;
    if (namesz != 4 || type != kNtGnuBuildId || descsz == 0 || descsz > 64 || std::memcmp(hdr + 12, "GNU", 4) != 0) {
      return Error(ErrorCode::kBadData, "the module's .note.gnu.build-id is not a GNU build ID note", ErrorLocation{ErrorLocation::Kind::kVirtAddr, s.address});
    }
    std::vector<std::byte> id(descsz);
    CORONER_TRY_VOID(k.memory().Read(s.address + 16, id));
    std::string hex;
    for (std::byte b : id) hex += fmt::format("{:02x}", static_cast<unsigned>(b));
    return hex;
  }
  return Error(ErrorCode::kNotFound, "the module has no .note.gnu.build-id section");
}

Result<std::string> ReadModuleSrcversion(const Kernel& k, const ModuleInfo& m) {
  if (!k.HasField("module", "srcversion")) return std::string();
  CORONER_TRY(uint64_t p, k.ReadField(m.module, "module", "srcversion"));
  if (!p) return std::string();
  return k.memory().ReadCString(p, 64);
}

namespace {

constexpr uint64_t kElfSymSize = 24;  // Elf64_Sym
constexpr uint64_t kMaxModuleSymbols = 1 << 20;

Result<size_t> ReadModuleSymbols(const Kernel& k, const ModuleInfo& m, SymbolTable::Builder& b) {
  CORONER_TRY(uint64_t ks, k.ReadField(m.module, "module", "kallsyms"));
  if (!ks) return Error(ErrorCode::kNotFound, "no kallsyms");
  CORONER_TRY(uint64_t symtab, k.ReadField(ks, "mod_kallsyms", "symtab"));
  CORONER_TRY(uint64_t num, k.ReadField(ks, "mod_kallsyms", "num_symtab"));
  CORONER_TRY(uint64_t strtab, k.ReadField(ks, "mod_kallsyms", "strtab"));
  uint64_t typetab = 0;
  if (k.HasField("mod_kallsyms", "typetab")) {
    CORONER_TRY(typetab, k.ReadField(ks, "mod_kallsyms", "typetab"));
  }
  if (num > kMaxModuleSymbols) return Error(ErrorCode::kBadData, fmt::format("{} symbols", num));
  std::vector<std::byte> syms(num * kElfSymSize);
  CORONER_TRY_VOID(k.memory().Read(symtab, syms));
  std::vector<std::byte> types(typetab ? num : 0);
  if (typetab) CORONER_TRY_VOID(k.memory().Read(typetab, types));
  size_t added = 0;
  for (uint64_t i = 0; i < num; ++i) {
    const std::byte* e = syms.data() + i * kElfSymSize;
    uint32_t name_off;
    uint16_t shndx;
    uint64_t value, size;
    std::memcpy(&name_off, e, 4);
    std::memcpy(&shndx, e + 6, 2);
    std::memcpy(&value, e + 8, 8);
    std::memcpy(&size, e + 16, 8);
    if (shndx == 0 || value == 0) continue;  // undefined
    auto name = k.memory().ReadCString(strtab + name_off, 512);
    if (!name || name->empty()) continue;
    char type = typetab ? static_cast<char>(types[i]) : 't';
    b.Add(*name, value, type, size, false, m.name);
    ++added;
  }
  return added;
}

}  // namespace

void AddModuleSymbols(const Kernel& k, const std::vector<ModuleInfo>& mods, SymbolTable::Builder& b,
                      std::vector<std::string>& warnings) {
  for (const ModuleInfo& m : mods) {
    auto r = ReadModuleSymbols(k, m, b);
    if (!r) warnings.push_back(fmt::format("module {} ({:#x}): symbols: {}", m.name, m.module, r.error().ToString()));
  }
}

}  // namespace coroner
