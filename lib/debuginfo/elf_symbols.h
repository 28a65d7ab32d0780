// Symbols from a vmlinux's ELF .symtab (read with elfutils libelf), relocated by the dump's
// KASLR slide so their addresses match the dump:
//
//   uint64_t slide = dump->info.vmcoreinfo->kernel_offset.value_or(0);   // KERNELOFFSET
//   CORONER_TRY(SymbolTable table, ReadElfSymbols("vmlinux", slide));
//   table.Find("schedule")->address;   // == System.map's value + slide
//
// Type letters are computed the way GNU nm does (bfd's decode_section_type), so they match
// System.map. Section and file symbols and undefined symbols are left out. Only symbols inside
// the kernel image mapping (__START_KERNEL_map .. the module area) move with KASLR: per-CPU
// symbols of x86_64 kernels before 6.15 are offsets from 0 and absolute symbols stay put.
// Sizes come from st_size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/symbol_table.h"

namespace coroner {

Result<SymbolTable> ReadElfSymbols(const std::string& path, uint64_t kaslr_offset);

// The NUL-terminated string (at most `max` bytes) at link-time address `vaddr` in the file's
// allocated sections, e.g. linux_banner in .rodata.
Result<std::string> ReadElfString(const std::string& path, uint64_t vaddr, size_t max = 512);

// The bytes at link-time address [vaddr, vaddr+size) of the file's sections (e.g. text).
Result<std::vector<std::byte>> ReadElfBytes(const std::string& path, uint64_t vaddr, size_t size);

// What a kernel module's file (.ko, ET_REL) says about itself, to check it against the loaded
// module before its debug info is used.
struct ModuleFileInfo {
  std::string name;        // .modinfo name= (modpost writes it since 2.6.x; may be empty)
  std::string srcversion;  // .modinfo srcversion= (CONFIG_MODULE_SRCVERSION_ALL or MODULE_VERSION)
  std::string build_id;    // .note.gnu.build-id, hex; empty if the file has none
  bool has_dwarf = false;  // a .debug_info section
  struct Section {
    std::string name;
    uint64_t size = 0;
  };
  std::vector<Section> sections;  // the allocated (SHF_ALLOC) ones, in file order
};
Result<ModuleFileInfo> ReadModuleFileInfo(const std::string& path);

}  // namespace coroner
