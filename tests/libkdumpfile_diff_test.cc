// Differential test: coroner against libkdumpfile, and each format against the raw ELF copy of
// /proc/vmcore, on the real test dumps (tests/dumps/make-test-dumps.sh; the cache directory is
// $CORONER_TEST_DUMPS, default ~/.cache/coroner/test-dumps, one directory per kernel).
//
// For every kernel and every form of its crash (kdump-compressed zlib/lzo/raw, makedumpfile -E
// ELF, flattened, split set, the raw ELF itself, and QEMU's own dumps when present):
//   - every page coroner reports dumped must read through coroner, equal the same page of the
//     raw ELF (vmcore.elf; qemu.elf for QEMU's dumps) read through coroner, and equal the same
//     page read through libkdumpfile (kdump_read, KDUMP_KPHYSADDR);
//   - the pages coroner reports dumped must be exactly those libkdumpfile reads (every pfn up to
//     the larger of the two readers' limits is tried); libkdumpfile's file.pagemap is compared
//     too, for information;
//   - every kdump-compressed form made with the same filter holds the same pages.
// Differences are printed with their pfns; any difference fails the test. So does a cache with
// no dumps: CI makes them first, and a test that cannot see them must not pass.
//
// libkdumpfile 0.5.1 cannot read makedumpfile's flattened format; the flattened form is then
// compared with libkdumpfile's reading of the same crash's kdump-zlib file (same filter, so the
// same pages), and the report says so.
//
//   CORONER_TEST_DUMPS=~/.cache/coroner/test-dumps build/tests/libkdumpfile_diff_test [KERNEL...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lib/dump/dump.h"
#include "tests/support/kdumpfile_reader.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;
using testing::KdumpfileReader;

struct Form {
  const char* name;
  std::vector<const char*> files;
  const char* reference;  // the raw ELF of the same capture
  bool required;          // every successfully made kernel dir has it
  const char* same_pages_as = nullptr;  // a form made with the same filter
};

const std::vector<Form>& Forms() {
  static const std::vector<Form> forms = {
      {"kdump-zlib", {"vmcore.kdump-zlib"}, "vmcore.elf", true},
      {"kdump-lzo", {"vmcore.kdump-lzo"}, "vmcore.elf", true, "kdump-zlib"},
      {"kdump-raw", {"vmcore.kdump-raw"}, "vmcore.elf", true, "kdump-zlib"},
      {"flat-zlib", {"vmcore.flat-zlib"}, "vmcore.elf", true, "kdump-zlib"},
      {"split-zlib", {"vmcore.split-zlib.1", "vmcore.split-zlib.2"}, "vmcore.elf", true, "kdump-zlib"},
      // Made by coroner's own writer (tests/dumps/make-writer-dumps.sh): Debian's makedumpfile
      // has no snappy or zstd.
      {"kdump-snappy", {"vmcore.kdump-snappy"}, "vmcore.elf", true, "kdump-zlib"},
      {"kdump-zstd", {"vmcore.kdump-zstd"}, "vmcore.elf", true, "kdump-zlib"},
      {"elf-d31", {"vmcore.elf-d31"}, "vmcore.elf", true},
      {"elf", {"vmcore.elf"}, "vmcore.elf", true},
      {"kdump-zlib-d23", {"vmcore.kdump-zlib-d23"}, "vmcore.elf", false},
      {"qemu-elf", {"qemu.elf"}, "qemu.elf", false},
      {"qemu-kdump-zlib", {"qemu.kdump-zlib"}, "qemu.elf", false},
      {"qemu-flat-zlib", {"qemu.flat-zlib"}, "qemu.elf", false, "qemu-kdump-zlib"},
  };
  return forms;
}

// Collects differences of one kind; prints the first few runs of pfns.
class Diffs {
 public:
  explicit Diffs(std::string what) : what_(std::move(what)) {}
  void Add(uint64_t pfn, const std::string& detail = "") { AddRange({pfn, 1}, detail); }
  void AddRange(PfnRange r, const std::string& detail) {
    if (!examples_.empty() && examples_.back().run.start + examples_.back().run.count == r.start &&
        examples_.back().detail == detail) {
      examples_.back().run.count += r.count;
    } else if (examples_.size() < kShown) {
      examples_.push_back({r, detail});
    } else {
      more_ = true;
    }
    count_ += r.count;
  }
  uint64_t count() const { return count_; }
  void Print(const std::string& indent) const {
    if (!count_) return;
    fmt::print("{}{}: {} pages\n", indent, what_, count_);
    for (const auto& e : examples_) {
      if (e.run.count == 1) {
        fmt::print("{}  pfn {:#x}", indent, e.run.start);
      } else {
        fmt::print("{}  pfns {:#x}-{:#x} ({} pages)", indent, e.run.start,
                   e.run.start + e.run.count - 1, e.run.count);
      }
      fmt::print("{}{}\n", e.detail.empty() ? "" : ": ", e.detail);
    }
    if (more_) fmt::print("{}  ...\n", indent);
  }

