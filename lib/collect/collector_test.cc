// The collector on synthetic dumps (lib/dump/testing): output read back, identical bytes for
// every thread count, zero pages, unreadable input, a full disk, cancel, ELF. The page filter
// itself needs real struct pages: tests/collect_filter_realdump_test.cc.
#include "lib/collect/collector.h"

#include <gtest/gtest.h>

#include <atomic>

#include "lib/dump/dump.h"
#include "lib/dump/testing/synthetic_dump.h"

namespace coroner {
namespace {

using namespace coroner::testing;  // NOLINT: test helpers
using Bytes = std::vector<std::byte>;

std::unique_ptr<Dump> OpenSpec(const DumpSpec& spec) {
  auto d = OpenBytes({{"in.elf", BuildElf(spec)}});
  EXPECT_TRUE(d) << d.error().ToString();
  return d ? std::move(*d) : nullptr;
}

struct Out {
  Result<CollectStats> stats;
  Bytes bytes;
};

Out RunCollect(const Dump& in, const CollectOptions& o) {
  CapturedOutput cap = CaptureOutput("out");
  std::vector<std::unique_ptr<ByteSink>> sinks;
  sinks.push_back(std::move(cap.sink));
  auto st = Collect(in, o, std::move(sinks));
  return {std::move(st), cap.memory->bytes()};
}

TEST(Collect, SameBytesForEveryThreadCountAndEveryPageBack) {
  DumpSpec spec = StandardSpec();
  auto in = OpenSpec(spec);
  ASSERT_TRUE(in);
  for (Compression c : {Compression::kNone, Compression::kZlib, Compression::kZstd}) {
    Bytes first;
    for (unsigned t : {0u, 1u, 2u, 3u, 8u}) {
      CollectOptions o;
      o.compression = c;
      o.threads = t;
      Out out = RunCollect(*in, o);
      ASSERT_TRUE(out.stats) << out.stats.error().ToString();
      EXPECT_FALSE(out.stats->incomplete);
      if (t == 0) {
        first = out.bytes;
        auto back = OpenBytes({{"out", out.bytes}});
        ASSERT_TRUE(back) << back.error().ToString();
        EXPECT_EQ(CheckPages(*(*back)->memory, spec), "");
        EXPECT_EQ((*back)->info.dump_level, 0);
      } else {
        EXPECT_EQ(out.bytes, first) << t << " threads, " << CompressionName(c);
      }
    }
  }
}

TEST(Collect, LevelOneSharesTheZeroPage) {
  DumpSpec spec = StandardSpec();
  auto in = OpenSpec(spec);
  CollectOptions o;
  o.dump_level = 1;
  o.compression = Compression::kLzo;
  Out out = RunCollect(*in, o);
  ASSERT_TRUE(out.stats) << out.stats.error().ToString();
  EXPECT_GT(out.stats->zero_pages, 0u);
  EXPECT_FALSE(out.stats->filtered);
  auto back = OpenBytes({{"out", out.bytes}});
  ASSERT_TRUE(back);
  EXPECT_EQ(CheckPages(*(*back)->memory, spec), "");
  // ELF: zero pages are left out instead.
  o.elf = true;
  o.compression = Compression::kNone;
  Out elf = RunCollect(*in, o);
  ASSERT_TRUE(elf.stats) << elf.stats.error().ToString();
  EXPECT_EQ(elf.stats->zero_pages, out.stats->zero_pages);
  auto eb = OpenBytes({{"out", elf.bytes}});
  ASSERT_TRUE(eb);
  EXPECT_EQ((*eb)->memory->CountPages().dumped, out.stats->dumped_pages - out.stats->zero_pages);
}

TEST(Collect, FilteringNeedsStructPages) {
  auto in = OpenSpec(StandardSpec());  // VMCOREINFO has no OFFSET(page.*)
  CollectOptions o;
  o.dump_level = 31;
  Out out = RunCollect(*in, o);
  ASSERT_FALSE(out.stats);
  EXPECT_NE(out.stats.error().message().find("cannot"), std::string::npos) << out.stats.error().ToString();
}

TEST(Collect, UnreadableInputPagesAreCountedAndMarkTheDumpIncomplete) {
  DumpSpec spec = StandardSpec();
  Bytes elf = BuildElf(spec);
  // Fail reads in the middle of the file: some page data becomes unreadable.
  const uint64_t mid = elf.size() / 2;
  std::vector<std::unique_ptr<ByteSource>> src;
  src.push_back(std::make_unique<FailingSource>(Source(elf, "in.elf"), mid, mid + 3 * 4096));
  auto in = OpenDumpSources(std::move(src));
  ASSERT_TRUE(in) << in.error().ToString();
  CollectOptions o;
  o.compression = Compression::kZstd;
  o.threads = 2;
  Out out = RunCollect(**in, o);
  ASSERT_TRUE(out.stats) << out.stats.error().ToString();
  EXPECT_TRUE(out.stats->incomplete);
  EXPECT_GE(out.stats->read_errors, 3u);
  EXPECT_LE(out.stats->read_errors, 4u);
  EXPECT_EQ(out.stats->missing_pages, out.stats->read_errors);
  auto back = OpenBytes({{"out", out.bytes}});
  ASSERT_TRUE(back);
  EXPECT_TRUE((*back)->info.incomplete);
  EXPECT_EQ((*back)->memory->CountPages().truncated, out.stats->read_errors);
}

// Fails every write that would grow the output past `limit` bytes.
class FullSink final : public ByteSink {
 public:
  FullSink(std::shared_ptr<MemorySink> mem, uint64_t limit) : mem_(std::move(mem)), limit_(limit) {}
  Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) override {
    if (offset + data.size() > std::max<uint64_t>(limit_, mem_->bytes().size())) {
      return Error(ErrorCode::kIo, "out: write failed: No space left on device");
    }
    return mem_->WriteAt(offset, data);
  }
  Result<void> Finish() override { return Ok(); }
  const std::string& name() const override { return mem_->name(); }

