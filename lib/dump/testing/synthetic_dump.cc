#include "lib/dump/testing/synthetic_dump.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "lib/dump/byte_sink.h"

namespace coroner::testing {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser: a fixed, well-spread function of x
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class SpecPhysicalMemory final : public PhysicalMemory {
 public:
  explicit SpecPhysicalMemory(DumpSpec spec) : spec_(std::move(spec)), limit_(spec_.pfn_limit()) {}
  uint64_t page_size() const override { return spec_.page_size; }
  uint64_t pfn_limit() const override { return limit_; }
  PageState StateOf(Pfn pfn) const override { return spec_.StateOf(pfn.value); }
  Result<void> ReadPage(Pfn pfn, std::span<std::byte> out) const override {
    if (out.size() != spec_.page_size) return Error(ErrorCode::kInvalidArgument, "not one page");
    PageState s = StateOf(pfn);
    if (s != PageState::kDumped) return PageError(pfn, s);
    auto page = PageContents(spec_, pfn.value);
    std::copy(page.begin(), page.end(), out.begin());
    return Ok();
  }
  void ForEachDumpedRange(const std::function<void(PfnRange)>& fn) const override {
    for (const SpecRange& r : spec_.ranges) {
      if (r.state == PageState::kDumped && r.count) fn({r.start_pfn, r.count});
    }
  }
  PageCounts CountPages() const override {
    PageCounts c;
    c.total = pfn_limit();
    for (const SpecRange& r : spec_.ranges) {
      if (r.state == PageState::kDumped) c.dumped += r.count;
      if (r.state == PageState::kExcluded) c.excluded += r.count;
    }
    c.present = c.dumped + c.excluded;
    return c;
  }

 private:
  DumpSpec spec_;
  uint64_t limit_;
};

// A sink whose bytes stay reachable after the writer has consumed (and finished) it.
class SharedMemorySink final : public ByteSink {
 public:
  explicit SharedMemorySink(std::shared_ptr<MemorySink> m) : m_(std::move(m)) {}
  Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) override {
    return m_->WriteAt(offset, data);
  }
  Result<void> Finish() override { return m_->Finish(); }
  const std::string& name() const override { return m_->name(); }

 private:
  std::shared_ptr<MemorySink> m_;
};

std::unique_ptr<ByteSink> MakeSink(const std::shared_ptr<MemorySink>& m, bool flattened) {
  std::unique_ptr<ByteSink> s = std::make_unique<SharedMemorySink>(m);
  if (flattened) s = std::make_unique<FlattenedSink>(std::move(s));
  return s;
}

void Die(const Error& e, const char* what) {
  fmt::print(stderr, "synthetic dump: {} failed: {}\n", what, e.ToString());
  std::abort();
}

}  // namespace

CapturedOutput CaptureOutput(std::string name) {
  auto m = std::make_shared<MemorySink>(std::move(name));
  return {std::make_unique<SharedMemorySink>(m), m};
}

PageState DumpSpec::StateOf(uint64_t pfn) const {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), pfn,
                             [](uint64_t p, const SpecRange& r) { return p < r.start_pfn; });
  if (it == ranges.begin()) return PageState::kNotPresent;
  --it;
  return pfn < it->start_pfn + it->count ? it->state : PageState::kNotPresent;
}

uint64_t DumpSpec::pfn_limit() const {
  uint64_t end = 0;
  for (const SpecRange& r : ranges) end = std::max(end, r.start_pfn + r.count);
  return end;
}

DumpDescription TestDescription(uint64_t page_size) {
  DumpDescription d;
  d.utsname = {"Linux", "test-node", "6.1.0-test-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-1",
               "x86_64", "(none)"};
  d.timestamp_sec = 1700000000;
  d.timestamp_usec = 0;
  d.phys_base = 0;
  d.dump_level = 31;
  d.vmcoreinfo = fmt::format(
      "OSRELEASE=6.1.0-test-amd64\nPAGESIZE={}\nSYMBOL(init_uts_ns)={:x}\n"
      "OFFSET(uts_namespace.name)=0\nNUMBER(phys_base)=0\nCRASHTIME=1700000000\n",
      page_size, 0xffffffff80000000ull + kTestUtsnamePaddr);
  for (int cpu = 0; cpu < 2; ++cpu) {
    std::vector<std::byte> prstatus(336);
    uint32_t pid = 100 + static_cast<uint32_t>(cpu);
    std::memcpy(prstatus.data() + 32, &pid, 4);
    uint64_t rip = 0xffffffff81000000ull + static_cast<uint64_t>(cpu);
    std::memcpy(prstatus.data() + 112 + 16 * 8, &rip, 8);
    AppendElfNote(d.notes, "CORE", kNtPrstatus, prstatus);
  }
  return d;
}

