#include "lib/dump/vmcoreinfo.h"

#include <gtest/gtest.h>

namespace coroner {
namespace {

TEST(Vmcoreinfo, ParsesTypedEntries) {
  // Lines as the 6.1 kernel writes them (kernel/crash_core.c, arch/x86/kernel/machine_kexec_64.c).
  const char text[] =
      "OSRELEASE=6.1.0-28-cloud-amd64\n"
      "BUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
      "PAGESIZE=4096\n"
      "SYMBOL(init_uts_ns)=ffffffff9c613d40\n"
      "OFFSET(uts_namespace.name)=0\n"
      "SIZE(page)=64\n"
      "LENGTH(zone.free_area)=11\n"
      "NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\n"
      "NUMBER(pgtable_l5_enabled)=0\n"
      "KERNELOFFSET=1a400000\n"
      "CRASHTIME=1732000000\n"
      "CONFIG_X86_5LEVEL=y\n"
      "\0\0\0";
  Diagnostics diag;
  Vmcoreinfo vi = ParseVmcoreinfo(std::string_view(text, sizeof text - 1), diag);
  EXPECT_TRUE(diag.empty());
  EXPECT_EQ(vi.osrelease, "6.1.0-28-cloud-amd64");
  EXPECT_EQ(vi.page_size, 4096u);
  EXPECT_EQ(vi.Symbol("init_uts_ns"), 0xffffffff9c613d40u);
  EXPECT_EQ(vi.Offset("uts_namespace", "name"), 0u);
  EXPECT_EQ(vi.Size("page"), 64u);
  EXPECT_EQ(vi.Length("zone.free_area"), 11u);
  EXPECT_EQ(vi.Number("PAGE_BUDDY_MAPCOUNT_VALUE"), -129);
  EXPECT_EQ(vi.kernel_offset, 0x1a400000u);
  EXPECT_EQ(vi.crash_time, 1732000000);
  ASSERT_EQ(vi.others.size(), 1u);
  EXPECT_EQ(vi.others[0].first, "CONFIG_X86_5LEVEL");
  EXPECT_EQ(vi.entries.size(), 12u);
}

TEST(Vmcoreinfo, HexNumbers) {
  // 6.12 and 7.2 write x86's VMALLOC_START in hexadecimal (seen on the test dumps).
  Diagnostics diag;
  Vmcoreinfo vi = ParseVmcoreinfo("NUMBER(VMALLOC_START)=0xffffd40e40000000\nNUMBER(bad)=0x\n", diag);
  EXPECT_EQ(static_cast<uint64_t>(*vi.Number("VMALLOC_START")), 0xffffd40e40000000u);
  EXPECT_FALSE(vi.Number("bad"));
  EXPECT_EQ(diag.warnings().size(), 1u);
}

TEST(Vmcoreinfo, BadLinesAreReportedNotFatal) {
  Diagnostics diag;
  Vmcoreinfo vi = ParseVmcoreinfo("garbage\nSYMBOL(x)=zz\nPAGESIZE=4096\n", diag);
  EXPECT_EQ(vi.page_size, 4096u);
  EXPECT_FALSE(vi.Symbol("x"));
  EXPECT_EQ(diag.warnings().size(), 2u);
}

}  // namespace
}  // namespace coroner
