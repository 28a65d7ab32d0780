#include "lib/dump/recording_memory.h"

#include <gtest/gtest.h>

#include "lib/dump/dump_description.h"
#include "lib/dump/elf_notes.h"
#include "lib/dump/kdump_writer.h"
#include "lib/dump/testing/synthetic_dump.h"

namespace coroner {
namespace {

using testing::PageContents;
using testing::SpecMemory;
using testing::StandardSpec;

TEST(RecordingMemory, RecordsEveryPageAReadReaches) {
  const auto spec = StandardSpec();
  auto mem = SpecMemory(spec);
  RecordingMemory rec(*mem);
  EXPECT_EQ(rec.page_size(), 4096u);
  EXPECT_EQ(rec.pfn_limit(), mem->pfn_limit());
  EXPECT_EQ(rec.recorded_pages(), 0u);

  std::vector<std::byte> page(4096);
  ASSERT_TRUE(rec.ReadPage(Pfn{7}, page));
  EXPECT_EQ(page, PageContents(spec, 7));
  ASSERT_TRUE(rec.ReadPage(Pfn{7}, page));  // twice: one page
  EXPECT_TRUE(rec.Recorded(Pfn{7}));
  EXPECT_FALSE(rec.Recorded(Pfn{6}));
  EXPECT_EQ(rec.recorded_pages(), 1u);

  // 100 bytes before the end of pfn 64 to 100 bytes into pfn 66: three pages, bytes as the spec.
  std::vector<std::byte> buf(4096 + 200);
  ASSERT_TRUE(rec.Read(PhysAddr{65 * 4096 - 100}, buf));
  auto p64 = PageContents(spec, 64), p65 = PageContents(spec, 65), p66 = PageContents(spec, 66);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 100, p64.end() - 100));
  EXPECT_TRUE(std::equal(buf.begin() + 100, buf.begin() + 4196, p65.begin()));
  EXPECT_TRUE(std::equal(buf.begin() + 4196, buf.end(), p66.begin()));
  EXPECT_TRUE(rec.Recorded(Pfn{64}) && rec.Recorded(Pfn{65}) && rec.Recorded(Pfn{66}));
  EXPECT_EQ(rec.recorded_pages(), 4u);

  // From dumped pfn 39 into excluded pfn 40 and on: fails at 40, which is recorded; 41 is not.
  std::vector<std::byte> big(3 * 4096);
  auto r = rec.Read(PhysAddr{39 * 4096}, big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kExcluded);
  EXPECT_TRUE(rec.Recorded(Pfn{39}));
  EXPECT_TRUE(rec.Recorded(Pfn{40}));
  EXPECT_FALSE(rec.Recorded(Pfn{41}));
  EXPECT_EQ(rec.recorded_pages(), 6u);
  EXPECT_EQ(rec.TakeNewPfns(), (std::vector<uint64_t>{7, 64, 65, 66, 39, 40}));
  EXPECT_TRUE(rec.TakeNewPfns().empty());

  rec.Record(Pfn{rec.pfn_limit() + 5});  // beyond the memory: ignored
  EXPECT_EQ(rec.recorded_pages(), 6u);
}

// What the triage file does with it: a kdump file of the recorded pages only. The others stay
// RAM and read as excluded (an error naming the page), never as zeros.
TEST(RecordingMemory, KdumpOfTheRecordedPages) {
  auto spec = StandardSpec();
  auto mem = SpecMemory(spec);
  RecordingMemory rec(*mem);
  std::vector<std::byte> page(4096);
  for (uint64_t pfn : {3u, 70u, 71u, 205u}) ASSERT_TRUE(rec.ReadPage(Pfn{pfn}, page));
  ASSERT_FALSE(rec.ReadPage(Pfn{100}, page));  // excluded in the input: stays excluded

  KdumpWriterOptions o;
  o.compression = Compression::kZstd;
  o.select = [&](Pfn p) { return rec.Recorded(p); };
  auto out = testing::CaptureOutput();
  std::vector<std::unique_ptr<ByteSink>> sinks;
  sinks.push_back(std::move(out.sink));
  // Marked as a triage file (what lib/triage writes), so a read of a page left out says so.
  DumpDescription desc = spec.description;
  const std::string_view mark = "triage file: test";
  AppendElfNote(desc.notes, kCoronerNoteName, kCoronerNoteTriage, std::as_bytes(std::span(mark)));
  auto st = WriteKdump(*mem, desc, o, std::move(sinks));
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->dumped_pages, 4u);
  auto dump = testing::OpenBytes({{"triage", out.memory->bytes()}});
  ASSERT_TRUE(dump) << dump.error().ToString();
  const PhysicalMemory& t = *(*dump)->memory;
  for (uint64_t pfn : {3u, 70u, 71u, 205u}) {
    EXPECT_EQ(t.StateOf(Pfn{pfn}), PageState::kDumped) << pfn;
    ASSERT_TRUE(t.ReadPage(Pfn{pfn}, page));
    EXPECT_EQ(page, PageContents(spec, pfn));
  }
  EXPECT_EQ(t.StateOf(Pfn{4}), PageState::kExcluded);
  EXPECT_EQ(t.StateOf(Pfn{100}), PageState::kExcluded);
  EXPECT_EQ(t.StateOf(Pfn{50}), PageState::kNotPresent);  // holes stay holes
  auto r = t.ReadPage(Pfn{4}, page);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kExcluded);
  EXPECT_NE(r.error().ToString().find("page 0x4 is not in this triage file"), std::string::npos)
      << r.error().ToString();
  EXPECT_EQ(t.CountPages().present, mem->CountPages().present);
  EXPECT_TRUE((*dump)->info.vmcoreinfo.has_value());  // the note goes with VMCOREINFO, not instead
  EXPECT_EQ((*dump)->info.triage, "triage file: test");

  // The same without the note: the usual reason.
  auto plain = testing::CaptureOutput();
  std::vector<std::unique_ptr<ByteSink>> plain_sinks;
  plain_sinks.push_back(std::move(plain.sink));
  ASSERT_TRUE(WriteKdump(*mem, spec.description, o, std::move(plain_sinks)));
  auto plain_dump = testing::OpenBytes({{"plain", plain.memory->bytes()}});
  ASSERT_TRUE(plain_dump);
  EXPECT_EQ((*plain_dump)->info.triage, "");
  auto r2 = (*plain_dump)->memory->ReadPage(Pfn{4}, page);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().ToString().find("was excluded by the dump's filter"), std::string::npos);
}

}  // namespace
}  // namespace coroner
