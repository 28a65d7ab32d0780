// Shared pieces of the fuzz targets: a CHECK that aborts (so libFuzzer records the input), and
// ExerciseMemory(), which drives an opened PhysicalMemory the way analysis would and checks the
// promises physical_memory.h makes:
//   - ForEachDumpedRange gives ascending, disjoint, non-empty runs below pfn_limit(), every pfn
//     in them is kDumped, and together they hold CountPages().dumped pages;
//   - CountPages() adds up (present = dumped + excluded + truncated <= total);
//   - a page in any other state fails to read with an error (never silent zeros).
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     ... open a dump from the bytes ...
//     coroner::fuzz::ExerciseMemory(*dump->memory);
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lib/dump/physical_memory.h"

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) ::coroner::fuzz::CheckFailed(#cond, __FILE__, __LINE__);         \
  } while (0)

namespace coroner::fuzz {

[[noreturn]] void CheckFailed(const char* what, const char* file, int line);

// Bounds so that one input stays fast even when it describes terabytes.
inline constexpr uint64_t kMaxPagesRead = 1024;
inline constexpr uint64_t kMaxBytesRead = 16ull << 20;
inline constexpr uint64_t kMaxPfnsProbed = 4096;

void ExerciseMemory(const PhysicalMemory& mem);

inline std::span<const std::byte> AsBytes(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

}  // namespace coroner::fuzz