 private:
  static constexpr size_t kShown = 8;
  struct Example {
    PfnRange run;
    std::string detail;
  };
  std::string what_;
  uint64_t count_ = 0;
  std::vector<Example> examples_;
  bool more_ = false;
};

std::vector<PfnRange> DumpedRanges(const PhysicalMemory& mem) {
  std::vector<PfnRange> out;
  mem.ForEachDumpedRange([&](PfnRange r) {
    if (!out.empty() && out.back().start + out.back().count == r.start) {
      out.back().count += r.count;  // join runs that touch (adjacent segments or files)
    } else {
      out.push_back(r);
    }
  });
  return out;
}

// Runs in a but not in b.
std::vector<PfnRange> Minus(const std::vector<PfnRange>& a, const std::vector<PfnRange>& b) {
  std::vector<PfnRange> out;
  size_t j = 0;
  for (PfnRange r : a) {
    uint64_t cur = r.start, end = r.start + r.count;
    while (j < b.size() && b[j].start + b[j].count <= cur) ++j;
    for (size_t k = j; k < b.size() && b[k].start < end && cur < end; ++k) {
      if (b[k].start > cur) out.push_back({cur, b[k].start - cur});
      cur = std::max(cur, b[k].start + b[k].count);
    }
    if (cur < end) out.push_back({cur, end - cur});
  }
  return out;
}

uint64_t PageCount(const std::vector<PfnRange>& rs) {
  uint64_t n = 0;
  for (auto r : rs) n += r.count;
  return n;
}

struct FormResult {
  bool ran = false;
  bool ok = true;
  std::string summary;
  std::vector<PfnRange> dumped;
};

class KernelCheck {
 public:
  explicit KernelCheck(fs::path dir) : dir_(std::move(dir)) {}

  // Returns false when anything differs.
  bool Run() {
    fmt::print("== {}\n", dir_.filename().string());
    bool ok = true;
    for (const Form& form : Forms()) {
      std::vector<std::string> paths;
      bool present = true;
      for (const char* f : form.files) {
        paths.push_back((dir_ / f).string());
        present = present && fs::exists(paths.back());
      }
      if (!present) {
        if (form.required) {
          fmt::print("  {:<16} MISSING ({} not in {})\n", form.name, form.files[0], dir_.string());
          ok = false;
        } else {
          fmt::print("  {:<16} not made for this kernel (optional)\n", form.name);
        }
        continue;
      }
      FormResult& r = results_[form.name];
      CheckForm(form, paths, r);
      ok = ok && r.ok;
    }
    return ok;
  }

 private:
  const PhysicalMemory* Reference(const char* name, std::string* error) {
    auto it = refs_.find(name);
    if (it == refs_.end()) {
      auto d = OpenDump({(dir_ / name).string()});
      if (!d) {
        *error = d.error().ToString();
        return nullptr;
      }
      it = refs_.emplace(name, std::move(*d)).first;
    }
    return it->second->memory.get();
  }

