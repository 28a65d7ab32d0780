#include "lib/debuginfo/types.h"

#include <algorithm>

#include <fmt/format.h>

namespace coroner {

std::string GdbIntName(std::string_view n) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"long unsigned int", "unsigned long"},
      {"long int", "long"},
      {"short unsigned int", "unsigned short"},
      {"short int", "short"},
      {"long long int", "long long"},
      {"long long unsigned int", "unsigned long long"},
  };
  for (const auto& [from, to] : kNames) {
    if (n == from) return std::string(to);
  }
  return std::string(n);
}

TypeTable::TypeTable() { types_.emplace_back(); }

TypeId TypeTable::Add(Type t) {
  types_.push_back(std::move(t));
  return static_cast<TypeId>(types_.size() - 1);
}

TypeId TypeTable::AddPending(Type t) {
  TypeId id = Add(std::move(t));
  if (pending_.size() <= id) pending_.resize(id + 1);
  pending_[id] = true;
  return id;
}

void TypeTable::Complete(TypeId id) const {
  pending_[id] = false;  // first, so that a self-referencing type does not recurse
  if (source_) source_->Complete(const_cast<TypeTable&>(*this), id);
}

TypeId TypeTable::PointerTo(TypeId target) const {
  if (auto it = pointer_to_.find(target); it != pointer_to_.end()) return it->second;
  for (TypeId id = 1; id < types_.size(); ++id) {
    if (id < pending_.size() && pending_[id]) continue;
    if (types_[id].kind == TypeKind::kPointer && types_[id].target == target) return pointer_to_[target] = id;
  }
  Type p;
  p.kind = TypeKind::kPointer;
  p.target = target;
  types_.push_back(std::move(p));
  return pointer_to_[target] = static_cast<TypeId>(types_.size() - 1);
}

void TypeTable::Set(TypeId id, Type t) {
  if (id >= types_.size()) types_.resize(id + 1);
  types_[id] = std::move(t);
}

void TypeTable::Index() {
  by_name_.clear();
  for (TypeId id = 1; id < types_.size(); ++id) {
    const Type& t = types_[id];
    if (t.name.empty()) continue;
    switch (t.kind) {
      case TypeKind::kStruct: by_name_["struct " + t.name].push_back(id); break;
      case TypeKind::kUnion: by_name_["union " + t.name].push_back(id); break;
      case TypeKind::kEnum: by_name_["enum " + t.name].push_back(id); break;
      case TypeKind::kFwd: by_name_[(t.fwd_is_union ? "union " : "struct ") + t.name].push_back(id); break;
      case TypeKind::kTypedef: by_name_["typedef " + t.name].push_back(id); break;
      case TypeKind::kInt:
      case TypeKind::kFloat: by_name_["base " + t.name].push_back(id); break;
      default: break;
    }
  }
}

std::optional<TypeId> TypeTable::Find(std::string_view name) const {
  auto best = [&](const std::string& key) -> std::optional<TypeId> {
    auto it = by_name_.find(key);
    if (it == by_name_.end()) return std::nullopt;
    for (TypeId id : it->second) {
      if (types_[id].kind != TypeKind::kFwd) return id;
    }
    return it->second.front();
  };
  std::string n(name);
  while (!n.empty() && n.back() == ' ') n.pop_back();
  std::vector<std::string> keys;
  for (const char* prefix : {"struct ", "union ", "enum "}) {
    if (n.rfind(prefix, 0) == 0) keys = {n};
  }
  if (keys.empty()) {
    for (const char* prefix : {"typedef ", "struct ", "union ", "enum ", "base "}) keys.push_back(prefix + n);
  }
  for (const auto& key : keys) {
    if (auto id = best(key)) return id;
  }
  // gdb's spellings of base types ("unsigned long") for the DWARF names BTF and DWARF keep.
  for (const auto& [key, ids] : by_name_) {
    if (key.rfind("base ", 0) == 0 && GdbIntName(key.substr(5)) == n) return ids.front();
  }
  if (!source_ || keys.size() == 1) {
    if (source_ && !asked_[keys[0]]) {
      asked_[keys[0]] = true;
      return source_->Load(const_cast<TypeTable&>(*this), keys);
    }
    return std::nullopt;
  }
  for (const std::string_view dwarf : {"long unsigned int", "long int", "short unsigned int", "short int",
                                       "long long int", "long long unsigned int"}) {
    if (GdbIntName(dwarf) == n) keys.push_back("base " + std::string(dwarf));
  }
  std::string joined;
  for (const auto& k : keys) joined += k + "\n";
  if (asked_[joined]) return std::nullopt;
  asked_[joined] = true;
  return source_->Load(const_cast<TypeTable&>(*this), keys);
}

