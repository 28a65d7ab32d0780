#include "lib/kernel/kernel.h"

#include <fmt/format.h>

#include <unordered_set>

namespace coroner {

Result<TypeId> Kernel::StructType(std::string_view name) const {
  for (const char* kind : {"struct ", "union "}) {
    auto id = types_.Find(std::string(kind) + std::string(name));
    if (id && types_.Get(*id).kind != TypeKind::kFwd) return *id;
  }
  if (!no_types_reason_.empty()) {
    return Error(ErrorCode::kNotFound, fmt::format("struct {}: no kernel types: {}", name, no_types_reason_));
  }
  if (!types_scope_.empty()) {
    return Error(ErrorCode::kNotFound, fmt::format("the kernel's types here have no struct {} ({})", name, types_scope_));
  }
  return Error(ErrorCode::kNotFound, fmt::format("the kernel's types have no struct {}", name));
}

Result<uint64_t> Kernel::SizeOf(std::string_view struct_name) const {
  CORONER_TRY(TypeId id, StructType(struct_name));
  auto size = types_.SizeOf(id);
  if (!size) return Error(ErrorCode::kBadData, fmt::format("struct {} has no size", struct_name));
  return *size;
}

Result<Field> Kernel::FieldOf(std::string_view struct_name, std::string_view path) const {
  std::string key = fmt::format("{}.{}", struct_name, path);
  auto cached = fields_.find(key);
  if (cached != fields_.end()) {
    if (cached->second) return *cached->second;
    CORONER_TRY_VOID(StructType(struct_name));  // a missing structure says why
    return Error(ErrorCode::kNotFound, fmt::format("struct {} has no member {}", struct_name, path));
  }
  auto compute = [&]() -> std::optional<Field> {
    auto sid = StructType(struct_name);
    if (!sid) return std::nullopt;
    TypeId cur = *sid;
    uint64_t bits = 0;
    uint32_t bit_size = 0;
    std::string_view rest = path;
    while (!rest.empty()) {
      size_t dot = rest.find('.');
      std::string_view part = rest.substr(0, dot);
      rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
      auto m = types_.FindMember(cur, part);
      if (!m) return std::nullopt;
      bits += m->bit_offset;
      bit_size = m->bit_size;
      cur = m->type;
    }
    Field f;
    f.type = cur;
    f.bit_size = bit_size;
    if (bit_size) {
      f.offset = bits / 8;
      f.bit_shift = static_cast<uint32_t>(bits % 8);
      f.size = (f.bit_shift + bit_size + 7) / 8;
    } else {
      f.offset = bits / 8;
      f.size = types_.SizeOf(cur).value_or(0);
    }
    return f;
  };
  auto f = compute();
  fields_.emplace(key, f);
  if (!f) {
    CORONER_TRY_VOID(StructType(struct_name));
    return Error(ErrorCode::kNotFound, fmt::format("struct {} has no member {}", struct_name, path));
  }
  return *f;
}

bool Kernel::HasField(std::string_view struct_name, std::string_view path) const {
  return FieldOf(struct_name, path).has_value();
}

Result<std::string_view> Kernel::FirstField(std::string_view struct_name,
                                            std::initializer_list<std::string_view> paths) const {
  std::string tried;
  for (std::string_view p : paths) {
    if (HasField(struct_name, p)) return p;
    tried += tried.empty() ? std::string(p) : " or " + std::string(p);
  }
  CORONER_TRY_VOID(StructType(struct_name));  // a missing structure says why
  return Error(ErrorCode::kNotFound, fmt::format("struct {} has no member {}", struct_name, tried));
}

Result<uint64_t> Kernel::ReadUnsigned(uint64_t addr, uint64_t size) const {
  switch (size) {
    case 1: {
      std::byte b[1];
      CORONER_TRY_VOID(mem_.Read(addr, b));
      return static_cast<uint64_t>(b[0]);
    }
    case 2: {
      CORONER_TRY(uint16_t v, mem_.ReadU16(addr));
      return v;
    }
    case 4: {
      CORONER_TRY(uint32_t v, mem_.ReadU32(addr));
      return v;
    }
    case 8: return mem_.ReadU64(addr);
    default:
      return Error(ErrorCode::kUnsupported, fmt::format("cannot read a {}-byte integer", size));
  }
}

Result<uint64_t> Kernel::FieldAddress(uint64_t addr, std::string_view struct_name,
                                      std::string_view path) const {
  CORONER_TRY(Field f, FieldOf(struct_name, path));
  return addr + f.offset;
}

Result<uint64_t> Kernel::ReadField(uint64_t addr, std::string_view struct_name,
                                   std::string_view path) const {
  CORONER_TRY(Field f, FieldOf(struct_name, path));
  if (f.bit_size) {
    uint64_t raw = 0;
    std::byte buf[8] = {};
    CORONER_TRY_VOID(mem_.Read(addr + f.offset, std::span(buf, f.size)));
    for (uint64_t i = 0; i < f.size; ++i) raw |= static_cast<uint64_t>(buf[i]) << (8 * i);
    raw >>= f.bit_shift;
    return f.bit_size >= 64 ? raw : raw & ((uint64_t{1} << f.bit_size) - 1);
  }
  auto r = ReadUnsigned(addr + f.offset, f.size);
  if (!r) {
    return std::move(r).error().WithContext(
        fmt::format("reading {}.{} of {:#x}", struct_name, path, addr));
  }
  return r;
}

Result<int64_t> Kernel::ReadSignedField(uint64_t addr, std::string_view struct_name,
                                        std::string_view path) const {
  CORONER_TRY(Field f, FieldOf(struct_name, path));
  CORONER_TRY(uint64_t v, ReadField(addr, struct_name, path));
  uint64_t bits = f.bit_size ? f.bit_size : f.size * 8;
  const Type& t = types_.Get(types_.Resolve(f.type));
  if (t.is_signed && bits > 0 && bits < 64 && (v >> (bits - 1)) & 1) v |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(v);
}

Result<std::string> Kernel::ReadCharArray(uint64_t addr, std::string_view struct_name,
                                          std::string_view path) const {
  CORONER_TRY(Field f, FieldOf(struct_name, path));
  if (f.size == 0 || f.size > 4096) {
    return Error(ErrorCode::kBadData, fmt::format("{}.{} is not a char array", struct_name, path));
  }
  std::string s(f.size, '\0');
  CORONER_TRY_VOID(mem_.Read(addr + f.offset, std::as_writable_bytes(std::span(s))));
  s.resize(std::min(s.find('\0'), s.size()));
  return s;
}

Result<int64_t> Kernel::EnumValue(std::string_view enumerator) const {
  if (enumerators_.empty()) {
    for (TypeId id = 1; id < types_.size(); ++id) {
      const Type& t = types_.GetUnrecorded(id);  // the scan is not a use: the hit's enum is
      if (t.kind != TypeKind::kEnum) continue;
      for (const TypeEnumerator& e : t.enumerators) enumerators_.emplace(e.name, std::pair(e.value, id));
    }
  }
  auto it = enumerators_.find(enumerator);
  if (it == enumerators_.end()) {
    if (!no_types_reason_.empty()) {
      return Error(ErrorCode::kNotFound, fmt::format("enumerator {}: no kernel types: {}", enumerator, no_types_reason_));
    }
    if (!types_scope_.empty()) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("the kernel's types here have no enumerator {} ({})", enumerator, types_scope_));
    }
    return Error(ErrorCode::kNotFound, fmt::format("the kernel's types have no enumerator {}", enumerator));
  }
  types_.MarkUsed(it->second.second);
  return it->second.first;
}

