// DWARF from the real test kernels' vmlinux files: the inlined-call chain at text addresses
// (for bt -l and dis) against binutils' addr2line -i -f on the same vmlinux. Fails when there
// are no test kernels.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "lib/debuginfo/dwarf_info.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;

fs::path Cache() {
  if (const char* env = std::getenv("CORONER_TEST_DUMPS")) return env;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : "/root") / ".cache/coroner/test-dumps";
}

std::vector<fs::path> KernelDirs() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Cache(), ec)) {
    const fs::path& d = e.path();
    if (e.is_directory() && !d.filename().string().starts_with("_") && fs::exists(d / "vmlinux") &&
        fs::exists(d / "System.map")) {
      out.push_back(d);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// addr2line -i -f: per address, (function, "file:line") pairs, innermost first.
std::vector<std::vector<std::pair<std::string, std::string>>> Addr2line(const fs::path& vmlinux,
                                                                        const std::vector<uint64_t>& addrs) {
  std::string cmd = fmt::format("addr2line -i -f -a -e '{}'", vmlinux.string());
  for (uint64_t a : addrs) cmd += fmt::format(" {:#x}", a);
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  std::vector<std::vector<std::pair<std::string, std::string>>> out;
  if (!p) return out;
  std::vector<std::string> lines;
  char buf[4096];
  while (fgets(buf, sizeof buf, p.get())) {
    std::string l = buf;
    while (!l.empty() && l.back() == '\n') l.pop_back();
    lines.push_back(l);
  }
  for (size_t i = 0; i < lines.size();) {
    if (lines[i].starts_with("0x")) {
      out.emplace_back();
      ++i;
      continue;
    }
    if (out.empty() || i + 1 >= lines.size()) break;
    std::string where = lines[i + 1];
    if (auto d = where.find(" (discriminator"); d != std::string::npos) where.resize(d);
    out.back().emplace_back(lines[i], where);
    i += 2;
  }
  return out;
}

TEST(DwarfRealdump, InlinedCallsMatchAddr2line) {
  auto dirs = KernelDirs();
  ASSERT_FALSE(dirs.empty()) << "no test kernels in " << Cache() << ": run tests/dumps/make-test-dumps.sh";
  for (const fs::path& d : dirs) {
    SCOPED_TRACE(d.filename().string());
    auto dwarf = DwarfInfo::Open(d / "vmlinux");
    ASSERT_TRUE(dwarf) << dwarf.error().ToString();
    // A spread of text addresses: every 400th text symbol of System.map, 0x20 bytes in.
    std::vector<uint64_t> addrs;
    std::ifstream map(d / "System.map");
    std::string line;
    for (size_t n = 0; std::getline(map, line);) {
      std::istringstream in(line);
      std::string addr, type, name;
      in >> addr >> type >> name;
      if ((type == "t" || type == "T") && ++n % 400 == 0) addrs.push_back(std::stoull(addr, nullptr, 16) + 0x20);
    }
    ASSERT_GT(addrs.size(), 20u);
    auto ref = Addr2line(d / "vmlinux", addrs);
    ASSERT_EQ(ref.size(), addrs.size());
    size_t with_inlines = 0;
    for (size_t i = 0; i < addrs.size(); ++i) {
      SCOPED_TRACE(fmt::format("{:#x}", addrs[i]));
      if (ref[i].empty() || ref[i][0].first == "??") continue;
      // Rust units (7.x): libdw's scope walk does not see their nested namespaces; not yet.
      if (ref[i].back().first.starts_with("_R")) continue;
      auto calls = (*dwarf)->InlinedCallsAt(addrs[i]);
      ASSERT_EQ(calls.size(), ref[i].size() - 1);
      for (size_t k = 0; k < calls.size(); ++k) {
        EXPECT_EQ(calls[k].function, ref[i][k].first);
        EXPECT_EQ(fmt::format("{}:{}", calls[k].call_file, calls[k].call_line), ref[i][k + 1].second);
      }
      with_inlines += !calls.empty();
    }
    EXPECT_GT(with_inlines, 0u);
  }
}

}  // namespace
}  // namespace coroner
