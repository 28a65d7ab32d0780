// Page compression used by kdump-compressed dumps (makedumpfile compresses page by page).
//
//   CORONER_TRY_VOID(DecompressPage(Compression::kZlib, compressed, page));  // page: exact size
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "lib/base/error.h"

namespace coroner {

enum class Compression { kNone, kZlib, kLzo, kSnappy, kZstd };

std::string_view CompressionName(Compression c);

// Decompresses into `out`, which must come out exactly full.
Result<void> DecompressPage(Compression c, std::span<const std::byte> in, std::span<std::byte> out);

// Compresses one page with makedumpfile's settings (zlib best speed, zstd level 1). Returns an
// empty vector when the result would not be smaller than the input (store the page raw then).
Result<std::vector<std::byte>> CompressPage(Compression c, std::span<const std::byte> in);

}  // namespace coroner
