#include "lib/debuginfo/dwarf_info.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/debuginfo/elf_symbols.h"

namespace coroner {
namespace {

// DWARF_SAMPLE: testdata/dwarf_sample.c built with -g -O0 (see CMakeLists.txt).
class DwarfInfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = DwarfInfo::Open(DWARF_SAMPLE);
    ASSERT_TRUE(d) << d.error().ToString();
    dwarf_ = std::move(*d);
    auto s = ReadElfSymbols(DWARF_SAMPLE, 0);
    ASSERT_TRUE(s) << s.error().ToString();
    symbols_ = std::move(*s);
  }
  std::optional<TypeId> Global(const char* name) {
    const Symbol* sym = symbols_.Find(name);
    if (!sym) return std::nullopt;
    return dwarf_->GlobalType(name, {sym->address}, sym->IsGlobal());
  }
  std::unique_ptr<DwarfInfo> dwarf_;
  SymbolTable symbols_;
};

TEST_F(DwarfInfoTest, StructLayoutAsCrashPrintsIt) {
  const TypeTable& t = dwarf_->types();
  auto id = t.Find("struct sample");
  ASSERT_TRUE(id);
  EXPECT_EQ(t.Layout(*id, true),
            "struct sample {\n"
            "   [0] u64 id;\n"
            "   [8] unsigned int flag : 1;\n"
            "   [8] unsigned int mode : 3;\n"
            "       union {\n"
            "  [16]     long l;\n"
            "  [16]     struct inner in;\n"
            "       };\n"
            "  [24] char name[16];\n"
            "  [40] struct sample *next;\n"
            "  [48] int (*fn)(struct sample *, unsigned int);\n"
            "  [56] enum color c;\n"
            "  [60] int grid[2][3];\n"
            "  [88] struct opaque *op;\n"
            "}\n"
            "SIZE: 96\n");
  const Type& s = t.Get(*id);
  EXPECT_EQ(s.members[1].bit_offset, 64u);
  EXPECT_EQ(s.members[2].bit_offset, 65u);
  EXPECT_EQ(s.members[2].bit_size, 3u);
  // The incomplete struct stays a forward declaration, found only by name.
  const Type& op = t.Get(t.Get(s.members[9].type).target);
  EXPECT_EQ(op.kind, TypeKind::kFwd);
  EXPECT_EQ(op.name, "opaque");
}

TEST_F(DwarfInfoTest, EnumsTypedefsAndBaseTypes) {
  const TypeTable& t = dwarf_->types();
  auto color = t.Find("enum color");
  ASSERT_TRUE(color);
  ASSERT_EQ(t.Get(*color).enumerators.size(), 2u);
  EXPECT_EQ(t.Get(*color).enumerators[0].value, -1);
  EXPECT_EQ(t.Get(*color).enumerators[1].value, 5);
  auto u64 = t.Find("u64");
  ASSERT_TRUE(u64);
  EXPECT_EQ(t.Layout(*u64, false), "typedef unsigned long u64;\nSIZE: 8\n");
  EXPECT_TRUE(t.Find("unsigned long"));  // gdb's spelling of "long unsigned int"
  EXPECT_FALSE(t.Find("struct no_such_struct"));
}

TEST_F(DwarfInfoTest, TypesOfGlobals) {
  const TypeTable& t = dwarf_->types();
  auto g = Global("sample_global");
  ASSERT_TRUE(g);
  EXPECT_EQ(t.Declaration(*g, "sample_global"), "struct sample sample_global");
  auto ticks = Global("ticks");
  ASSERT_TRUE(ticks);
  EXPECT_EQ(t.Declaration(*ticks, "ticks"), "volatile unsigned long ticks");
  auto counter = Global("counter");  // a static: matched by its address
  ASSERT_TRUE(counter);
  EXPECT_EQ(t.Declaration(*counter, "counter"), "int counter");
  auto greeting = Global("greeting");
  ASSERT_TRUE(greeting);
  EXPECT_EQ(t.Declaration(*greeting, "greeting"), "const char *greeting");
  auto fn = Global("sample_fn");
  ASSERT_TRUE(fn);
  EXPECT_EQ(t.Declaration(*fn, "sample_fn"), "int sample_fn(int)");
  EXPECT_FALSE(dwarf_->GlobalType("no_such_global", {}, true));
}

TEST_F(DwarfInfoTest, SourceLines) {
  const Symbol* fn = symbols_.Find("sample_fn");
  ASSERT_TRUE(fn);
  auto line = dwarf_->LineAt(fn->address);
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->file.ends_with("testdata/dwarf_sample.c")) << line->file;
  EXPECT_EQ(line->line, 30);  // "int sample_fn(int x) {"
  EXPECT_FALSE(dwarf_->LineAt(1));
  EXPECT_GT(dwarf_->units_total(), 0u);
}

