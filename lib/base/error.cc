#include "lib/base/error.h"

#include <fmt/format.h>

namespace coroner {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kBadData: return "bad data";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kFault: return "fault";
    case ErrorCode::kNotPresent: return "not present";
    case ErrorCode::kExcluded: return "excluded";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kOverflow: return "overflow";
    case ErrorCode::kRecursion: return "recursion limit";
  }
  return "unknown error";
}

Error Error::WithContext(std::string_view context) const& {
  Error copy = *this;
  return std::move(copy).WithContext(context);
}

Error Error::WithContext(std::string_view context) && {
  message_ = fmt::format("{}: {}", context, message_);
  return std::move(*this);
}

Error Error::At(ErrorLocation where) && {
  if (!where_) where_ = where;
  return std::move(*this);
}

std::string Error::ToString() const {
  if (!where_) return message_;
  const char* what = "";
  switch (where_->kind) {
    case ErrorLocation::Kind::kFileOffset: what = "file offset"; break;
    case ErrorLocation::Kind::kPhysAddr: what = "physical address"; break;
    case ErrorLocation::Kind::kVirtAddr: what = "virtual address"; break;
    case ErrorLocation::Kind::kPfn: what = "pfn"; break;
  }
  return fmt::format("{} (at {} {:#x})", message_, what, where_->value);
}

}  // namespace coroner
