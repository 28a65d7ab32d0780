// Symbols on the real test dumps (tests/dumps/make-test-dumps.sh: Debian kernels crashed under
// QEMU and captured by kdump; $CORONER_TEST_DUMPS, default ~/.cache/coroner/test-dumps).
//
// For every kernel with a dump, kallsyms decoded from the dump's memory (vmcore.kdump-zlib and
// vmcore.elf, from VMCOREINFO's locations and again by searching memory) must equal
//   - /proc/kallsyms as the guest printed it before the crash (guest-view/kallsyms.txt, same
//     boot, so same KASLR slide): same order, names, types and addresses, nothing left over;
//   - System.map + KERNELOFFSET, symbol for symbol, with only the differences the kernel
//     documents (see ExpectedKallsyms);
// and the vmlinux .symtab table, relocated by KERNELOFFSET, must agree with both.
// For every kernel with a vmlinux (also those whose dump is not made yet), kallsyms decoded from
// the vmlinux file's own sections must equal its System.map: this covers each layout even
// before its dump exists.
#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "lib/debuginfo/elf_symbols.h"
#include "lib/debuginfo/kallsyms.h"
#include "lib/dump/dump.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;

fs::path Cache() {
  if (const char* env = std::getenv("CORONER_TEST_DUMPS")) return env;
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : "/root") / ".cache/coroner/test-dumps";
}

// Kernel directories that were made successfully: with a dump, or (any_vmlinux) with a vmlinux.
std::vector<fs::path> KernelDirs(bool need_dump) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Cache(), ec)) {
    const fs::path& d = e.path();
    if (!e.is_directory() || d.filename().string().starts_with("_")) continue;
    bool has_dump = fs::exists(d / "vmcore.elf") && !fs::exists(d / "FAILED");
    bool has_kernel = fs::exists(d / "vmlinux") && fs::exists(d / "System.map");
    if (has_kernel && (has_dump || !need_dump)) out.push_back(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

struct MapSym {
  uint64_t address;
  char type;
  std::string name;
  bool operator<(const MapSym& o) const {
    return std::tie(name, address, type) < std::tie(o.name, o.address, o.type);
  }
  bool operator==(const MapSym& o) const = default;
};

// "ffffffff81000000 T _stext" lines; lines with a module/[bpf] column are skipped.
std::vector<MapSym> ReadMap(const fs::path& p) {
  std::ifstream f(p);
  std::vector<MapSym> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string addr, type, name, extra;
    if (!(ls >> addr >> type >> name) || type.size() != 1) continue;
    if (ls >> extra) continue;  // "[module]"
    out.push_back({std::stoull(addr, nullptr, 16), type[0], name});
  }
  return out;
}

std::vector<MapSym> ToMapSyms(const SymbolTable& t) {
  std::vector<MapSym> out;
  for (const Symbol& s : t.symbols()) out.push_back({s.address, s.type, std::string(s.name)});
  return out;
}

std::string Show(const std::vector<MapSym>& v, size_t max = 12) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    s += fmt::format("\n    {:016x} {} {}", v[i].address, v[i].type, v[i].name);
  }
  if (v.size() > max) s += fmt::format("\n    ... {} more", v.size() - max);
  return s;
}

// a - b and b - a as multisets.
void Diff(std::vector<MapSym> a, std::vector<MapSym> b, std::vector<MapSym>& only_a,
          std::vector<MapSym>& only_b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
}

bool InImage(uint64_t a) {
  return a >= KernelMemory::kStartKernelMap && a < KernelMemory::kKernelImageLimit;
}

