// Page reads per second, coroner against libkdumpfile, on the same real dump files, single
// thread: for each format, sequential (every dumped pfn in order, wrapping around) and random
// (a fixed-seed shuffled sample of the dumped pfns). One iteration reads one page; the
// items_per_second counter is pages/s. bench/run-bench.sh builds this in Release, runs it and
// prints the table.
//
//   page_read_bench [--benchmark_...] [KERNEL_DIR]
//
// KERNEL_DIR defaults to $CORONER_BENCH_DUMP, else the 6.1-4level directory of the test-dump
// cache ($CORONER_TEST_DUMPS, default ~/.cache/coroner/test-dumps), else its first kernel.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lib/dump/dump.h"
#include "tests/support/kdumpfile_reader.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;
using testing::KdumpfileReader;

constexpr size_t kRandomSample = 50000;
constexpr uint64_t kSeed = 20261123;

struct Format {
  const char* name;
  std::vector<const char*> files;
};

const Format kFormats[] = {
    {"kdump-zlib", {"vmcore.kdump-zlib"}}, {"kdump-lzo", {"vmcore.kdump-lzo"}},
    {"kdump-raw", {"vmcore.kdump-raw"}},   {"flat-zlib", {"vmcore.flat-zlib"}},
    {"elf-d31", {"vmcore.elf-d31"}},       {"elf", {"vmcore.elf"}},
};

// Everything one format's benchmarks need, opened once.
struct Subject {
  std::string name;
  std::unique_ptr<Dump> dump;
  std::unique_ptr<KdumpfileReader> lk;  // null when libkdumpfile cannot read the format
  std::string lk_error;
  std::vector<uint64_t> sequential;  // every dumped pfn, ascending
  std::vector<uint64_t> random;      // a shuffled sample of them
};

std::vector<std::unique_ptr<Subject>>& Subjects() {
  static std::vector<std::unique_ptr<Subject>> s;
  return s;
}

void ReadCoroner(benchmark::State& state, const Subject* s, const std::vector<uint64_t>* pfns) {
  const PhysicalMemory& mem = *s->dump->memory;
  std::vector<std::byte> page(mem.page_size());
  size_t i = 0;
  for (auto _ : state) {
    auto r = mem.ReadPage(Pfn{(*pfns)[i]}, page);
    if (!r) {
      state.SkipWithError(r.error().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(page.data());
    if (++i == pfns->size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void ReadLibkdumpfile(benchmark::State& state, const Subject* s, const std::vector<uint64_t>* pfns) {
  std::vector<std::byte> page(s->lk->page_size());
  size_t i = 0;
  for (auto _ : state) {
    if (s->lk->ReadPage((*pfns)[i], page) != KDUMP_OK) {
      std::string e = fmt::format("pfn {:#x}: {}", (*pfns)[i], s->lk->error());
      state.SkipWithError(e.c_str());
      break;
    }
    benchmark::DoNotOptimize(page.data());
    if (++i == pfns->size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

fs::path DefaultDir() {
  if (const char* d = std::getenv("CORONER_BENCH_DUMP"); d && *d) return d;
  const char* env = std::getenv("CORONER_TEST_DUMPS");
  const char* home = std::getenv("HOME");
  fs::path cache = env && *env ? fs::path(env) : fs::path(home ? home : "/") / ".cache/coroner/test-dumps";
  if (fs::exists(cache / "6.1-4level" / "vmcore.elf")) return cache / "6.1-4level";
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cache, ec)) {
    if (e.is_directory() && !e.path().filename().string().starts_with("_") &&
        fs::exists(e.path() / "vmcore.elf") && !fs::exists(e.path() / "FAILED")) {
      dirs.push_back(e.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs.empty() ? fs::path() : dirs.front();
}

// Reads every page once through both readers so the OS page cache holds the files, and so a
// benchmark never measures the disk.
void WarmUp(const Subject& s) {
  std::vector<std::byte> page(s.dump->memory->page_size());
  for (uint64_t pfn : s.sequential) {
    (void)s.dump->memory->ReadPage(Pfn{pfn}, page);
    if (s.lk) (void)s.lk->ReadPage(pfn, page);
  }
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  fs::path dir = argc > 1 ? fs::path(argv[1]) : DefaultDir();
  if (dir.empty() || !fs::exists(dir / "vmcore.elf")) {
    fmt::print(stderr, "no dump to measure: give a kernel directory of the test-dump cache "
                       "(tests/dumps/make-test-dumps.sh makes them) or set CORONER_BENCH_DUMP\n");
    return 1;
  }
  fmt::print(stderr, "dump: {}\n", dir.string());
  benchmark::AddCustomContext("dump", dir.string());

  for (const Format& f : kFormats) {
    std::vector<std::string> paths;
    for (const char* file : f.files) paths.push_back((dir / file).string());
    if (!fs::exists(paths[0])) {
      fmt::print(stderr, "{}: {} missing, skipped\n", f.name, paths[0]);
      continue;
    }
    auto s = std::make_unique<Subject>();
    s->name = f.name;
    auto d = OpenDump(paths);
    if (!d) {
      fmt::print(stderr, "{}: coroner cannot open it: {}\n", f.name, d.error().ToString());
      return 1;
    }
    s->dump = std::move(*d);
    s->lk = KdumpfileReader::Open(paths, &s->lk_error);
    if (!s->lk) {
      fmt::print(stderr, "{}: libkdumpfile cannot open it ({}); coroner only\n", f.name, s->lk_error);
      benchmark::AddCustomContext(fmt::format("libkdumpfile_{}", f.name), "cannot read: " + s->lk_error);
    }
    s->dump->memory->ForEachDumpedRange([&](PfnRange r) {
      for (uint64_t i = 0; i < r.count; ++i) s->sequential.push_back(r.start + i);
    });
    if (s->sequential.empty()) {
      fmt::print(stderr, "{}: no dumped pages\n", f.name);
      return 1;
    }
    s->random = s->sequential;
    std::mt19937_64 rng(kSeed);
    std::shuffle(s->random.begin(), s->random.end(), rng);
    s->random.resize(std::min(s->random.size(), kRandomSample));
    benchmark::AddCustomContext(fmt::format("pages_{}", f.name), std::to_string(s->sequential.size()));
    WarmUp(*s);
    Subjects().push_back(std::move(s));
  }

  for (const auto& s : Subjects()) {
    for (const char* pattern : {"seq", "rand"}) {
      const std::vector<uint64_t>* pfns = std::string(pattern) == "seq" ? &s->sequential : &s->random;
      benchmark::RegisterBenchmark(fmt::format("{}/{}/coroner", s->name, pattern).c_str(), ReadCoroner,
                                   s.get(), pfns);
      if (s->lk) {
        benchmark::RegisterBenchmark(fmt::format("{}/{}/libkdumpfile", s->name, pattern).c_str(),
                                     ReadLibkdumpfile, s.get(), pfns);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace coroner

int main(int argc, char** argv) { return coroner::Main(argc, argv); }
