// Error and Result<T>: how every library function in coroner reports failure.
//
// Library code never throws across its API; it returns Result<T>, a [[nodiscard]] subset of
// C++23 std::expected (GCC 12 has none in C++20). An Error carries a code, a message, and where
// it happened (a file offset or an address), so a front-end can print one line that names the
// file and the offset:
//
//   Result<uint32_t> r = reader.U32();
//   if (!r) return r.error().WithContext("kdump header");
//   uint32_t v = *r;
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace coroner {

enum class ErrorCode {
  kIo,               // the operating system failed a read or write
  kBadData,          // bytes are present but do not make sense
  kTruncated,        // the data ends before the structure does
  kFault,            // an address does not translate / is outside every region
  kNotPresent,       // a hole: the dump never had this page (no RAM there)
  kExcluded,         // the page existed but the dump's filter left it out
  kNotFound,         // a named thing (symbol, file, key) does not exist
  kUnsupported,      // understood, but not handled yet
  kInvalidArgument,  // the caller (user) asked for something malformed
  kOverflow,         // arithmetic on untrusted numbers would overflow
  kRecursion,        // a depth or loop limit was hit
};

std::string_view ErrorCodeName(ErrorCode code);

// Where an error happened. A file offset, a physical or virtual address; the kind is printed.
struct ErrorLocation {
  enum class Kind { kFileOffset, kPhysAddr, kVirtAddr, kPfn };
  Kind kind;
  uint64_t value;
};

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(ErrorCode code, std::string message, ErrorLocation where)
      : code_(code), message_(std::move(message)), where_(where) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::optional<ErrorLocation>& where() const { return where_; }

  // Prefixes the message with what was being done ("reading kdump header: ...").
  Error WithContext(std::string_view context) const&;
  Error WithContext(std::string_view context) &&;
  // Sets a location if none is set yet.
  Error At(ErrorLocation where) &&;

  // "message (at file offset 0x1000)".
  std::string ToString() const;

 private:
  ErrorCode code_;
  std::string message_;
  std::optional<ErrorLocation> where_;
};

inline ErrorLocation AtOffset(uint64_t off) { return {ErrorLocation::Kind::kFileOffset, off}; }
inline ErrorLocation AtPhys(uint64_t addr) { return {ErrorLocation::Kind::kPhysAddr, addr}; }
inline ErrorLocation AtVirt(uint64_t addr) { return {ErrorLocation::Kind::kVirtAddr, addr}; }
inline ErrorLocation AtPfn(uint64_t pfn) { return {ErrorLocation::Kind::kPfn, pfn}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

inline Result<void> Ok() { return {}; }

}  // namespace coroner

// Propagates an error: CORONER_TRY(auto x, Expr()); or CORONER_TRY_VOID(Expr());
#define CORONER_CONCAT_INNER(a, b) a##b
#define CORONER_CONCAT(a, b) CORONER_CONCAT_INNER(a, b)
#define CORONER_TRY(decl, expr) CORONER_TRY_IMPL(CORONER_CONCAT(coroner_try_, __LINE__), decl, expr)
#define CORONER_TRY_IMPL(tmp, decl, expr)  \
  auto tmp = (expr);                       \
  if (!tmp) return std::move(tmp).error(); \
  decl = std::move(tmp).value()
#define CORONER_TRY_VOID(expr)                                       \
  do {                                                               \
    auto coroner_try_void_ = (expr);                                 \
    if (!coroner_try_void_) return std::move(coroner_try_void_).error(); \
  } while (0)