// What kallsyms must hold, from System.map (nm -n vmlinux filtered by scripts/mksysmap):
//  - kernel-image addresses move by the KASLR slide; per-CPU offsets (x86_64 before 6.15) and
//    absolute values do not;
//  - absolute ('A'/'a') symbols are left out (scripts/kallsyms.c, is_ignored_symbol);
//  - before 6.11, so are kallsyms' own tables (kallsyms_addresses, _offsets, _relative_base,
//    _num_syms, _names, _markers, _token_table, _token_index, and _seqs_of_names since
//    "kallsyms: add kallsyms_seqs_of_names to list of special symbols", 2023, in 6.1 stable):
//    they only existed from the second link on. c442db3f49f2 ("kbuild: remove PROVIDE() for
//    kallsyms symbols", 6.11) adds an empty kallsyms step first, so every link has them and
//    kallsyms lists them;
//  - with --absolute-percpu (CONFIG_KALLSYMS_ABSOLUTE_PERCPU) every symbol in
//    [__per_cpu_start, __per_cpu_end] gets type 'A' (make_percpus_absolute).
std::vector<MapSym> ExpectedKallsyms(const std::vector<MapSym>& map, uint64_t slide,
                                     bool absolute_percpu, std::pair<int, int> version) {
  static const std::set<std::string> own_tables = {
      "kallsyms_addresses",   "kallsyms_offsets",     "kallsyms_relative_base",
      "kallsyms_num_syms",    "kallsyms_names",       "kallsyms_markers",
      "kallsyms_token_table", "kallsyms_token_index", "kallsyms_seqs_of_names"};
  bool drop_own_tables = version < std::make_pair(6, 11);
  std::optional<uint64_t> pstart, pend;
  for (const MapSym& s : map) {
    if (s.name == "__per_cpu_start") pstart = s.address;
    if (s.name == "__per_cpu_end") pend = s.address;
  }
  std::vector<MapSym> out;
  for (MapSym s : map) {
    if ((drop_own_tables && own_tables.count(s.name)) || s.type == 'A' || s.type == 'a') continue;
    if (absolute_percpu && pstart && pend && s.address >= *pstart && s.address <= *pend) {
      s.type = 'A';
    } else if (InImage(s.address)) {
      s.address += slide;
    }
    out.push_back(s);
  }
  return out;
}

// Symbols kallsyms has and System.map may not. Before 6.1 ("kbuild: reuse mksysmap output for
// kallsyms", Masahiro Yamada, 2022) scripts/link-vmlinux.sh fed scripts/kallsyms the raw
// `nm -n` output, while scripts/mksysmap drops local labels (" .L"): 5.10 kallsyms keeps the
// compiler's .LC<n> string-constant labels from .init data. Returns how many it removed.
size_t DropLocalLabels(std::vector<MapSym>& extra, std::pair<int, int> version) {
  if (version >= std::make_pair(6, 1)) return 0;
  size_t before = extra.size();
  std::erase_if(extra, [](const MapSym& s) { return s.name.starts_with(".L"); });
  return before - extra.size();
}

bool HasAbsolutePercpu(const fs::path& dir) {
  std::ifstream f(dir / "config");
  std::string line;
  while (std::getline(f, line)) {
    if (line == "CONFIG_KALLSYMS_ABSOLUTE_PERCPU=y") return true;
  }
  return false;
}

// Kernel memory as the vmlinux file lays it out (its PT_LOAD segments, unrelocated).
class VmlinuxImage {
 public:
  static std::unique_ptr<VmlinuxImage> Open(const fs::path& p) {
    auto img = std::unique_ptr<VmlinuxImage>(new VmlinuxImage);
    img->fd_ = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (img->fd_ < 0) return nullptr;
    elf_version(EV_CURRENT);
    Elf* e = elf_begin(img->fd_, ELF_C_READ_MMAP, nullptr);
    if (!e) return nullptr;
    size_t n = 0;
    elf_getphdrnum(e, &n);
    for (size_t i = 0; i < n; ++i) {
      GElf_Phdr ph;
      if (gelf_getphdr(e, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD) {
        img->segments_.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz});
      }
    }
    elf_end(e);
    return img;
  }
  ~VmlinuxImage() {
    if (fd_ >= 0) close(fd_);
  }
  KernelReadFn Reader() const {
    return [this](uint64_t va, std::span<std::byte> out) -> Result<void> {
      for (const Segment& s : segments_) {
        if (va >= s.vaddr && va - s.vaddr < s.size && out.size() <= s.size - (va - s.vaddr)) {
          ssize_t got =
              pread(fd_, out.data(), out.size(), static_cast<off_t>(s.offset + va - s.vaddr));
          if (got != static_cast<ssize_t>(out.size())) return Error(ErrorCode::kIo, "short read");
          return Ok();
        }
      }
      return Error(ErrorCode::kFault, "not in vmlinux", AtVirt(va));
    };
  }

 private:
  struct Segment {
    uint64_t vaddr, offset, size;
  };
  int fd_ = -1;
  std::vector<Segment> segments_;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void ExpectSameTable(const SymbolTable& a, const SymbolTable& b, const std::string& what) {
  std::vector<MapSym> only_a, only_b;
  Diff(ToMapSyms(a), ToMapSyms(b), only_a, only_b);
  EXPECT_TRUE(only_a.empty() && only_b.empty()) << what << ": only in the first:" << Show(only_a)
                                                << "\n  only in the second:" << Show(only_b);
}