TypeId TypeTable::Resolve(TypeId id) const {
  for (int guard = 0; guard < 64; ++guard) {
    const Type& t = Get(id);
    if (t.kind != TypeKind::kTypedef && t.kind != TypeKind::kConst && t.kind != TypeKind::kVolatile &&
        t.kind != TypeKind::kRestrict) {
      return id;
    }
    id = t.target;
  }
  return 0;
}

std::optional<uint64_t> TypeTable::SizeOf(TypeId id) const {
  id = Resolve(id);
  const Type& t = Get(id);
  switch (t.kind) {
    case TypeKind::kInt:
    case TypeKind::kFloat:
    case TypeKind::kStruct:
    case TypeKind::kUnion:
    case TypeKind::kEnum:
      return t.size;
    case TypeKind::kPointer:
      return 8;
    case TypeKind::kArray: {
      auto elem = SizeOf(t.target);
      if (!elem) return std::nullopt;
      return *elem * t.count;
    }
    default:
      return std::nullopt;
  }
}

std::string TypeTable::BaseName(const Type& t) const {
  switch (t.kind) {
    case TypeKind::kVoid: return "void";
    case TypeKind::kInt:
    case TypeKind::kFloat: return GdbIntName(t.name);
    case TypeKind::kTypedef: return t.name;
    case TypeKind::kStruct: return t.name.empty() ? "struct {...}" : "struct " + t.name;
    case TypeKind::kUnion: return t.name.empty() ? "union {...}" : "union " + t.name;
    case TypeKind::kEnum: return t.name.empty() ? "enum {...}" : "enum " + t.name;
    case TypeKind::kFwd: return (t.fwd_is_union ? "union " : "struct ") + t.name;
    default: return "?";
  }
}

std::string TypeTable::Declaration(TypeId id, std::string_view name) const {
  std::string inner(name);
  for (int guard = 0; guard < 64; ++guard) {
    const Type& t = Peek(id);
    switch (t.kind) {
      case TypeKind::kPointer: {
        const Type& target = Peek(t.target);
        bool wrap = target.kind == TypeKind::kArray || target.kind == TypeKind::kFunction;
        inner = wrap ? "(*" + inner + ")" : "*" + inner;
        id = t.target;
        continue;
      }
      case TypeKind::kArray:
        inner += t.count ? fmt::format("[{}]", t.count) : "[]";
        id = t.target;
        continue;
      case TypeKind::kFunction: {
        std::string params;
        for (TypeId p : t.params) params += (params.empty() ? "" : ", ") + Name(p);
        if (t.variadic) params += params.empty() ? "..." : ", ...";
        if (params.empty()) params = "void";
        inner += "(" + params + ")";
        id = t.target;
        continue;
      }
      case TypeKind::kConst:
      case TypeKind::kVolatile:
      case TypeKind::kRestrict: {
        const char* q = t.kind == TypeKind::kConst ? "const" : t.kind == TypeKind::kVolatile ? "volatile" : "restrict";
        const Type& target = Peek(t.target);
        if (target.kind == TypeKind::kPointer) {
          inner = std::string(q) + (inner.empty() ? "" : " ") + inner;
          id = t.target;
          continue;
        }
        std::string rest = Declaration(t.target, inner);
        return std::string(q) + " " + rest;
      }
      case TypeKind::kTypedef:
        if (t.name.empty()) {  // a BTF type tag (__user, __rcu): invisible in C
          id = t.target;
          continue;
        }
        [[fallthrough]];
      default: {
        std::string base = BaseName(t);
        if (inner.empty()) return base;
        // "char *p", "struct x *p": the declarator follows the base after a space.
        return base + " " + inner;
      }
    }
  }
  return "?";
}

namespace {

// crash's [offset] column label: the offset (decimal, or 0x.. with -x) or, with an address, the
// member's address in hex.
std::string OffsetLabel(const TypeTable::LayoutOptions& o, uint64_t offset) {
  if (o.address) return fmt::format("[{:x}]", *o.address + offset);
  return o.hex ? fmt::format("[{:#x}]", offset) : fmt::format("[{}]", offset);
}

}  // namespace

