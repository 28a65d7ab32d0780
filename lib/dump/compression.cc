#include "lib/dump/compression.h"

#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <mutex>

#include <fmt/format.h>

namespace coroner {

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kZlib: return "zlib";
    case Compression::kLzo: return "lzo";
    case Compression::kSnappy: return "snappy";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

namespace {

Error Bad(Compression c, std::string_view why) {
  return Error(ErrorCode::kBadData, fmt::format("{} page data is corrupt: {}", CompressionName(c), why));
}

void InitLzoOnce() {
  static std::once_flag once;
  std::call_once(once, [] { lzo_init(); });
}

}  // namespace

Result<void> DecompressPage(Compression c, std::span<const std::byte> in, std::span<std::byte> out) {
  switch (c) {
    case Compression::kNone:
      if (in.size() != out.size()) return Bad(c, fmt::format("raw page of {} bytes", in.size()));
      std::copy(in.begin(), in.end(), out.begin());
      return Ok();
    case Compression::kZlib: {
      uLongf len = out.size();
      int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &len,
                          reinterpret_cast<const Bytef*>(in.data()), in.size());
      if (rc != Z_OK) return Bad(c, fmt::format("zlib error {}", rc));
      if (len != out.size()) return Bad(c, fmt::format("expands to {} bytes", len));
      return Ok();
    }
    case Compression::kLzo: {
      InitLzoOnce();
      lzo_uint len = out.size();
      int rc = lzo1x_decompress_safe(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                     reinterpret_cast<unsigned char*>(out.data()), &len, nullptr);
      if (rc != LZO_E_OK) return Bad(c, fmt::format("lzo error {}", rc));
      if (len != out.size()) return Bad(c, fmt::format("expands to {} bytes", len));
      return Ok();
    }
    case Compression::kSnappy: {
      size_t len = 0;
      auto src = reinterpret_cast<const char*>(in.data());
      if (snappy_uncompressed_length(src, in.size(), &len) != SNAPPY_OK || len != out.size()) {
        return Bad(c, "bad uncompressed length");
      }
      if (snappy_uncompress(src, in.size(), reinterpret_cast<char*>(out.data()), &len) != SNAPPY_OK) {
        return Bad(c, "snappy_uncompress failed");
      }
      return Ok();
    }
    case Compression::kZstd: {
      size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) return Bad(c, ZSTD_getErrorName(n));
      if (n != out.size()) return Bad(c, fmt::format("expands to {} bytes", n));
      return Ok();
    }
  }
  return Bad(c, "unknown method");
}

Result<std::vector<std::byte>> CompressPage(Compression c, std::span<const std::byte> in) {
  std::vector<std::byte> out;
  switch (c) {
    case Compression::kNone:
      return out;
    case Compression::kZlib: {
      uLongf len = compressBound(in.size());
      out.resize(len);
      int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &len,
                         reinterpret_cast<const Bytef*>(in.data()), in.size(), Z_BEST_SPEED);
      if (rc != Z_OK) return Error(ErrorCode::kIo, fmt::format("zlib compress failed: {}", rc));
      out.resize(len);
      break;
    }
    case Compression::kLzo: {
      InitLzoOnce();
      std::vector<unsigned char> wrk(LZO1X_1_MEM_COMPRESS);
      lzo_uint len = in.size() + in.size() / 16 + 64 + 3;
      out.resize(len);
      int rc = lzo1x_1_compress(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                reinterpret_cast<unsigned char*>(out.data()), &len, wrk.data());
      if (rc != LZO_E_OK) return Error(ErrorCode::kIo, fmt::format("lzo compress failed: {}", rc));
      out.resize(len);
      break;
    }
    case Compression::kSnappy: {
      size_t len = snappy_max_compressed_length(in.size());
      out.resize(len);
      if (snappy_compress(reinterpret_cast<const char*>(in.data()), in.size(),
                          reinterpret_cast<char*>(out.data()), &len) != SNAPPY_OK) {
        return Error(ErrorCode::kIo, "snappy compress failed");
      }
      out.resize(len);
      break;
    }
    case Compression::kZstd: {
      size_t len = ZSTD_compressBound(in.size());
      out.resize(len);
      size_t n = ZSTD_compress(out.data(), len, in.data(), in.size(), 1);
      if (ZSTD_isError(n)) return Error(ErrorCode::kIo, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      out.resize(n);
      break;
    }
  }
  if (out.size() >= in.size()) out.clear();
  return out;
}

}  // namespace coroner