  void CheckForm(const Form& form, const std::vector<std::string>& paths, FormResult& res) {
    auto t0 = std::chrono::steady_clock::now();
    res.ran = true;
    const std::string indent = "      ";
    auto fail = [&](const std::string& why) {
      fmt::print("  {:<16} FAIL: {}\n", form.name, why);
      res.ok = false;
    };

    auto dump = OpenDump(paths);
    if (!dump) return fail("coroner cannot open it: " + dump.error().ToString());
    const PhysicalMemory& mem = *(*dump)->memory;
    std::string err;
    const PhysicalMemory* ref = Reference(form.reference, &err);
    if (!ref) return fail(fmt::format("coroner cannot open {}: {}", form.reference, err));
    if (ref->page_size() != mem.page_size()) {
      return fail(fmt::format("page size {} but {} has {}", mem.page_size(), form.reference, ref->page_size()));
    }

    // libkdumpfile on the same files; for a format it cannot read, on the form with the same
    // pages it can.
    int virt_bits = 48;
    if (const auto& vi = (*dump)->info.vmcoreinfo; vi && vi->Number("pgtable_l5_enabled").value_or(0)) {
      virt_bits = 57;
    }
    std::string lk_note;
    std::unique_ptr<KdumpfileReader> lk = KdumpfileReader::Open(paths, &err, virt_bits);
    if (!lk && form.same_pages_as && std::string(form.name).find("flat") != std::string::npos) {
      const Form* alt = nullptr;
      for (const Form& f : Forms()) {
        if (std::string(f.name) == form.same_pages_as) alt = &f;
      }
      std::vector<std::string> alt_paths;
      for (const char* f : alt->files) alt_paths.push_back((dir_ / f).string());
      lk_note = fmt::format(" (libkdumpfile cannot read it [{}]; compared with its reading of {})", err,
                            alt->files[0]);
      lk = KdumpfileReader::Open(alt_paths, &err, virt_bits);
    }
    if (!lk) return fail("libkdumpfile cannot open it: " + err);
    if (lk->page_size() != mem.page_size()) {
      return fail(fmt::format("page size {} but libkdumpfile says {}", mem.page_size(), lk->page_size()));
    }

    res.dumped = DumpedRanges(mem);
    const uint64_t dumped = PageCount(res.dumped);
    if (!res.dumped.empty() && lk->FallBackToMachinePhysical(res.dumped[0].start)) {
      lk_note += " (libkdumpfile cannot map its kernel physical addresses [no VMCOREINFO]; read "
                 "as machine physical)";
    }
    const uint64_t limit = std::max(mem.pfn_limit(), lk->max_pfn());
    Diffs vs_sibling(fmt::format("pages that differ from {}'s dumped set", form.same_pages_as ? form.same_pages_as : ""));
    if (form.same_pages_as) {
      auto it = results_.find(form.same_pages_as);
      if (it != results_.end() && it->second.ran) {
        for (PfnRange r : Minus(res.dumped, it->second.dumped)) vs_sibling.AddRange(r, "only here");
        for (PfnRange r : Minus(it->second.dumped, res.dumped)) vs_sibling.AddRange(r, "only there");
      }
    }

    // Every pfn, in order: a page coroner reports dumped must read the same through coroner,
    // the raw ELF and libkdumpfile; any other page must not read through libkdumpfile either.
    const size_t ps = mem.page_size();
    std::vector<std::byte> a(ps), b(ps), c(ps);
    Diffs unreadable("dumped but unreadable through coroner");
    Diffs not_in_ref(fmt::format("dumped but not in {}", form.reference));
    Diffs differ_ref(fmt::format("content differs from {} (through coroner)", form.reference));
    Diffs lk_unreadable("dumped for coroner, unreadable through libkdumpfile");
    Diffs lk_only("readable through libkdumpfile, not dumped for coroner");
    Diffs differ_lk("content differs from libkdumpfile");
    // libkdumpfile 0.5.1 reads the page just before each ELF PT_LOAD segment as zeros although no
    // segment holds it (off by one in its ELF reader); coroner rightly reports it not present or
    // excluded. Shown, not counted.
    Diffs lk_zero_before_segment(
        "note: libkdumpfile reads as zeros the page before a PT_LOAD (its 0.5.1 off-by-one), "
        "coroner: not in the dump");
    const bool elf = (*dump)->info.format.find("ELF") != std::string::npos;
    uint64_t equal_ref = 0, equal_lk = 0;
    size_t ri = 0;
    for (uint64_t pfn = 0; pfn < limit; ++pfn) {
      while (ri < res.dumped.size() && res.dumped[ri].start + res.dumped[ri].count <= pfn) ++ri;
      const bool is_dumped = ri < res.dumped.size() && res.dumped[ri].start <= pfn;
      const kdump_status lk_status = lk->ReadPage(pfn, c);
      if (!is_dumped) {
        if (lk_status != KDUMP_OK) continue;
        const bool next_starts_run = ri < res.dumped.size() && res.dumped[ri].start == pfn + 1;
        if (elf && next_starts_run && std::all_of(c.begin(), c.end(), [](std::byte x) { return x == std::byte{0}; })) {
          lk_zero_before_segment.Add(pfn, std::string(PageStateName(mem.StateOf(Pfn{pfn}))));
        } else {
          lk_only.Add(pfn, std::string(PageStateName(mem.StateOf(Pfn{pfn}))));
        }
        continue;
      }
      auto rc = mem.ReadPage(Pfn{pfn}, a);
      if (!rc) {
        unreadable.Add(pfn, rc.error().ToString());
        continue;
      }
      if (ref->StateOf(Pfn{pfn}) != PageState::kDumped) {
        not_in_ref.Add(pfn, std::string(PageStateName(ref->StateOf(Pfn{pfn}))));
      } else if (auto rr = ref->ReadPage(Pfn{pfn}, b); !rr) {
        not_in_ref.Add(pfn, rr.error().ToString());
      } else if (std::memcmp(a.data(), b.data(), ps) != 0) {
        differ_ref.Add(pfn);
      } else {
        ++equal_ref;
      }
      if (lk_status != KDUMP_OK) {
        lk_unreadable.Add(pfn, lk->error());
      } else if (std::memcmp(a.data(), c.data(), ps) != 0) {
        differ_lk.Add(pfn);
      } else {
        ++equal_lk;
      }
    }

    // libkdumpfile's own map of the file, for information: 0.5.1 gets it wrong for ELF files
    // with overlapping segments (/proc/vmcore maps kernel text twice), so it does not decide;
    // and it crashes reading the map of a split set, so that is not asked.
    Diffs map_only_coroner("note: dumped for coroner, not in libkdumpfile's file.pagemap");
    Diffs map_only_lk("note: in libkdumpfile's file.pagemap, not dumped for coroner");
    std::vector<std::string> notes;
    if (paths.size() > 1) {
      notes.push_back("note: libkdumpfile's file.pagemap not compared (0.5.1 crashes on a split set's)");
    } else if (auto map = lk->FilePages(limit, &err)) {
      for (PfnRange r : Minus(res.dumped, *map)) map_only_coroner.AddRange(r, "");
      for (PfnRange r : Minus(*map, res.dumped)) {
        map_only_lk.AddRange(r, fmt::format("coroner: {}", PageStateName(mem.StateOf(Pfn{r.start}))));
      }
    } else {
      notes.push_back("note: libkdumpfile gives no page map: " + err);
    }

    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool sets_agree = lk_unreadable.count() + lk_only.count() == 0;
    const bool same = sets_agree && vs_sibling.count() + unreadable.count() + not_in_ref.count() +
                                            differ_ref.count() + differ_lk.count() == 0;
    res.ok = res.ok && same;
    fmt::print("  {:<16} {} {} dumped pages; = {}: {}; = libkdumpfile: {}; readable sets agree: {}{}{} "
               "[{:.1f}s]{}\n",
               form.name, same ? "OK  " : "FAIL", dumped, form.reference, equal_ref, equal_lk,
               sets_agree ? "yes" : "NO",
               form.same_pages_as ? fmt::format("; same pages as {}: ", form.same_pages_as) : "",
               form.same_pages_as ? (vs_sibling.count() ? "NO" : "yes") : "", secs, lk_note);
    for (const Diffs* d : {&vs_sibling, &unreadable, &not_in_ref, &differ_ref, &lk_unreadable, &lk_only,
                           &differ_lk, &lk_zero_before_segment, &map_only_coroner, &map_only_lk}) {
      d->Print(indent);
    }
    for (const std::string& n : notes) fmt::print("{}{}\n", indent, n);
  }

