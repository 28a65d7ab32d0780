// Fuzz target: kdump-compressed files: the header parser (ParseKdumpHeader) on its own, then the
// whole reader (header, bitmaps, page descriptors, page data) through OpenDumpSources, reading
// every page. The input may hold a split set: its files are separated by kSplitMarker.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "lib/base/byte_reader.h"
#include "lib/base/byte_source.h"
#include "lib/dump/dump.h"
#include "lib/dump/kdump_compressed.h"

namespace {

constexpr std::string_view kSplitMarker = "\n=SPLIT=\n";
constexpr size_t kMaxFiles = 4;

void ParseHeaderOnly(std::span<const std::byte> bytes) {
  using namespace coroner;
  if (bytes.size() < kDiskDumpHeaderSize) return;
  auto block0 = bytes.first(kDiskDumpHeaderSize);
  // The sub-header lives at block_size; without a plausible one take what follows block 0.
  uint32_t bs = LoadLE32(bytes.data() + 428);
  auto sub = bytes.subspan(kDiskDumpHeaderSize);
  if (bs >= kDiskDumpHeaderSize && bs < bytes.size()) sub = bytes.subspan(bs);
  sub = sub.first(std::min(sub.size(), kKdumpSubHeaderSize));
  auto h = ParseKdumpHeader(block0, sub);
  if (!h) return;
  FUZZ_CHECK(h->block_size >= 512 && (h->block_size & (h->block_size - 1)) == 0);
  FUZZ_CHECK(h->bitmap_blocks > 0 && h->bitmap_blocks % 2 == 0);
  FUZZ_CHECK(h->sub_hdr_size >= 0);
  (void)h->max_mapnr();
  (void)h->start_pfn();
  (void)h->end_pfn();
  if (bytes.size() >= kDiskDumpHeaderSize + kPageDescSize) {
    auto d = ParsePageDesc(
        std::span<const std::byte, kPageDescSize>(bytes.data() + kDiskDumpHeaderSize, kPageDescSize));
    (void)d;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coroner;
  auto bytes = fuzz::AsBytes(data, size);

  // Cut the input into files.
  std::vector<std::unique_ptr<ByteSource>> sources;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (sources.size() < kMaxFiles) {
    size_t cut = sources.size() + 1 < kMaxFiles ? rest.find(kSplitMarker) : std::string_view::npos;
    std::string_view part = rest.substr(0, cut);
    const auto* p = reinterpret_cast<const std::byte*>(part.data());
    ParseHeaderOnly({p, part.size()});
    sources.push_back(std::make_unique<MemorySource>(std::vector<std::byte>(p, p + part.size()),
                                                     "file" + std::to_string(sources.size())));
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + kSplitMarker.size());
  }
  (void)bytes;

  auto dump = OpenDumpSources(std::move(sources));
  if (!dump) return 0;
  FUZZ_CHECK((*dump)->memory != nullptr);
  FUZZ_CHECK((*dump)->info.page_size == (*dump)->memory->page_size());
  fuzz::ExerciseMemory(*(*dump)->memory);
  return 0;
}