TEST(DwarfInfo, IndexFileIsWrittenAfterAFullScanAndLoadedLater) {
  std::string dir = ::testing::TempDir() + "/dwarf-index-test";
  std::filesystem::remove_all(dir);
  DwarfOptions opts{dir, 0};
  {
    auto d = DwarfInfo::Open(DWARF_SAMPLE, opts);
    ASSERT_TRUE(d);
    ASSERT_FALSE((*d)->index_path().empty());  // the sample has a build-id
    EXPECT_FALSE((*d)->types().Find("struct no_such_struct"));  // scans every unit
    EXPECT_FALSE((*d)->index_loaded());
    EXPECT_TRUE(std::filesystem::exists((*d)->index_path()));
  }
  auto d = DwarfInfo::Open(DWARF_SAMPLE, opts);
  ASSERT_TRUE(d);
  auto id = (*d)->types().Find("struct sample");
  EXPECT_TRUE((*d)->index_loaded());
  ASSERT_TRUE(id);
  EXPECT_EQ((*d)->types().SizeOf(*id), 96u);
  EXPECT_EQ((*d)->units_scanned(), (*d)->units_total());
  auto g = (*d)->GlobalType("ticks", {}, true);
  ASSERT_TRUE(g);
  EXPECT_EQ((*d)->types().Declaration(*g, "ticks"), "volatile unsigned long ticks");

  // A damaged index file is ignored: the units are scanned as if there were none.
  {
    std::ofstream out((*d)->index_path(), std::ios::trunc);
    out << "coroner-dwarf-index 1 1\n9\tbad\n";
  }
  auto again = DwarfInfo::Open(DWARF_SAMPLE, opts);
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->types().Find("struct sample"));
  EXPECT_FALSE((*again)->index_loaded());
  std::filesystem::remove_all(dir);
}

// DWARF_MODULE: testdata/dwarf_module.c compiled (not linked) with -g -O0: a relocatable object
// like a module's .ko. Its sections are placed where a kernel might have loaded them.
const std::unordered_map<std::string, uint64_t> kModuleSections = {
    {".text", 0xffffffffc0201000}, {".data", 0xffffffffc0205040}, {".bss", 0xffffffffc0205400}};

TEST(DwarfInfo, ModuleAloneAtItsLoadedSections) {
  auto d = DwarfInfo::CreateEmpty();
  ASSERT_TRUE(d->AddModule(DWARF_MODULE, "dwarf_module", kModuleSections));
  // module_fn is the first function of .text, module_other follows at 0x1c (objdump -d).
  auto line = d->LineAt(0xffffffffc0201000, "dwarf_module");
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->file.ends_with("testdata/dwarf_module.c")) << line->file;
  EXPECT_EQ(line->line, 11);  // "int module_fn(int x) {"
  auto other = d->LineAt(0xffffffffc0201000 + 0x1c, "dwarf_module");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->line, 15);
  EXPECT_FALSE(d->LineAt(0x1c, "dwarf_module"));  // the object's own (unrelocated) addresses mean nothing now
  EXPECT_FALSE(d->LineAt(0xffffffffc0201000));       // not the vmlinux's (there is none)
  // Globals are matched by their relocated address.
  const TypeTable& t = d->types();
  auto counter = d->GlobalType("module_counter", {0xffffffffc0205040}, false);
  ASSERT_TRUE(counter);
  EXPECT_EQ(t.Declaration(*counter, "module_counter"), "int module_counter");
  auto state = d->GlobalType("module_state_global", {0xffffffffc0205400}, false);
  ASSERT_TRUE(state);
  EXPECT_EQ(t.Declaration(*state, "module_state_global"), "struct module_state module_state_global");
  auto st = t.Find("struct module_state");
  ASSERT_TRUE(st);
  EXPECT_EQ(t.Layout(*st, true),
            "struct module_state {\n"
            "   [0] int users;\n"
            "   [8] struct module_state *next;\n"
            "}\n"
            "SIZE: 16\n");
}

TEST(DwarfInfo, ModuleAfterTheVmlinux) {
  auto d = DwarfInfo::Open(DWARF_SAMPLE);
  ASSERT_TRUE(d);
  const TypeTable& t = (*d)->types();
  EXPECT_FALSE(t.Find("struct module_state"));  // asked before the module is there
  ASSERT_TRUE((*d)->AddModule(DWARF_MODULE, "dwarf_module", kModuleSections));
  auto st = t.Find("struct module_state");
  ASSERT_TRUE(st);
  EXPECT_EQ(t.SizeOf(*st), 16u);
  EXPECT_TRUE(t.Find("struct sample"));  // the vmlinux's types stay
  auto line = (*d)->LineAt(0xffffffffc0201000 + 0x1c, "dwarf_module");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->line, 15);
  auto sym = ReadElfSymbols(DWARF_SAMPLE, 0);
  ASSERT_TRUE(sym);
  auto vm_line = (*d)->LineAt(sym->Find("sample_fn")->address);
  ASSERT_TRUE(vm_line);
  EXPECT_EQ(vm_line->line, 30);
  EXPECT_FALSE((*d)->AddModule("/no/such/file.ko", "x", kModuleSections));
}

TEST(DwarfInfo, FileWithoutDwarfIsNotFound) {
  auto d = DwarfInfo::Open("/proc/self/exe-does-not-exist");
  EXPECT_FALSE(d);
}

}  // namespace
}  // namespace coroner
