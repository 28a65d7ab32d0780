// Fuzz target: PageDeflater (lib/dump/page_deflate.h), the encoder of every zlib page coroner
// writes. The input is the page; its stream must inflate (zlib, as crash does) to exactly it,
// be smaller than it, and fit the stated bound.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "lib/dump/compression.h"
#include "lib/dump/page_deflate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coroner;
  static PageDeflater deflater;  // reused across inputs, as a collector thread reuses it
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data),
                                std::min(size, PageDeflater::kMaxInput));
  std::vector<std::byte> out(PageDeflater::Bound(in.size()));
  const size_t n = deflater.Compress(in, out);
  if (n == 0) return 0;
  FUZZ_CHECK(n < in.size());
  std::vector<std::byte> back(in.size());
  FUZZ_CHECK(DecompressPage(Compression::kZlib, std::span(out).first(n), back));
  FUZZ_CHECK(std::memcmp(back.data(), in.data(), in.size()) == 0);
  return 0;
}