TEST(RealDumps, Exist) {
  EXPECT_FALSE(KernelDirs(/*need_dump=*/true).empty())
      << "no real test dumps in " << Cache() << ": run tests/dumps/make-test-dumps.sh first";
}

TEST(RealDumps, KallsymsFromEveryDump) {
  auto dirs = KernelDirs(true);
  ASSERT_FALSE(dirs.empty()) << "no real test dumps in " << Cache();
  for (const fs::path& dir : dirs) {
    std::vector<MapSym> map = ReadMap(dir / "System.map");
    std::optional<SymbolTable> reference;  // the first form's table
    for (const char* form : {"vmcore.kdump-zlib", "vmcore.elf"}) {
      SCOPED_TRACE(dir.filename().string() + "/" + form);
      auto dump = OpenDump({(dir / form).string()});
      ASSERT_TRUE(dump) << dump.error().ToString();
      ASSERT_TRUE((*dump)->info.vmcoreinfo);
      const Vmcoreinfo& vi = *(*dump)->info.vmcoreinfo;
      auto kmem = KernelMemory::Create(*(*dump)->memory, vi);
      ASSERT_TRUE(kmem) << kmem.error().ToString();
      uint64_t slide = vi.kernel_offset.value_or(0);

      auto t0 = std::chrono::steady_clock::now();
      auto ks = ReadKallsyms(**kmem, vi);
      double secs = Seconds(t0);
      ASSERT_TRUE(ks) << ks.error().ToString();
      const KallsymsInfo& info = ks->info;
      fmt::print(
          "{} {}: {} symbols, {}, {}-byte lengths, names {} bytes, {}/{} VMCOREINFO "
          "symbols agree, decoded in {:.3f} s\n",
          dir.filename().string(), form, info.num_syms, KallsymsAddressingName(info.addressing),
          info.two_byte_lengths ? 2 : 1, info.names_bytes, info.known_matched, info.known_checked,
          secs);
      // VMCOREINFO names the tables from 6.0 on; older kernels' are found by searching.
      auto version = ParseKernelVersion(vi.osrelease.value_or(""));
      ASSERT_TRUE(version);
      EXPECT_EQ(info.searched, *version < std::make_pair(6, 0));
      EXPECT_GT(info.known_matched, 3u);

      // Against System.map.
      std::vector<MapSym> want = ExpectedKallsyms(map, slide, HasAbsolutePercpu(dir), *version);
      std::vector<MapSym> missing, extra;
      Diff(want, ToMapSyms(ks->symbols), missing, extra);
      size_t labels = DropLocalLabels(extra, *version);
      fmt::print(
          "{} {}: System.map: {} symbols expected, {} missing, {} extra, {} extra .L "
          "labels (pre-6.1 kallsyms)\n",
          dir.filename().string(), form, want.size(), missing.size(), extra.size(), labels);
      EXPECT_TRUE(missing.empty()) << "in System.map, not in kallsyms:" << Show(missing);
      EXPECT_TRUE(extra.empty()) << "in kallsyms, not in System.map:" << Show(extra);

      // Against /proc/kallsyms of the same boot: identical, in the same order.
      fs::path proc = dir / "guest-view/kallsyms.txt";
      if (fs::exists(proc)) {
        std::vector<MapSym> seen = ReadMap(proc);
        std::vector<MapSym> got = ToMapSyms(ks->symbols);
        EXPECT_EQ(seen.size(), got.size());
        size_t first_diff = 0;
        while (first_diff < seen.size() && first_diff < got.size() &&
               seen[first_diff] == got[first_diff]) {
          ++first_diff;
        }
        EXPECT_EQ(first_diff, seen.size())
            << "first difference from /proc/kallsyms at line " << first_diff << ":"
            << Show(std::vector<MapSym>(seen.begin() + first_diff,
                                        seen.begin() + std::min(seen.size(), first_diff + 3)))
            << "\n  decoded:"
            << Show(std::vector<MapSym>(got.begin() + std::min(got.size(), first_diff),
                                        got.begin() + std::min(got.size(), first_diff + 3)));
        fmt::print(
            "{} {}: /proc/kallsyms of the crashed boot: {} vmlinux lines, {} identical "
            "in order\n",
            dir.filename().string(), form, seen.size(), first_diff);
      } else {
        fmt::print("{} {}: no guest-view/kallsyms.txt to compare with\n", dir.filename().string(),
                   form);
      }

      // Spot checks: address and type as System.map says (relocated; per-CPU 'A' where the
      // kernel makes them absolute). Types are the kernel's: jiffies and init_task are 'D' up
      // to 6.12 but 'T' in 7.2's System.map and /proc/kallsyms alike.
      for (const char* name : {"jiffies", "init_task", "schedule", "sysrq_handle_crash",
                               "__per_cpu_start", "runqueues", "_stext"}) {
        const Symbol* s = ks->symbols.Find(name);
        ASSERT_NE(s, nullptr) << name;
        auto w =
            std::find_if(want.begin(), want.end(), [&](const MapSym& m) { return m.name == name; });
        ASSERT_NE(w, want.end()) << name;
        EXPECT_EQ(s->address, w->address) << name;
        EXPECT_EQ(s->type, w->type) << name;
      }
      EXPECT_EQ(ks->symbols.Find("_stext")->address, *vi.Symbol("_stext"));
      EXPECT_EQ(ks->symbols.Find("schedule")->type, 'T');
      EXPECT_EQ(ks->symbols.Find("sysrq_handle_crash")->type, 't');
      EXPECT_TRUE(ks->symbols.Find("__per_cpu_start")->percpu);
      EXPECT_TRUE(ks->symbols.Find("runqueues")->percpu);
      EXPECT_FALSE(ks->symbols.Find("jiffies")->percpu);
      const Symbol* sched = ks->symbols.Find("schedule");
      auto m = ks->symbols.LookupAddress(sched->address + 0x10);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->symbol->name, "schedule");
      EXPECT_EQ(m->offset, 0x10u);

      // The same table when VMCOREINFO's locations are ignored and memory is searched.
      KallsymsInput in = KallsymsInputFromVmcoreinfo(
          vi, [&k = **kmem](uint64_t va, std::span<std::byte> out) { return k.Read(va, out); });
      in.locations = {};
      t0 = std::chrono::steady_clock::now();
      auto searched = DecodeKallsyms(in);
      secs = Seconds(t0);
      ASSERT_TRUE(searched) << searched.error().ToString();
      fmt::print("{} {}: found by searching from {:#x} in {:.3f} s (token table at {:#x})\n",
                 dir.filename().string(), form, in.search_start, secs,
                 *searched->info.locations.token_table);
      EXPECT_TRUE(searched->info.searched);
      EXPECT_EQ(searched->info.addressing, info.addressing);
      EXPECT_EQ(*searched->info.locations.names, *info.locations.names);
      ExpectSameTable(searched->symbols, ks->symbols, "searched vs VMCOREINFO");

      if (reference) {
        ExpectSameTable(ks->symbols, *reference, "vmcore.elf vs vmcore.kdump-zlib");
      } else {
        reference = std::move(ks->symbols);
      }
    }

    // The vmlinux symtab, relocated, against System.map and against kallsyms.
    SCOPED_TRACE(dir.filename().string() + "/vmlinux");
    auto dump = OpenDump({(dir / "vmcore.kdump-zlib").string()});
    ASSERT_TRUE(dump);
    uint64_t slide = (*dump)->info.vmcoreinfo->kernel_offset.value_or(0);
    auto t0 = std::chrono::steady_clock::now();
    auto elf = ReadElfSymbols((dir / "vmlinux").string(), slide);
    double secs = Seconds(t0);
    ASSERT_TRUE(elf) << elf.error().ToString();
    fmt::print("{} vmlinux: {} symtab symbols in {:.3f} s\n", dir.filename().string(), elf->size(),
               secs);
    std::vector<MapSym> map_relocated;
    for (MapSym s : map) {
      if (InImage(s.address) && s.type != 'A' && s.type != 'a') s.address += slide;
      map_relocated.push_back(s);
    }
    std::vector<MapSym> missing, extra;
    Diff(map_relocated, ToMapSyms(*elf), missing, extra);
    EXPECT_TRUE(missing.empty()) << "in System.map, not in the symtab:" << Show(missing);
    // Every kallsyms symbol is in the symtab at the same address, per-CPU flag alike.
    size_t checked = 0;
    for (const Symbol& k : reference->symbols()) {
      bool found = false;
      for (const Symbol* e : elf->Lookup(k.name)) {
        if (e->address == k.address) {
          found = true;
          EXPECT_EQ(e->percpu, k.percpu) << k.name;
          if (k.type != 'A') {
            EXPECT_EQ(e->type, k.type) << k.name;
          }
        }
      }
      EXPECT_TRUE(found) << k.name << " " << std::hex << k.address;
      if (!found && ++checked > 10) break;
    }
    const Symbol* sched = elf->Find("schedule");
    ASSERT_NE(sched, nullptr);
    EXPECT_TRUE(sched->has_size);
    EXPECT_GT(sched->size, 0u);
    auto m = elf->LookupAddress(sched->address + sched->size - 1);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->symbol->name, "schedule");
    EXPECT_TRUE(m->inside);
  }
}

