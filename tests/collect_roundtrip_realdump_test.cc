// coroner collect's output read back, on the real 6.1 dump (6.1-4level, or CORONER_COLLECT_KERNEL),
// and at -d 31 on every test kernel (every kept page equals the raw ELF's):
//  - every format (kdump none/zlib/lzo/snappy/zstd, flattened, a 3-file split set, ELF) at
//    -d 31 opens in coroner, holds exactly the pages the filter kept, and every one of them
//    equals the input's bytes;
//  - the kdump zlib output reads the same through libkdumpfile (the reference reader);
//  - the output is byte-for-byte the same with 0, 1, 2 and 3 threads;
//  - -d 1 shares one descriptor among all-zero pages (as makedumpfile): same bitmap as -d 0;
//  - re-filtering works: the -d 0 kdump output, collected again at -d 31, equals the -d 31
//    output of the ELF (the same pages, the same bytes);
//  - a sink that fails (a full disk, after N bytes) and a cancel in the middle both leave a
//    dump marked incomplete whose every readable page equals the input's.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lib/collect/collector.h"
#include "lib/dump/dump.h"
#include "tests/support/kdumpfile_reader.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;

fs::path KernelDir() {
  fs::path cache = std::getenv("CORONER_TEST_DUMPS")
                       ? fs::path(std::getenv("CORONER_TEST_DUMPS"))
                       : fs::path(std::getenv("HOME") ? std::getenv("HOME") : "/root") / ".cache/coroner/test-dumps";
  const char* k = std::getenv("CORONER_COLLECT_KERNEL");
  return cache / (k ? k : "6.1-4level");
}

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class CollectRoundtrip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(fs::exists(KernelDir() / "vmcore.elf")) << "no real test dump in " << KernelDir();
    auto d = OpenDump({(KernelDir() / "vmcore.elf").string()});
    ASSERT_TRUE(d) << d.error().ToString();
    input_ = std::move(*d).release();
    char tmpl[] = "/tmp/collect-roundtrip.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  static void TearDownTestSuite() {
    delete input_;
    input_ = nullptr;
    fs::remove_all(dir_);
  }

  // Runs the collector on `in` into files named `names` (flattened if asked).
  static CollectStats Run(const Dump& in, CollectOptions o, const std::vector<std::string>& names,
                          bool flattened = false) {
    std::vector<std::unique_ptr<ByteSink>> sinks;
    for (const auto& n : names) {
      auto f = FileSink::Create(dir_ + "/" + n);
      EXPECT_TRUE(f);
      std::unique_ptr<ByteSink> s = std::move(*f);
      if (flattened) s = std::make_unique<FlattenedSink>(std::move(s));
      sinks.push_back(std::move(s));
    }
    auto st = Collect(in, o, std::move(sinks));
    EXPECT_TRUE(st) << st.error().ToString();
    return st ? *st : CollectStats{};
  }

  // Every page the output holds equals the input's; returns how many were compared.
  static uint64_t CheckPages(const PhysicalMemory& out, const PhysicalMemory& in) {
    std::vector<std::byte> a(in.page_size()), b(in.page_size());
    uint64_t n = 0;
    out.ForEachDumpedRange([&](PfnRange r) {
      for (uint64_t pfn = r.start; pfn < r.start + r.count; ++pfn) {
        ASSERT_TRUE(out.ReadPage(Pfn{pfn}, a)) << pfn;
        ASSERT_TRUE(in.ReadPage(Pfn{pfn}, b)) << pfn;
        ASSERT_EQ(a, b) << fmt::format("pfn {:#x} differs", pfn);
        ++n;
      }
    });
    return n;
  }

  static std::unique_ptr<Dump> Open(const std::vector<std::string>& names) {
    std::vector<std::string> paths;
    for (const auto& n : names) paths.push_back(dir_ + "/" + n);
    auto d = OpenDump(paths);
    EXPECT_TRUE(d) << d.error().ToString();
    return d ? std::move(*d) : nullptr;
  }

  static inline Dump* input_ = nullptr;
  static inline std::string dir_;
};

