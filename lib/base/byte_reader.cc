#include "lib/base/byte_reader.h"

#include <fmt/format.h>

namespace coroner {

Error ByteReader::Short(size_t wanted) const {
  return Error(ErrorCode::kTruncated,
               fmt::format("needed {} bytes, only {} left", wanted, remaining()),
               AtOffset(offset()));
}

Result<void> ByteReader::Seek(size_t pos) {
  if (pos > data_.size()) {
    return Error(ErrorCode::kTruncated, fmt::format("seek past end ({} > {})", pos, data_.size()),
                 AtOffset(base_ + pos));
  }
  pos_ = pos;
  return Ok();
}

Result<void> ByteReader::Skip(size_t n) {
  if (remaining() < n) return Short(n);
  pos_ += n;
  return Ok();
}

Result<void> ByteReader::AlignTo(size_t alignment) {
  size_t pad = (alignment - pos_ % alignment) % alignment;
  if (remaining() < pad) {
    pos_ = data_.size();  // padding at the very end may be missing; that is not an error
    return Ok();
  }
  pos_ += pad;
  return Ok();
}

Result<std::span<const std::byte>> ByteReader::Bytes(size_t n) {
  if (remaining() < n) return Short(n);
  auto s = data_.subspan(pos_, n);
  pos_ += n;
  return s;
}

Result<std::string_view> ByteReader::FixedString(size_t n) {
  CORONER_TRY(auto bytes, Bytes(n));
  std::string_view sv(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (auto nul = sv.find('\0'); nul != std::string_view::npos) sv = sv.substr(0, nul);
  return sv;
}

}  // namespace coroner