TEST(RealKernels, KallsymsFromVmlinuxFile) {
  auto dirs = KernelDirs(false);
  ASSERT_FALSE(dirs.empty()) << "no kernels in " << Cache();
  for (const fs::path& dir : dirs) {
    SCOPED_TRACE(dir.filename().string());
    auto img = VmlinuxImage::Open(dir / "vmlinux");
    ASSERT_TRUE(img);
    auto elf = ReadElfSymbols((dir / "vmlinux").string(), 0);
    ASSERT_TRUE(elf) << elf.error().ToString();
    std::vector<MapSym> map = ReadMap(dir / "System.map");
    std::string release = dir.filename().string();
    auto version = ParseKernelVersion(release);
    ASSERT_TRUE(version) << release;
    std::vector<MapSym> want = ExpectedKallsyms(map, 0, HasAbsolutePercpu(dir), *version);
    auto addr_of = [&](const char* n) {
      const Symbol* s = elf->Find(n);
      return s ? s->address : 0;
    };

    for (bool search : {false, true}) {
      SCOPED_TRACE(search ? "search" : "symtab locations");
      KallsymsInput in;
      in.read = img->Reader();
      if (!search) {
        auto at = [&](const char* n) -> std::optional<uint64_t> {
          const Symbol* s = elf->Find(n);
          return s ? std::optional<uint64_t>(s->address) : std::nullopt;
        };
        in.locations.num_syms = at("kallsyms_num_syms");
        in.locations.names = at("kallsyms_names");
        in.locations.token_table = at("kallsyms_token_table");
        in.locations.token_index = at("kallsyms_token_index");
        in.locations.offsets = at("kallsyms_offsets");
        in.locations.relative_base = at("kallsyms_relative_base");
        in.locations.addresses = at("kallsyms_addresses");
      }
      // As for a dump (KallsymsInputFromVmcoreinfo): from _stext up to init_top_pgt.
      in.search_start = addr_of("_stext");
      in.search_end = addr_of("init_top_pgt");
      for (const char* n : {"_stext", "init_uts_ns", "init_top_pgt", "jiffies"}) {
        ASSERT_NE(addr_of(n), 0u) << n;
        in.known_symbols.emplace_back(n, addr_of(n));
      }
      in.kernel_version = version;
      auto t0 = std::chrono::steady_clock::now();
      auto ks = DecodeKallsyms(in);
      double secs = Seconds(t0);
      ASSERT_TRUE(ks) << ks.error().ToString();
      fmt::print("{} vmlinux file{}: {} symbols, {}, {:.3f} s\n", release,
                 search ? " (searched)" : "", ks->info.num_syms,
                 KallsymsAddressingName(ks->info.addressing), secs);
      EXPECT_EQ(ks->info.known_matched, 4u);
      std::vector<MapSym> missing, extra;
      Diff(want, ToMapSyms(ks->symbols), missing, extra);
      DropLocalLabels(extra, *version);
      EXPECT_TRUE(missing.empty()) << "in System.map, not in kallsyms:" << Show(missing);
      EXPECT_TRUE(extra.empty()) << "in kallsyms, not in System.map:" << Show(extra);
    }
  }
}

}  // namespace
}  // namespace coroner
