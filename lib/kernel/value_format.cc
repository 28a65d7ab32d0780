#include "lib/kernel/value_format.h"

#include <array>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace coroner {
namespace {

constexpr int kMaxDepth = 32;
// crash runs gdb with `set print elements 512`.
constexpr uint64_t kPrintElements = 512;

std::string EscapeChars(const std::vector<std::byte>& bytes) {
  std::string out = "\"";
  for (std::byte b : bytes) {
    auto c = static_cast<unsigned char>(b);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out.push_back(static_cast<char>(c));
        } else {
          out += fmt::format("\\{:03o}", c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string ValueFormatter::Pointer(uint64_t value) const {
  std::string out = fmt::format("{:#x}", value);
  // Like gdb, name only addresses in the kernel image and modules (direct-map and vmalloc
  // pointers fall past the last symbol and mean nothing as sym+offset).
  if (value < 0xffffffff80000000ull || !symbols_) return out;
  auto hit = symbols_->LookupAddress(value);
  if (hit && hit->symbol && hit->inside && !hit->symbol->percpu) {
    out += hit->offset ? fmt::format(" <{}+{}>", hit->symbol->name, hit->offset)
                       : fmt::format(" <{}>", hit->symbol->name);
  }
  return out;
}

bool ValueFormatter::IsCharPointer(const Type& pointer) const {
  // gdb's textual element types: char, signed char, unsigned char (qualifiers allowed, not
  // typedefs such as u8).
  TypeId id = pointer.target;
  for (int guard = 0; guard < 8; ++guard) {
    const Type& t = types_.Get(id);
    if (t.kind == TypeKind::kConst || t.kind == TypeKind::kVolatile) {
      id = t.target;
      continue;
    }
    return t.kind == TypeKind::kInt && t.size == 1 &&
           (t.name == "char" || t.name == "signed char" || t.name == "unsigned char");
  }
  return false;
}

std::string ValueFormatter::CharPointer(uint64_t value) const {
  // gdb prints a char pointer as its address and the string there, at most 200 characters
  // (its `print elements` default), "..." after a longer one.
  std::string out = Pointer(value);
  if (value == 0) return out;
  constexpr size_t kLimit = 200;
  std::vector<std::byte> bytes;
  bool terminated = false;
  for (size_t i = 0; i < kLimit; ++i) {
    std::array<std::byte, 1> b{};
    if (!mem_.Read(value + i, b)) {
      if (i == 0) return out + fmt::format(" <error: Cannot access memory at address {:#x}>", value);
      break;
    }
    if (b[0] == std::byte{0}) {
      terminated = true;
      break;
    }
    bytes.push_back(b[0]);
  }
  out += " " + EscapeChars(bytes);
  if (!terminated && bytes.size() == kLimit) out += "...";
  return out;
}

Result<uint64_t> ValueFormatter::ReadScalar(uint64_t address, uint64_t size, uint64_t bit_offset,
                                            uint32_t bit_size) const {
  if (bit_size) {
    // A bitfield: read the bytes covering it.
    uint64_t first = address + bit_offset / 8;
    uint64_t shift = bit_offset % 8;
    uint64_t nbytes = (shift + bit_size + 7) / 8;
    std::array<std::byte, 9> b{};
    CORONER_TRY_VOID(mem_.Read(first, std::span(b).first(nbytes)));
    // Up to 9 bytes: the low 8 in `lo`, a ninth (a 64-bit field not byte aligned) in `hi`.
    uint64_t lo = 0, hi = 0;
    for (uint64_t i = 0; i < nbytes && i < 8; ++i) lo |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
    if (nbytes == 9) hi = static_cast<uint8_t>(b[8]);
    uint64_t v = shift ? (lo >> shift) | (hi << (64 - shift)) : lo;
    uint64_t mask = bit_size >= 64 ? ~uint64_t{0} : ((uint64_t{1} << bit_size) - 1);
    return v & mask;
  }
  if (size == 0 || size > 8) return Error(ErrorCode::kUnsupported, fmt::format("a {}-byte scalar", size));
  std::array<std::byte, 8> b{};
  CORONER_TRY_VOID(mem_.Read(address + bit_offset / 8, std::span(b).first(size)));
  uint64_t v = 0;
  std::memcpy(&v, b.data(), size);
  return v;
}

Result<std::string> ValueFormatter::Format(TypeId type, uint64_t address, bool top) const {
  TypeId r = types_.Resolve(type);
  const Type& t = types_.Get(r);
  if (top && t.kind == TypeKind::kPointer) {
    CORONER_TRY(uint64_t v, ReadScalar(address, 8, 0, 0));
    if (IsCharPointer(t)) return CharPointer(v);  // gdb: no "(char *)" before a string
    return fmt::format("({}) {}", types_.Name(type), Pointer(v));
  }
  return FormatAt(type, address, 0, 0, 0, 0);
}

Result<std::string> ValueFormatter::FormatAt(TypeId type, uint64_t address, int indent, uint64_t bit_offset,
                                             uint32_t bit_size, int depth) const {
  if (depth > kMaxDepth) return Error(ErrorCode::kRecursion, "type nesting too deep");
  TypeId rid = types_.Resolve(type);
  const Type& t = types_.Get(rid);
  switch (t.kind) {
    case TypeKind::kInt: {
      CORONER_TRY(uint64_t v, ReadScalar(address, t.size, bit_offset, bit_size));
      uint32_t bits = bit_size ? bit_size : static_cast<uint32_t>(t.size * 8);
      if (t.name == "_Bool") return std::string(v ? "true" : "false");
      std::string num;
      if (radix_ == 16) {
        num = fmt::format("{:#x}", v);  // the value's own bits, as gdb prints a negative in hex
      } else {
        if (t.is_signed && bits < 64 && (v >> (bits - 1)) & 1) v |= ~uint64_t{0} << bits;
        num = t.is_signed ? fmt::format("{}", static_cast<int64_t>(v)) : fmt::format("{}", v);
      }
      // gdb shows a char-sized integer of a char type with its character: 0 '\000', 65 'A'.
      if (t.size == 1 && t.name.find("char") != std::string::npos) {
        auto c = static_cast<unsigned char>(v);
        std::string ch;
        switch (c) {
          case '\'': ch = "\\'"; break;
          case '\\': ch = "\\\\"; break;
          case '\n': ch = "\\n"; break;
          case '\t': ch = "\\t"; break;
          default:
            ch = (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c)) : fmt::format("\\{:03o}", c);
        }
        return fmt::format("{} '{}'", num, ch);
      }
      return num;
    }
    case TypeKind::kEnum: {
      CORONER_TRY(uint64_t v, ReadScalar(address, t.size, bit_offset, bit_size));
      for (const TypeEnumerator& e : t.enumerators) {
        if (static_cast<uint64_t>(e.value) == v || (t.size == 4 && static_cast<uint32_t>(e.value) == v)) return e.name;
      }
      return fmt::format("{}", v);
    }
    case TypeKind::kPointer: {
      CORONER_TRY(uint64_t v, ReadScalar(address, 8, bit_offset, 0));
      if (IsCharPointer(t)) return CharPointer(v);
      return Pointer(v);
    }
    case TypeKind::kArray: {
      const TypeId elem = t.target;
      const Type& et = types_.Get(types_.Resolve(elem));
      auto esize = types_.SizeOf(elem);
      if (!esize) return Error(ErrorCode::kUnsupported, "an array of incomplete type");
      uint64_t base = address + bit_offset / 8;
      bool chars = et.kind == TypeKind::kInt && et.size == 1 && et.name.find("char") != std::string::npos;
      // A flexible array member: gdb shows where it starts.
      if (t.count == 0) return chars ? fmt::format("{:#x} \"\"", base) : fmt::format("{:#x}", base);
      if (chars) {
        std::vector<std::byte> bytes(t.count);
        CORONER_TRY_VOID(mem_.Read(base, bytes));
        // gdb takes a final NUL as the string's end and does not show it.
        if (!bytes.empty() && bytes.back() == std::byte{0}) bytes.pop_back();
        if (bytes.size() > kPrintElements) {
          bytes.resize(kPrintElements);
          return EscapeChars(bytes) + "...";
        }
        return EscapeChars(bytes);
      }
      // Elements sit one level deeper than the array (gdb's recurse + 1).
      std::string out = "{";
      for (uint64_t i = 0; i < t.count; ++i) {
        if (i == kPrintElements) {
          out += "...";
          break;
        }
        if (i) out += ", ";
        CORONER_TRY(std::string v, FormatAt(elem, base + i * *esize, indent + 2, 0, 0, depth + 1));
        out += v;
      }
      return out + "}";
    }
    case TypeKind::kStruct:
    case TypeKind::kUnion: {
      uint64_t base = address + bit_offset / 8;
      if (t.members.empty()) return std::string("{<No data fields>}");  // gdb's empty structure
      std::string pad(static_cast<size_t>(indent + 2), ' ');
      std::string out = "{\n";
      for (size_t i = 0; i < t.members.size(); ++i) {
        const TypeMember& m = t.members[i];
        uint64_t bits = m.bit_offset;
        std::string v;
        if (m.bit_size) {
          CORONER_TRY(v, FormatAt(m.type, base, indent + 2, bits, m.bit_size, depth + 1));
        } else {
          CORONER_TRY(v, FormatAt(m.type, base + bits / 8, indent + 2, 0, 0, depth + 1));
        }
        out += pad + (m.name.empty() ? "" : m.name + " = ") + v + (i + 1 < t.members.size() ? ",\n" : "\n");
      }
      return out + std::string(static_cast<size_t>(indent), ' ') + "}";
    }
    case TypeKind::kFunction:
      return Pointer(address);
    default:
      return Error(ErrorCode::kUnsupported, fmt::format("printing a value of type {}", types_.Name(type)));
  }
}

}  // namespace coroner