DumpSpec StandardSpec(uint64_t page_size) {
  DumpSpec s;
  s.page_size = page_size;
  s.ranges = {{0, 40, PageState::kDumped},    {40, 8, PageState::kExcluded},
              {48, 16, PageState::kNotPresent}, {64, 36, PageState::kDumped},
              {100, 4, PageState::kExcluded},  {104, 56, PageState::kDumped},
              {200, 30, PageState::kDumped},   {230, 26, PageState::kExcluded}};
  s.description = TestDescription(page_size);
  // struct new_utsname at init_uts_ns, as DescribeDump() reads it from an ELF vmcore.
  std::vector<std::byte> uts(6 * 65);
  for (size_t i = 0; i < 6; ++i) {
    const std::string& f = s.description.utsname[i];
    std::memcpy(uts.data() + i * 65, f.data(), f.size());
  }
  s.patches.emplace_back(kTestUtsnamePaddr, std::move(uts));
  return s;
}

std::vector<std::byte> PageContents(const DumpSpec& spec, uint64_t pfn) {
  std::vector<std::byte> page(spec.page_size);
  if (pfn % 13 == 5) {
    // all zeros
  } else if (pfn % 7 == 3) {
    for (size_t i = 0; i < page.size(); i += 8) {
      uint64_t v = Mix((pfn << 32) ^ (uint64_t{spec.seed} << 20) ^ i);
      std::memcpy(page.data() + i, &v, std::min<size_t>(8, page.size() - i));
    }
  } else {
    std::string stamp = fmt::format("pfn {:#x} seed {} ", pfn, spec.seed);
    for (size_t i = 0; i < page.size(); ++i) {
      page[i] = static_cast<std::byte>(i % 64 < stamp.size() ? stamp[i % 64]
                                                             : static_cast<char>((i / 64 + pfn) & 0x3f));
    }
  }
  const uint64_t a = pfn * spec.page_size, b = a + spec.page_size;
  for (const auto& [addr, bytes] : spec.patches) {
    uint64_t lo = std::max(a, addr), hi = std::min(b, addr + bytes.size());
    for (uint64_t x = lo; x < hi; ++x) page[x - a] = bytes[x - addr];
  }
  return page;
}

std::unique_ptr<PhysicalMemory> SpecMemory(const DumpSpec& spec) {
  return std::make_unique<SpecPhysicalMemory>(spec);
}

std::vector<std::byte> BuildElf(const DumpSpec& spec, const ElfWriterOptions& options, bool flattened) {
  auto mem = SpecMemory(spec);
  auto m = std::make_shared<MemorySink>("synthetic.elf");
  auto r = WriteElfVmcore(*mem, spec.description, options, MakeSink(m, flattened));
  if (!r) Die(r.error(), "WriteElfVmcore");
  return m->TakeBytes();
}

std::vector<std::byte> BuildKdump(const DumpSpec& spec, const KdumpWriterOptions& options, bool flattened) {
  return BuildKdumpSplit(spec, 1, options, flattened).at(0);
}

std::vector<std::vector<std::byte>> BuildKdumpSplit(const DumpSpec& spec, size_t files,
                                                    const KdumpWriterOptions& options, bool flattened) {
  auto mem = SpecMemory(spec);
  std::vector<std::shared_ptr<MemorySink>> mems;
  std::vector<std::unique_ptr<ByteSink>> sinks;
  for (size_t i = 0; i < files; ++i) {
    mems.push_back(std::make_shared<MemorySink>(fmt::format("synthetic.kdump.{}", i)));
    sinks.push_back(MakeSink(mems.back(), flattened));
  }
  auto r = WriteKdump(*mem, spec.description, options, std::move(sinks));
  if (!r) Die(r.error(), "WriteKdump");
  std::vector<std::vector<std::byte>> out;
  for (auto& m : mems) out.push_back(m->TakeBytes());
  return out;
}

std::vector<std::byte> MakeFlattened(const std::vector<FlatRecord>& records, bool end_marker) {
  auto m = std::make_shared<MemorySink>("flat");
  FlattenedSink flat(std::make_unique<SharedMemorySink>(m));
  for (const FlatRecord& r : records) {
    if (!flat.WriteAt(r.offset, r.data)) std::abort();
  }
  if (!flat.Finish()) std::abort();
  auto bytes = m->TakeBytes();
  if (!end_marker) bytes.resize(bytes.size() - 16);
  return bytes;
}