TEST_F(CollectRoundtrip, EveryFormatHoldsTheKeptPagesWithTheInputsBytes) {
  CollectOptions o;
  o.dump_level = 31;
  o.threads = 2;
  const CollectStats ref = Run(*input_, o, {"plain"});
  EXPECT_FALSE(ref.incomplete);
  EXPECT_GT(ref.dumped_pages, 15000u);
  EXPECT_LT(ref.dumped_pages, 30000u);
  struct Case {
    const char* name;
    Compression c;
    bool elf, flat;
    int files;
    const char* method;
  };
  const Case cases[] = {
      {"none", Compression::kNone, false, false, 1, "none"},
      {"zlib", Compression::kZlib, false, false, 1, "zlib"},
      {"lzo", Compression::kLzo, false, false, 1, "lzo"},
      {"snappy", Compression::kSnappy, false, false, 1, "snappy"},
      {"zstd", Compression::kZstd, false, false, 1, "zstd"},
      {"flat", Compression::kZlib, false, true, 1, "zlib"},
      {"split", Compression::kLzo, false, false, 3, "lzo"},
      {"elf", Compression::kNone, true, false, 1, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CollectOptions co = o;
    co.compression = c.c;
    co.elf = c.elf;
    std::vector<std::string> names;
    for (int i = 0; i < c.files; ++i) names.push_back(fmt::format("{}.{}", c.name, i));
    const CollectStats st = Run(*input_, co, names, c.flat);
    EXPECT_FALSE(st.incomplete);
    auto out = Open(names);
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->info.incomplete);
    EXPECT_EQ(out->info.format, c.elf ? "ELF vmcore" : c.flat ? "flattened kdump-compressed"
                                                               : c.files > 1 ? "kdump-compressed (split set of 3 files)"
                                                                             : "kdump-compressed")
        << out->info.format;
    if (!c.elf) {
      EXPECT_EQ(out->info.dump_level, 31);
      auto& m = out->info.compression;
      EXPECT_NE(std::find(m.begin(), m.end(), c.method), m.end()) << fmt::format("{}", fmt::join(m, ","));
    }
    // ELF has no shared zero page: -d 31 (bit 1) leaves the zero pages out there.
    const uint64_t want = c.elf ? ref.dumped_pages - ref.zero_pages : ref.dumped_pages;
    EXPECT_EQ(out->memory->CountPages().dumped, want);
    EXPECT_EQ(CheckPages(*out->memory, *input_->memory), want);
  }
}

TEST_F(CollectRoundtrip, LibkdumpfileReadsTheZlibOutput) {
  CollectOptions o;
  o.dump_level = 31;
  o.compression = Compression::kZlib;
  Run(*input_, o, {"lk.zlib"});
  std::string err;
  auto lk = testing::KdumpfileReader::Open({dir_ + "/lk.zlib"}, &err);
  ASSERT_TRUE(lk) << err;
  auto out = Open({"lk.zlib"});
  ASSERT_TRUE(out);
  std::vector<std::byte> a(4096), b(4096);
  uint64_t n = 0;
  out->memory->ForEachDumpedRange([&](PfnRange r) {
    for (uint64_t pfn = r.start; pfn < r.start + r.count; ++pfn) {
      ASSERT_EQ(lk->ReadPage(pfn, a), KDUMP_OK) << fmt::format("pfn {:#x}: {}", pfn, lk->error());
      ASSERT_TRUE(input_->memory->ReadPage(Pfn{pfn}, b));
      ASSERT_EQ(a, b) << fmt::format("pfn {:#x}", pfn);
      ++n;
    }
  });
  EXPECT_EQ(n, out->memory->CountPages().dumped);
  // A page the filter left out is not readable through libkdumpfile either.
  uint64_t excluded = 0;
  for (uint64_t pfn = 0; pfn < out->memory->pfn_limit() && excluded < 1000; ++pfn) {
    if (out->memory->StateOf(Pfn{pfn}) != PageState::kExcluded) continue;
    EXPECT_NE(lk->ReadPage(pfn, a), KDUMP_OK) << pfn;
    ++excluded;
  }
  EXPECT_EQ(excluded, 1000u);
}

TEST_F(CollectRoundtrip, SameBytesWhateverTheThreadCount) {
  for (Compression c : {Compression::kZlib, Compression::kZstd}) {
    std::string first;
    for (unsigned t : {0u, 1u, 2u, 3u}) {
      CollectOptions o;
      o.dump_level = 31;
      o.compression = c;
      o.threads = t;
      const std::string name = fmt::format("t{}.{}", t, CompressionName(c));
      Run(*input_, o, {name});
      std::string bytes = ReadFile(dir_ + "/" + name);
      fs::remove(dir_ + "/" + name);
      ASSERT_GT(bytes.size(), 1000000u);
      if (first.empty()) {
        first = std::move(bytes);
      } else {
        EXPECT_TRUE(bytes == first) << t << " threads gave other bytes than 0 threads";
      }
    }
  }
}

TEST_F(CollectRoundtrip, ZeroPagesShareOneDescriptorAndRefilteringWorks) {
  CollectOptions o;
  o.compression = Compression::kLzo;
  o.dump_level = 0;
  const CollectStats d0 = Run(*input_, o, {"d0"});
  o.dump_level = 1;
  const CollectStats d1 = Run(*input_, o, {"d1"});
  EXPECT_EQ(d0.dumped_pages, d1.dumped_pages);
  EXPECT_EQ(d0.zero_pages, 0u);
  EXPECT_GT(d1.zero_pages, 1000u);
  EXPECT_LT(fs::file_size(dir_ + "/d1"), fs::file_size(dir_ + "/d0"));
  auto back = Open({"d1"});
  ASSERT_TRUE(back);
  EXPECT_EQ(CheckPages(*back->memory, *input_->memory), d1.dumped_pages);

  // kdump -d 0 -> -d 31 gives what ELF -> -d 31 gives.
  auto d0dump = Open({"d0"});
  ASSERT_TRUE(d0dump);
  o.dump_level = 31;
  Run(*d0dump, o, {"re31"});
  Run(*input_, o, {"direct31"});
  EXPECT_TRUE(ReadFile(dir_ + "/re31") == ReadFile(dir_ + "/direct31"));
}