 private:
  std::shared_ptr<MemorySink> mem_;
  uint64_t limit_;
};

TEST(Collect, FullDiskAndCancelLeaveAnIncompleteDumpOfCorrectPages) {
  DumpSpec spec = StandardSpec();
  spec.ranges.push_back({256, 1500, PageState::kDumped});  // several windows of pages
  auto in = OpenSpec(spec);
  for (int mode : {0, 1}) {
    SCOPED_TRACE(mode ? "cancel" : "full");
    auto mem = std::make_shared<MemorySink>("out");
    std::vector<std::unique_ptr<ByteSink>> sinks;
    std::atomic<bool> cancel{false};
    CollectOptions o;
    o.threads = 2;
    o.cancel = &cancel;
    if (mode == 0) {
      // Header, sub-header, bitmaps and descriptors take 6 blocks; room for 40 pages more.
      sinks.push_back(std::make_unique<FullSink>(mem, (6 + 40) * 4096));
    } else {
      struct Fwd final : ByteSink {
        explicit Fwd(std::shared_ptr<MemorySink> m) : m_(std::move(m)) {}
        Result<void> WriteAt(uint64_t off, std::span<const std::byte> d) override { return m_->WriteAt(off, d); }
        Result<void> Finish() override { return Ok(); }
        const std::string& name() const override { return m_->name(); }
        std::shared_ptr<MemorySink> m_;
      };
      sinks.push_back(std::make_unique<Fwd>(mem));
      o.progress = [&](uint64_t done, uint64_t) {
        if (done >= 500) cancel = true;
      };
    }
    auto st = Collect(*in, o, std::move(sinks));
    if (!st) FAIL() << "collect failed: " << st.error().ToString();
    EXPECT_TRUE(st->incomplete);
    auto back = OpenBytes({{"out", mem->bytes()}});
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_TRUE((*back)->info.incomplete);
    const PageCounts pc = (*back)->memory->CountPages();
    EXPECT_GT(pc.dumped, 20u);
    EXPECT_GT(pc.truncated, 20u);
    // Every page still there is right.
    std::vector<std::byte> page(4096);
    (*back)->memory->ForEachDumpedRange([&](PfnRange r) {
      for (uint64_t pfn = r.start; pfn < r.start + r.count; ++pfn) {
        ASSERT_TRUE((*back)->memory->ReadPage(Pfn{pfn}, page));
        EXPECT_EQ(page, PageContents(spec, pfn)) << pfn;
      }
    });
  }
}

}  // namespace
}  // namespace coroner