  fs::path dir_;
  std::map<std::string, std::unique_ptr<Dump>> refs_;
  std::map<std::string, FormResult> results_;
};

int Main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines appear as they are made, even under ctest
  const char* env = std::getenv("CORONER_TEST_DUMPS");
  const char* home = std::getenv("HOME");
  fs::path cache = env && *env ? fs::path(env) : fs::path(home ? home : "/") / ".cache/coroner/test-dumps";
  std::vector<fs::path> dirs;
  std::error_code ec;
  if (fs::is_directory(cache, ec)) {
    for (const auto& e : fs::directory_iterator(cache)) {
      std::string name = e.path().filename().string();
      if (!e.is_directory() || name.starts_with("_")) continue;
      if (argc > 1 && std::find(argv + 1, argv + argc, name) == argv + argc) continue;
      if (fs::exists(e.path() / "FAILED")) {
        fmt::print("== {}: skipped, the dump script could not make it (see {}/FAILED)\n", name,
                   e.path().string());
        continue;
      }
      if (!fs::exists(e.path() / "vmcore.elf")) {
        fmt::print("== {}: skipped, no vmcore.elf (not made yet?)\n", name);
        continue;
      }
      dirs.push_back(e.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) {
    std::fflush(stdout);
    fmt::print(stderr,
               "FAIL: no real test dumps in {}\n"
               "Run tests/dumps/make-test-dumps.sh first (CI makes them before running the tests),\n"
               "or point CORONER_TEST_DUMPS at a directory that has them.\n",
               cache.string());
    return 1;
  }
  bool ok = true;
  for (const fs::path& d : dirs) ok = KernelCheck(d).Run() && ok;
  fmt::print("{}\n", ok ? "PASS: coroner, the raw ELF and libkdumpfile agree on every page"
                        : "FAIL: differences above");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace coroner

int main(int argc, char** argv) { return coroner::Main(argc, argv); }