// Every test kernel (not only the one the suite opens): -d 31 zlib, every kept page equals the
// raw ELF's bytes, and the output holds what the filter kept.
TEST_F(CollectRoundtrip, EveryKernelsKeptPagesEqualTheInput) {
  const fs::path cache = KernelDir().parent_path();
  int kernels = 0;
  for (const auto& e : fs::directory_iterator(cache)) {
    if (!e.is_directory() || e.path().filename().string()[0] == '_' || !fs::exists(e.path() / "vmcore.elf") ||
        fs::exists(e.path() / "FAILED")) {
      continue;
    }
    SCOPED_TRACE(e.path().filename().string());
    auto in = OpenDump({(e.path() / "vmcore.elf").string()});
    ASSERT_TRUE(in) << in.error().ToString();
    CollectOptions o;
    o.dump_level = 31;
    o.compression = Compression::kZlib;
    o.threads = 2;
    const CollectStats st = Run(**in, o, {"every"});
    EXPECT_FALSE(st.incomplete);
    EXPECT_GT(st.priority_pages, 5000u);
    auto out = Open({"every"});
    ASSERT_TRUE(out);
    EXPECT_EQ(out->memory->CountPages().dumped, st.dumped_pages);
    EXPECT_EQ(CheckPages(*out->memory, *(*in)->memory), st.dumped_pages);
    ++kernels;
  }
  EXPECT_GE(kernels, 5);
}

// A file that runs out of space after `limit` bytes past offset 0 (writes wholly below the limit
// succeed, as do rewrites of blocks already written; like a full disk).
class FullDiskSink final : public ByteSink {
 public:
  FullDiskSink(std::unique_ptr<ByteSink> file, uint64_t limit) : file_(std::move(file)), limit_(limit) {}
  Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) override {
    if (offset + data.size() > limit_ && offset + data.size() > high_) {
      return Error(ErrorCode::kIo, fmt::format("{}: write failed: No space left on device", name()),
                   AtOffset(offset));
    }
    high_ = std::max(high_, offset + data.size());
    return file_->WriteAt(offset, data);
  }
  Result<void> Finish() override { return file_->Finish(); }
  const std::string& name() const override { return file_->name(); }

 private:
  std::unique_ptr<ByteSink> file_;
  uint64_t limit_;
  uint64_t high_ = 0;
};

TEST_F(CollectRoundtrip, FullDiskAndCancelLeaveAValidIncompleteDump) {
  for (int mode : {0, 1}) {
    SCOPED_TRACE(mode == 0 ? "full disk" : "cancel");
    CollectOptions o;
    o.dump_level = 31;
    o.compression = Compression::kZlib;
    o.threads = 2;
    std::atomic<bool> cancel{false};
    o.cancel = &cancel;
    if (mode == 1) {
      o.progress = [&](uint64_t done, uint64_t) {
        if (done > 5000) cancel = true;
      };
    }
    const std::string name = mode == 0 ? "full" : "cancelled";
    auto f = FileSink::Create(dir_ + "/" + name);
    ASSERT_TRUE(f);
    std::vector<std::unique_ptr<ByteSink>> sinks;
    if (mode == 0) {
      sinks.push_back(std::make_unique<FullDiskSink>(std::move(*f), 6u << 20));
    } else {
      sinks.push_back(std::move(*f));
    }
    auto st = Collect(*input_, o, std::move(sinks));
    ASSERT_TRUE(st) << st.error().ToString();
    EXPECT_TRUE(st->incomplete);
    ASSERT_FALSE(st->incomplete_reasons.empty());
    EXPECT_NE(st->incomplete_reasons[0].find(mode == 0 ? "No space left" : "interrupted"), std::string::npos)
        << st->incomplete_reasons[0];
    auto out = Open({name});
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->info.incomplete);
    const PageCounts pc = out->memory->CountPages();
    EXPECT_GT(pc.dumped, 3000u);
    EXPECT_GT(pc.truncated, 3000u);
    EXPECT_EQ(pc.dumped + pc.truncated, st->dumped_pages);
    EXPECT_EQ(CheckPages(*out->memory, *input_->memory), pc.dumped);
    if (mode == 0) {
      EXPECT_LE(fs::file_size(dir_ + "/" + name), 6u << 20);
    }
  }
}

}  // namespace
}  // namespace coroner