Result<int> Kernel::PossibleCpus() const {
  if (possible_cpus_) return *possible_cpus_;
  CORONER_TRY(uint64_t offsets, SymbolAddress("__per_cpu_offset"));
  int limit = 8192;
  if (auto nr = SymbolAddress("nr_cpu_ids")) {
    if (auto v = mem_.ReadU32(*nr); v && *v > 0 && *v <= 8192) limit = static_cast<int>(*v);
  }
  // __per_cpu_offset[] beyond the possible CPUs holds the boot-time value (the same for all);
  // nr_cpu_ids bounds it.
  std::vector<uint64_t> offs;
  for (int cpu = 0; cpu < limit; ++cpu) {
    CORONER_TRY(uint64_t off, mem_.ReadU64(offsets + 8 * static_cast<uint64_t>(cpu)));
    offs.push_back(off);
  }
  percpu_offsets_ = std::move(offs);
  possible_cpus_ = limit;
  return limit;
}

Result<uint64_t> Kernel::PerCpuOffset(int cpu) const {
  CORONER_TRY(int n, PossibleCpus());
  if (cpu < 0 || cpu >= n) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("CPU {} does not exist (nr_cpu_ids {})", cpu, n));
  }
  return percpu_offsets_[static_cast<size_t>(cpu)];
}

Result<uint64_t> Kernel::PerCpuAddress(std::string_view symbol, int cpu) const {
  const Symbol* s = syms_.Find(symbol);
  if (!s) return Error(ErrorCode::kNotFound, fmt::format("no symbol {}", symbol));
  CORONER_TRY(uint64_t off, PerCpuOffset(cpu));
  return s->address + off;
}

Result<std::vector<uint64_t>> Kernel::ListEntries(uint64_t head, std::string_view struct_name,
                                                  std::string_view member, size_t limit) const {
  CORONER_TRY(Field f, FieldOf(struct_name, member));
  std::vector<uint64_t> out;
  std::unordered_set<uint64_t> seen;
  uint64_t cur = head;
  for (;;) {
    auto next = mem_.ReadU64(cur);
    if (!next) {
      return std::move(next).error().WithContext(
          fmt::format("{}.{} list at {:#x}: reading entry {:#x}", struct_name, member, head, cur));
    }
    if (*next == head) break;
    if (!IsKernelAddress(*next)) {
      return Error(ErrorCode::kBadData,
                   fmt::format("{}.{} list at {:#x}: entry {:#x} points to {:#x}, not a kernel address",
                               struct_name, member, head, cur, *next));
    }
    if (!seen.insert(*next).second) {
      return Error(ErrorCode::kBadData,
                   fmt::format("{}.{} list at {:#x}: loops back to {:#x} without reaching the head",
                               struct_name, member, head, *next));
    }
    if (out.size() >= limit) {
      return Error(ErrorCode::kRecursion,
                   fmt::format("{}.{} list at {:#x}: more than {} entries", struct_name, member, head, limit));
    }
    out.push_back(*next - f.offset);
    cur = *next;
  }
  return out;
}

}  // namespace coroner