std::vector<std::byte> CutAt(std::span<const std::byte> bytes, double fraction) {
  size_t n = static_cast<size_t>(static_cast<double>(bytes.size()) * fraction);
  return std::vector<std::byte>(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
}

void Patch(std::vector<std::byte>& bytes, uint64_t offset, std::span<const std::byte> with) {
  if (bytes.size() < offset + with.size()) bytes.resize(offset + with.size());
  std::copy(with.begin(), with.end(), bytes.begin() + static_cast<ptrdiff_t>(offset));
}

void PatchLE32(std::vector<std::byte>& bytes, uint64_t offset, uint32_t value) {
  std::array<std::byte, 4> b;
  std::memcpy(b.data(), &value, 4);
  Patch(bytes, offset, b);
}

void PatchLE64(std::vector<std::byte>& bytes, uint64_t offset, uint64_t value) {
  std::array<std::byte, 8> b;
  std::memcpy(b.data(), &value, 8);
  Patch(bytes, offset, b);
}

uint64_t LoadLE64At(std::span<const std::byte> bytes, uint64_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 8);
  return v;
}

std::unique_ptr<ByteSource> Source(std::vector<std::byte> bytes, std::string name) {
  return std::make_unique<MemorySource>(std::move(bytes), std::move(name));
}

Result<void> FailingSource::ReadExact(uint64_t offset, std::span<std::byte> out) const {
  if (offset < end_ && offset + out.size() > begin_) {
    return Error(ErrorCode::kIo,
                 fmt::format("{}: read failed: Input/output error", name()),
                 AtOffset(std::max(offset, begin_)));
  }
  return inner_->ReadExact(offset, out);
}

Result<std::unique_ptr<Dump>> OpenBytes(
    std::vector<std::pair<std::string, std::vector<std::byte>>> files) {
  std::vector<std::unique_ptr<ByteSource>> sources;
  for (auto& [name, bytes] : files) sources.push_back(Source(std::move(bytes), name));
  return OpenDumpSources(std::move(sources));
}

std::string CheckPages(const PhysicalMemory& mem, const DumpSpec& spec) {
  std::string out;
  int problems = 0;
  auto report = [&](std::string s) {
    if (problems++ < 8) out += s + "\n";
  };
  if (mem.page_size() != spec.page_size) {
    return fmt::format("page size {} != spec {}\n", mem.page_size(), spec.page_size);
  }
  std::vector<std::byte> page(spec.page_size);
  const uint64_t limit = std::max(mem.pfn_limit(), spec.pfn_limit());
  for (uint64_t pfn = 0; pfn < limit; ++pfn) {
    PageState want = spec.StateOf(pfn);
    PageState got = mem.StateOf(Pfn{pfn});
    if (got != want) {
      report(fmt::format("pfn {:#x}: state {} != spec {}", pfn, PageStateName(got), PageStateName(want)));
      continue;
    }
    auto r = mem.ReadPage(Pfn{pfn}, page);
    if (want == PageState::kDumped) {
      if (!r) {
        report(fmt::format("pfn {:#x}: read failed: {}", pfn, r.error().ToString()));
      } else if (page != PageContents(spec, pfn)) {
        report(fmt::format("pfn {:#x}: contents differ", pfn));
      }
    } else {
      ErrorCode code = want == PageState::kExcluded ? ErrorCode::kExcluded : ErrorCode::kNotPresent;
      if (r) {
        report(fmt::format("pfn {:#x}: read succeeded on a {} page", pfn, PageStateName(want)));
      } else if (r.error().code() != code) {
        report(fmt::format("pfn {:#x}: error {} on a {} page", pfn, ErrorCodeName(r.error().code()),
                           PageStateName(want)));
      }
    }
  }
  if (problems > 8) out += fmt::format("... {} problems in all\n", problems);
  return out;
}

KdumpLayout KdumpLayoutOf(std::span<const std::byte> kdump) {
  KdumpLayout l{};
  uint32_t v32;
  std::memcpy(&v32, kdump.data() + 428, 4);
  l.block_size = v32;
  std::memcpy(&v32, kdump.data() + 432, 4);
  l.sub_hdr_blocks = v32;
  std::memcpy(&v32, kdump.data() + 436, 4);
  l.bitmap_blocks = v32;
  l.desc_offset = (1 + l.sub_hdr_blocks + l.bitmap_blocks) * l.block_size;
  // The first descriptor's offset is where the data starts (no shared zero page here).
  l.data_offset = LoadLE64At(kdump, l.desc_offset);
  return l;
}

}  // namespace coroner::testing
