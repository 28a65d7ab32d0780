// Fuzz target: makedumpfile's flattened stream (FlattenedSource): the record index, then reads of
// the reassembled file: every extent (which must match the stream bytes it came from), reads
// across extent boundaries and gaps (which read as zeros), and reads at the end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "lib/base/byte_source.h"
#include "lib/dump/flattened.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coroner;
  auto bytes = fuzz::AsBytes(data, size);
  Diagnostics diag;
  auto flat = FlattenedSource::Create(
      std::make_unique<MemorySource>(std::vector<std::byte>(bytes.begin(), bytes.end()), "stream"),
      diag);
  if (!flat) return 0;
  const FlattenedSource& f = **flat;
  const auto& ext = f.extents();

  uint64_t total = 0;
  uint64_t prev_end = 0;
  for (const auto& e : ext) {
    FUZZ_CHECK(e.length > 0);
    FUZZ_CHECK(e.offset >= prev_end);
    FUZZ_CHECK(e.offset + e.length <= f.size());
    FUZZ_CHECK(e.stream_offset >= kFlatHeaderSize && e.stream_offset <= size &&
               e.length <= size - e.stream_offset);
    total += e.length;
    prev_end = e.offset + e.length;
  }
  FUZZ_CHECK(total <= size);
  FUZZ_CHECK(ext.empty() ? f.size() == 0 : f.size() == prev_end);

  std::vector<std::byte> buf;
  for (size_t i = 0; i < ext.size(); ++i) {
    const auto& e = ext[i];
    buf.resize(e.length);
    auto r = f.ReadExact(e.offset, buf);
    FUZZ_CHECK(r.has_value());
    FUZZ_CHECK(std::memcmp(buf.data(), data + e.stream_offset, e.length) == 0);
    // Across the boundary to the next extent: bytes no record wrote read as zeros, as in the
    // file `makedumpfile -R` would write.
    if (i + 1 < ext.size()) {
      buf.resize(2);
      uint64_t at = e.offset + e.length - 1;
      auto rr = f.ReadExact(at, buf);
      FUZZ_CHECK(rr.has_value());
      FUZZ_CHECK(buf[0] == bytes[e.stream_offset + e.length - 1]);
      if (ext[i + 1].offset > e.offset + e.length) FUZZ_CHECK(buf[1] == std::byte{0});
    }
  }
  buf.resize(1);
  FUZZ_CHECK(!f.ReadExact(f.size(), buf).has_value());
  FUZZ_CHECK(!f.ReadExact(~uint64_t{0}, buf).has_value());
  // The whole reassembled file, when small: the extents' bytes where they are, zeros elsewhere.
  if (f.size() > 0 && f.size() <= 4 * size + 4096) {
    buf.resize(f.size());
    FUZZ_CHECK(f.ReadExact(0, buf).has_value());
    uint64_t pos = 0;
    for (const auto& e : ext) {
      for (; pos < e.offset; ++pos) FUZZ_CHECK(buf[pos] == std::byte{0});
      FUZZ_CHECK(std::memcmp(buf.data() + e.offset, data + e.stream_offset, e.length) == 0);
      pos = e.offset + e.length;
    }
  }
  return 0;
}
