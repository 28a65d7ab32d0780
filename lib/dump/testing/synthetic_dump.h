// Synthetic dumps for tests: a small spec in code (page size, pfn ranges that are dumped,
// excluded or holes, page contents derived from the pfn) becomes fake physical memory, and,
// through the real writers, an ELF vmcore, a kdump file (any compression, flattened or not) or
// a split set. Plus the damage tests need: cut a file at a fraction, overwrite bytes, build a
// flattened stream record by record, and a ByteSource whose reads fail with kIo.
// (Modelled on libkdumpfile's tests/mkdiskdump.c, which builds diskdump files from a text spec.)
//
//   DumpSpec spec = StandardSpec();
//   KdumpWriterOptions opts;
//   opts.compression = Compression::kZlib;
//   std::vector<std::byte> kdump = BuildKdump(spec, opts);
//   auto dump = OpenBytes({{"t.kdump", kdump}});
//   EXPECT_EQ(CheckPages(*(*dump)->memory, spec), "");
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/byte_source.h"
#include "lib/dump/dump.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/elf_writer.h"
#include "lib/dump/kdump_writer.h"
#include "lib/dump/physical_memory.h"

namespace coroner::testing {

struct SpecRange {
  uint64_t start_pfn;
  uint64_t count;
  PageState state;  // kDumped, kExcluded or kNotPresent (pfns in no range are holes too)
};

struct DumpSpec {
  uint64_t page_size = 4096;
  std::vector<SpecRange> ranges;  // ascending, not overlapping
  uint32_t seed = 1;              // changes every page's contents
  DumpDescription description;
  // Bytes placed at physical addresses over the generated contents (e.g. init_uts_ns).
  std::vector<std::pair<uint64_t, std::vector<std::byte>>> patches;

  PageState StateOf(uint64_t pfn) const;
  uint64_t pfn_limit() const;
};

// The description the standard spec uses: utsname of a test node, CRASHTIME, two CPUs'
// PRSTATUS notes (pids 100 and 101), VMCOREINFO with OSRELEASE, PAGESIZE,
// SYMBOL(init_uts_ns) and NUMBER(phys_base).
DumpDescription TestDescription(uint64_t page_size);
inline constexpr uint64_t kTestUtsnamePaddr = 0x4100;  // where StandardSpec puts init_uts_ns

// 256 pfns: dumped [0,40) (with init_uts_ns at kTestUtsnamePaddr), excluded [40,48), hole
// [48,64), dumped [64,100), excluded [100,104), dumped [104,160), hole [160,200), dumped
// [200,230), excluded [230,256).
DumpSpec StandardSpec(uint64_t page_size = 4096);

// A page's contents: every 13th page (pfn % 13 == 5) is all zeros, every 7th (pfn % 7 == 3)
// pseudo-random (does not compress), the rest a compressible pattern stamped with pfn and seed.
std::vector<std::byte> PageContents(const DumpSpec& spec, uint64_t pfn);

// The spec as PhysicalMemory (kDumped pages read PageContents).
std::unique_ptr<PhysicalMemory> SpecMemory(const DumpSpec& spec);

std::vector<std::byte> BuildElf(const DumpSpec& spec, const ElfWriterOptions& options = {},
                                bool flattened = false);
std::vector<std::byte> BuildKdump(const DumpSpec& spec, const KdumpWriterOptions& options = {},
                                  bool flattened = false);
std::vector<std::vector<std::byte>> BuildKdumpSplit(const DumpSpec& spec, size_t files,
                                                    const KdumpWriterOptions& options = {},
                                                    bool flattened = false);

// A sink for a writer to own (and destroy), whose bytes the test can still take afterwards.
struct CapturedOutput {
  std::unique_ptr<ByteSink> sink;
  std::shared_ptr<MemorySink> memory;
};
CapturedOutput CaptureOutput(std::string name = "<memory>");

// A flattened stream made of exactly these records, in this order.
struct FlatRecord {
  uint64_t offset;
  std::vector<std::byte> data;
};
std::vector<std::byte> MakeFlattened(const std::vector<FlatRecord>& records, bool end_marker = true);

// The first floor(size * fraction) bytes.
std::vector<std::byte> CutAt(std::span<const std::byte> bytes, double fraction);
// Overwrites bytes at `offset` (grows the buffer if needed).
void Patch(std::vector<std::byte>& bytes, uint64_t offset, std::span<const std::byte> with);
void PatchLE32(std::vector<std::byte>& bytes, uint64_t offset, uint32_t value);
void PatchLE64(std::vector<std::byte>& bytes, uint64_t offset, uint64_t value);
uint64_t LoadLE64At(std::span<const std::byte> bytes, uint64_t offset);

std::unique_ptr<ByteSource> Source(std::vector<std::byte> bytes, std::string name);

// Reads of [fail_begin, fail_end) fail with kIo; the rest come from `inner`.
class FailingSource final : public ByteSource {
 public:
  FailingSource(std::unique_ptr<ByteSource> inner, uint64_t fail_begin, uint64_t fail_end)
      : inner_(std::move(inner)), begin_(fail_begin), end_(fail_end) {}
  uint64_t size() const override { return inner_->size(); }
  Result<void> ReadExact(uint64_t offset, std::span<std::byte> out) const override;
  const std::string& name() const override { return inner_->name(); }

 private:
  std::unique_ptr<ByteSource> inner_;
  uint64_t begin_, end_;
};

// Opens named in-memory files as one dump (several: a split set).
Result<std::unique_ptr<Dump>> OpenBytes(std::vector<std::pair<std::string, std::vector<std::byte>>> files);

// Compares every pfn's state and (for dumped pages) contents with the spec. Returns "" when
// all match, else a description of the first few differences.
std::string CheckPages(const PhysicalMemory& mem, const DumpSpec& spec);

// Where the kdump writer put things, computed the way the format defines them (for tests that
// damage a particular structure).
struct KdumpLayout {
  uint64_t block_size, sub_hdr_blocks, bitmap_blocks, desc_offset, data_offset;
};
KdumpLayout KdumpLayoutOf(std::span<const std::byte> kdump);

}  // namespace coroner::testing
