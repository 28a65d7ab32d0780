// Module ORC tables on the real test dumps: for every loaded module, the table coroner reads
// from the module's struct module (arch.num_orcs, orc_unwind_ip, orc_unwind) must hold exactly
// the entries of the module file's own .orc_unwind section (the loader only sorts them), and
// must cover the module's functions: each function's first instruction is a CALL entry with the
// CFA at SP + 8 (the return address), as the kernel's objtool writes it (.cold parts, entered
// by a jump, excepted).
//
// The module files are the release's stripped .ko files the dump script keeps next to the
// vmlinux ($CORONER_TEST_DUMPS/_kernels/RELEASE/modules).
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "lib/commands/session.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;
using Entry = std::array<uint8_t, 6>;

fs::path Cache() {
  if (const char* env = std::getenv("CORONER_TEST_DUMPS")) return env;
  return fs::path(std::getenv("HOME")) / ".cache/coroner/test-dumps";
}

// The release a test dump's capture kernel printed (capture-uname.txt: "Linux (none) R #1 ...").
std::string Release(const fs::path& dir) {
  std::ifstream in(dir / "capture-uname.txt");
  std::string sys, node, release;
  in >> sys >> node >> release;
  return release;
}

// The raw entries of a .ko file's .orc_unwind section, sorted.
std::vector<Entry> FileEntries(const fs::path& ko) {
  std::vector<Entry> out;
  int fd = open(ko.c_str(), O_RDONLY);
  if (fd < 0) return out;
  elf_version(EV_CURRENT);
  Elf* e = elf_begin(fd, ELF_C_READ, nullptr);
  size_t shstrndx = 0;
  elf_getshdrstrndx(e, &shstrndx);
  for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(e, scn));) {
    GElf_Shdr sh;
    gelf_getshdr(scn, &sh);
    const char* name = elf_strptr(e, shstrndx, sh.sh_name);
    if (!name || std::string_view(name) != ".orc_unwind") continue;
    Elf_Data* d = elf_rawdata(scn, nullptr);
    for (size_t i = 0; d && i + 6 <= d->d_size; i += 6) {
      Entry en;
      std::memcpy(en.data(), static_cast<const uint8_t*>(d->d_buf) + i, 6);
      out.push_back(en);
    }
  }
  elf_end(e);
  close(fd);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(OrcModules, TablesEqualTheModuleFilesAndCoverTheirFunctions) {
  int kernels = 0;
  for (const auto& entry : fs::directory_iterator(Cache())) {
    fs::path dir = entry.path();
    if (dir.filename().string()[0] == '_' || !fs::exists(dir / "vmcore.kdump-zlib") || fs::exists(dir / "FAILED")) {
      continue;
    }
    SCOPED_TRACE(dir.filename().string());
    fs::path modules_dir = Cache() / "_kernels" / Release(dir) / "modules";
    ASSERT_TRUE(fs::is_directory(modules_dir)) << modules_dir;
    auto s = Session::Open({(dir / "vmcore.kdump-zlib").string()});
    ASSERT_TRUE(s) << s.error().ToString();
    auto mods = (*s)->Modules();
    ASSERT_TRUE(mods) << mods.error().ToString();
    auto orc = (*s)->Orc();
    ASSERT_TRUE(orc) << orc.error().ToString();
    auto syms = (*s)->AllSymbols();
    ASSERT_TRUE(syms);
    ASSERT_EQ((*orc)->module_tables().size(), (*mods)->size()) << "every module has a table";
    ++kernels;

    for (const ModuleInfo& m : **mods) {
      SCOPED_TRACE(m.name);
      const OrcTable::Segment* table = nullptr;
      for (const auto& t : (*orc)->module_tables()) {
        if (t.start == m.base) table = &t;
      }
      ASSERT_NE(table, nullptr);
      EXPECT_EQ(table->end, m.base + m.text_size);
      // The same entries as the file's section (the loader sorts ips and entries together).
      std::vector<Entry> in_memory(table->ips.size());
      for (size_t i = 0; i < in_memory.size(); ++i) std::memcpy(in_memory[i].data(), &table->entries[6 * i], 6);
      std::sort(in_memory.begin(), in_memory.end());
      std::vector<Entry> in_file = FileEntries(modules_dir / (m.name + ".ko"));
      ASSERT_FALSE(in_file.empty()) << "no .orc_unwind in " << m.name << ".ko";
      EXPECT_EQ(in_memory, in_file);
      EXPECT_TRUE(std::is_sorted(table->ips.begin(), table->ips.end()));
      // Most entries are for the core text; the rest are for the init text, freed after loading.
      size_t in_core = std::count_if(table->ips.begin(), table->ips.end(),
                                     [&](uint64_t ip) { return ip >= m.base && ip <= m.base + m.text_size; });
      EXPECT_GE(in_core * 2, table->ips.size());

      // Every function of the module's text: CALL, CFA = SP + 8 at its first byte.
      int functions = 0, call_entries = 0;
      for (const Symbol& sym : (*syms)->symbols()) {
        // A .cold part is not entered by a call: its stack is its parent's.
        if (sym.module != m.name || !sym.IsText() || sym.address < m.base || sym.address >= m.base + m.text_size ||
            sym.name.find(".cold") != std::string_view::npos) {
          continue;
        }
        ++functions;
        auto e = (*orc)->Find(sym.address);
        ASSERT_TRUE(e) << fmt::format("{} at {:#x}", sym.name, sym.address);
        if (e->type == OrcType::kCall && e->sp_reg == OrcReg::kSp && e->sp_offset == 8) {
          ++call_entries;
        } else {
          ADD_FAILURE() << sym.name;
        }
      }
      EXPECT_GT(functions, 0);
      EXPECT_EQ(call_entries, functions);
      // Outside the text: no entry.
      EXPECT_FALSE((*orc)->Find(m.base + m.text_size + 0x100000000ull));
    }
  }
  EXPECT_GT(kernels, 0) << "no test dumps in " << Cache();
}

}  // namespace
}  // namespace coroner