void TypeTable::LayoutMembers(const Type& t, uint64_t base_bits, int depth, const LayoutOptions& o, int width,
                              std::string& out, bool hide_offsets) const {
  const bool offsets = o.offsets;
  const std::string pad_off = offsets ? std::string(static_cast<size_t>(width), ' ') : std::string();
  const std::string indent(static_cast<size_t>(4 * depth), ' ');
  // crash right-aligns "  [offset]" in `width` columns; a longer label (an address) overflows.
  auto column = [&](uint64_t offset) {
    std::string label = OffsetLabel(o, offset);
    return fmt::format("{:>{}} ", label, std::max<size_t>(static_cast<size_t>(width), label.size() + 2));
  };
  for (const TypeMember& m : t.members) {
    uint64_t bits = base_bits + m.bit_offset;
    const Type& mt = Peek(m.type);
    bool anon_aggregate = (mt.kind == TypeKind::kStruct || mt.kind == TypeKind::kUnion) && mt.name.empty();
    // The line prefix: crash's [offset] column (blank here) and four spaces per nesting level.
    const std::string prefix = offsets ? pad_off + " " + indent.substr(4) : indent;
    if (anon_aggregate) {
      // A nested anonymous struct/union is expanded inline, as gdb does. When such a member
      // has a name, crash shows its offset on the closing line and none on the members inside.
      out += prefix + (mt.kind == TypeKind::kStruct ? "struct {\n" : "union {\n");
      bool named = !m.name.empty();
      LayoutMembers(mt, bits, depth + 1, o, width, out, hide_offsets || named);
      if (named && offsets && !hide_offsets) {
        out += column(bits / 8) + indent.substr(4) + "} " + m.name + ";\n";
      } else {
        out += prefix + (named ? "} " + m.name + ";\n" : "};\n");
      }
      continue;
    }
    std::string decl = Declaration(m.type, m.name);
    if (m.bit_size) decl += fmt::format(" : {}", m.bit_size);
    if (offsets && !hide_offsets) {
      out += column(bits / 8) + indent.substr(4) + decl + ";\n";
    } else if (offsets) {
      out += prefix + decl + ";\n";
    } else {
      out += indent + decl + ";\n";
    }
  }
}

std::string TypeTable::Layout(TypeId id, const LayoutOptions& o) const {
  const Type& t = Get(id);
  std::string out;
  auto size_line = [&](uint64_t size) {
    return o.hex ? fmt::format("SIZE: {:#x}\n", size) : fmt::format("SIZE: {}\n", size);
  };
  if (t.kind != TypeKind::kStruct && t.kind != TypeKind::kUnion) {
    // A typedef shows what it finally stands for (gdb's ptype): typedefs in between are
    // skipped, and a struct or union is shown with its body:
    //   typedef unsigned long long u64;   typedef struct { int counter; } atomic_t;
    TypeId under = t.target;
    for (int guard = 0; guard < 64 && Get(under).kind == TypeKind::kTypedef; ++guard) under = Get(under).target;
    const Type& target = Get(under);
    if (t.kind == TypeKind::kTypedef && (target.kind == TypeKind::kStruct || target.kind == TypeKind::kUnion)) {
      out = std::string("typedef ") + (target.kind == TypeKind::kStruct ? "struct " : "union ") + target.name +
            (target.name.empty() ? "{\n" : " {\n");
      LayoutMembers(target, 0, 1, LayoutOptions{}, 0, out, false);
      out += "} " + t.name + ";\n";
    } else if (t.kind == TypeKind::kTypedef) {
      out = "typedef " + Declaration(under, t.name) + ";\n";
    } else if (t.kind == TypeKind::kEnum) {
      out = BaseName(t) + " {\n";
      for (size_t i = 0; i < t.enumerators.size(); ++i) {
        out += fmt::format("    {}{}\n", t.enumerators[i].name, i + 1 < t.enumerators.size() ? "," : "");
      }
      out += "};\n";
    } else {
      out = Name(id) + ";\n";
    }
    if (auto size = SizeOf(id)) out += size_line(*size);
    return out;
  }
  // Width of the [offset] column, as crash sets it: the size's digits plus four.
  int width = static_cast<int>((o.hex ? fmt::format("{:#x}", t.size) : fmt::format("{}", t.size)).size()) + 4;
  out = (t.kind == TypeKind::kStruct ? "struct " : "union ") + t.name + " {\n";
  LayoutMembers(t, 0, 1, o, width, out, false);
  out += "}\n" + size_line(t.size);
  return out;
}

std::optional<TypeTable::MemberLocation> TypeTable::FindMember(TypeId struct_id, std::string_view name) const {
  // Anonymous members nest a few levels at most; the bound stops a malformed type table.
  struct Finder {
    const TypeTable& t;
    std::optional<MemberLocation> operator()(TypeId id, std::string_view n, int depth) const {
      if (depth > 16) return std::nullopt;
      for (const TypeMember& m : t.Get(t.Resolve(id)).members) {
        if (m.name == n) return MemberLocation{m.bit_offset, m.type, m.bit_size};
        if (m.name.empty()) {
          if (auto inner = (*this)(m.type, n, depth + 1)) {
            inner->bit_offset += m.bit_offset;
            return inner;
          }
        }
      }
      return std::nullopt;
    }
  };
  return Finder{*this}(struct_id, name, 0);
}

}  // namespace coroner
