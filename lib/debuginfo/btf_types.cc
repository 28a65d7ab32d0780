#include "lib/debuginfo/btf_types.h"

#include <algorithm>
#include <array>
#include <climits>

#include "lib/base/byte_reader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace coroner {
namespace {

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};

constexpr uint64_t kMaxBtfBytes = 64ull << 20;

}  // namespace

Result<std::vector<std::byte>> ReadKernelBtf(const VirtualMemory& mem, uint64_t start, uint64_t stop) {
  if (stop <= start || stop - start > kMaxBtfBytes) {
    return Error(ErrorCode::kBadData,
                 fmt::format("BTF range {:#x}-{:#x} is implausible", start, stop), AtVirt(start));
  }
  std::vector<std::byte> blob(stop - start);
  auto r = mem.Read(start, blob);
  if (!r) return std::move(r).error().WithContext("reading the kernel's BTF");
  return blob;
}

namespace {

// One BTF type as a Type; `map` turns a BTF id into the table's id (identity for a kernel's own
// BTF; module types are appended after the kernel's).
template <typename Map>
Type ConvertType(const struct btf* btf, const struct btf_type* bt, TypeTable& table, const Map& map) {
  auto name_of = [&](__u32 off) {
    const char* str = btf__name_by_offset(btf, off);
    return std::string(str ? str : "");
  };
  Type t;
  t.name = name_of(bt->name_off);
  switch (btf_kind(bt)) {
    case BTF_KIND_INT: {
      t.kind = TypeKind::kInt;
      t.size = bt->size;
      t.is_signed = (btf_int_encoding(bt) & BTF_INT_SIGNED) != 0;
      break;
    }
    case BTF_KIND_FLOAT:
      t.kind = TypeKind::kFloat;
      t.size = bt->size;
      break;
    case BTF_KIND_PTR:
      t.kind = TypeKind::kPointer;
      t.target = map(bt->type);
      break;
    case BTF_KIND_ARRAY: {
      const struct btf_array* a = btf_array(bt);
      t.kind = TypeKind::kArray;
      t.target = map(a->type);
      t.count = a->nelems;
      break;
    }
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: {
      t.kind = btf_kind(bt) == BTF_KIND_STRUCT ? TypeKind::kStruct : TypeKind::kUnion;
      t.size = bt->size;
      const struct btf_member* m = btf_members(bt);
      for (__u16 i = 0; i < btf_vlen(bt); ++i) {
        TypeMember mem;
        mem.name = name_of(m[i].name_off);
        mem.type = map(m[i].type);
        mem.bit_offset = btf_member_bit_offset(bt, i);
        mem.bit_size = btf_member_bitfield_size(bt, i);
        t.members.push_back(std::move(mem));
      }
      break;
    }
    case BTF_KIND_ENUM: {
      t.kind = TypeKind::kEnum;
      t.size = bt->size;
      t.is_signed = btf_kflag(bt);
      const struct btf_enum* e = btf_enum(bt);
      for (__u16 i = 0; i < btf_vlen(bt); ++i) {
        t.enumerators.push_back({name_of(e[i].name_off), t.is_signed ? int64_t{e[i].val} : int64_t{static_cast<__u32>(e[i].val)}});
      }
      break;
    }
    case BTF_KIND_ENUM64: {
      t.kind = TypeKind::kEnum;
      t.size = bt->size;
      t.is_signed = btf_kflag(bt);
      const struct btf_enum64* e = btf_enum64(bt);
      for (__u16 i = 0; i < btf_vlen(bt); ++i) {
        t.enumerators.push_back({name_of(e[i].name_off), static_cast<int64_t>(btf_enum64_value(&e[i]))});
      }
      break;
    }
    case BTF_KIND_FWD:
      t.kind = TypeKind::kFwd;
      t.fwd_is_union = btf_kflag(bt);
      break;
    case BTF_KIND_TYPEDEF:
      t.kind = TypeKind::kTypedef;
      t.target = map(bt->type);
      break;
    case BTF_KIND_VOLATILE:
      t.kind = TypeKind::kVolatile;
      t.target = map(bt->type);
      break;
    case BTF_KIND_CONST:
      t.kind = TypeKind::kConst;
      t.target = map(bt->type);
      break;
    case BTF_KIND_RESTRICT:
      t.kind = TypeKind::kRestrict;
      t.target = map(bt->type);
      break;
    case BTF_KIND_TYPE_TAG:
      // A tag (e.g. __user, __rcu) is invisible in C declarations: make it a transparent
      // qualifier-less alias by pointing at the tagged type.
      t.kind = TypeKind::kTypedef;
      t.name.clear();
      t.target = map(bt->type);
      break;
    case BTF_KIND_FUNC_PROTO: {
      t.kind = TypeKind::kFunction;
      t.target = map(bt->type);
      const struct btf_param* p = btf_params(bt);
      for (__u16 i = 0; i < btf_vlen(bt); ++i) {
        if (i + 1 == btf_vlen(bt) && p[i].type == 0) {
          t.variadic = true;
        } else {
          t.params.push_back(map(p[i].type));
        }
      }
      break;
    }
    case BTF_KIND_VAR:
      // Only per-CPU variables have VARs in the kernel's BTF; remember their types.
      table.AddVariable(t.name, map(bt->type));
      t.kind = TypeKind::kVoid;
      t.name.clear();
      break;
    default:
      // FUNC, DATASEC, DECL_TAG: not types of values; kept as void placeholders.
      t.kind = TypeKind::kVoid;
      t.name.clear();
      break;
  }
  return t;
}

}  // namespace

namespace {

// struct btf_header (include/uapi/linux/btf.h): magic, version, flags, hdr_len, then the type
// and string sections as offsets and lengths after the header. libbpf only says EINVAL; this
// says what is wrong.
Result<void> CheckBtfHeader(std::span<const std::byte> blob) {
  ByteReader r(blob, Endian::kLittle);
  auto header = [&]() -> Result<std::array<uint64_t, 7>> {
    CORONER_TRY(uint16_t magic, r.U16());
    CORONER_TRY(uint8_t version, r.U8());
    CORONER_TRY(uint8_t flags, r.U8());
    (void)flags;
    std::array<uint64_t, 7> h{magic, version};
    for (size_t i = 2; i < h.size(); ++i) {
      CORONER_TRY(h[i], r.U32());
    }
    return h;
  };
  auto h = header();
  if (!h) return Error(ErrorCode::kBadData, fmt::format("{} bytes, less than a BTF header", blob.size()));
  auto [magic, version, hdr_len, type_off, type_len, str_off, str_len] = *h;
  if (magic != 0xeb9f) return Error(ErrorCode::kBadData, fmt::format("magic {:#06x} where BTF has 0xeb9f", magic), AtOffset(0));
  if (version != 1) return Error(ErrorCode::kBadData, fmt::format("BTF version {} (1 is known)", version), AtOffset(2));
  if (hdr_len < r.pos() || hdr_len > blob.size()) {
    return Error(ErrorCode::kBadData, fmt::format("header length {} in a {}-byte blob", hdr_len, blob.size()), AtOffset(4));
  }
  const uint64_t body = blob.size() - hdr_len;
  if (type_off > body || type_len > body - type_off || str_off > body || str_len > body - str_off) {
    return Error(ErrorCode::kBadData,
                 fmt::format("types at {}+{} or strings at {}+{} past the {} bytes after the header", type_off,
                             type_len, str_off, str_len, body),
                 AtOffset(8));
  }
  return Ok();
}

}  // namespace

Result<TypeTable> LoadBtfTypes(std::span<const std::byte> blob) {
  CORONER_TRY_VOID(CheckBtfHeader(blob));
  errno = 0;
  std::unique_ptr<struct btf, BtfDeleter> btf(btf__new(blob.data(), static_cast<__u32>(blob.size())));
  if (!btf) {
    return Error(ErrorCode::kBadData, fmt::format("BTF is not valid: {}", std::strerror(errno ? errno : EINVAL)));
  }
  TypeTable table;
  const __u32 n = btf__type_cnt(btf.get());
  auto same = [](__u32 id) { return static_cast<TypeId>(id); };
  for (__u32 id = 1; id < n; ++id) table.Set(id, ConvertType(btf.get(), btf__type_by_id(btf.get(), id), table, same));
  table.Index();
  return table;
}

Result<size_t> AddSplitBtfTypes(TypeTable& table, std::span<const std::byte> base_blob,
                                std::span<const std::byte> split_blob) {
  errno = 0;
  std::unique_ptr<struct btf, BtfDeleter> base(btf__new(base_blob.data(), static_cast<__u32>(base_blob.size())));
  if (!base) return Error(ErrorCode::kBadData, "the kernel's BTF is not valid");
  // Debian 12's libbpf (1.1) declares btf__new_split but does not export it: parse the blob as
  // a raw split BTF file, through an anonymous in-memory file.
  int fd = memfd_create("coroner-module-btf", MFD_CLOEXEC);
  if (fd < 0) return Error(ErrorCode::kIo, fmt::format("memfd_create: {}", std::strerror(errno)));
  bool written = ::write(fd, split_blob.data(), split_blob.size()) == static_cast<ssize_t>(split_blob.size());
  std::string path = fmt::format("/proc/self/fd/{}", fd);
  std::unique_ptr<struct btf, BtfDeleter> split(written ? btf__parse_raw_split(path.c_str(), base.get()) : nullptr);
  ::close(fd);
  if (!split) {
    return Error(ErrorCode::kBadData, fmt::format("split BTF is not valid: {}", std::strerror(errno ? errno : EINVAL)));
  }
  const __u32 base_n = btf__type_cnt(base.get()), n = btf__type_cnt(split.get());
  const TypeId first = static_cast<TypeId>(table.size());
  auto map = [&](__u32 id) { return id < base_n ? static_cast<TypeId>(id) : first + static_cast<TypeId>(id - base_n); };
  for (__u32 id = base_n; id < n; ++id) table.Set(map(id), ConvertType(split.get(), btf__type_by_id(split.get(), id), table, map));
  return static_cast<size_t>(n - base_n);
}

namespace {

// Which types the subset holds: kFull (the definition), kDecl (a struct or union reached only
// through pointers: a forward declaration). A pointer-only visit of a typedef, qualifier, array
// or function keeps it in full but goes on in pointer mode.
enum class Keep : uint8_t { kNone, kDecl, kPointerPath, kFull };

class SubsetWriter {
 public:
  SubsetWriter(const TypeTable& types, TypeId limit) : types_(types), limit_(limit), keep_(limit, Keep::kNone) {}

  void Visit(TypeId root) {
    Push(root, true);
    while (!work_.empty()) {
      auto [id, by_value] = work_.back();
      work_.pop_back();
      const Type& t = types_.GetUnrecorded(id);
      const bool composite = t.kind == TypeKind::kStruct || t.kind == TypeKind::kUnion;
      if (composite && !by_value && !t.name.empty()) {
        if (keep_[id] == Keep::kPointerPath) keep_[id] = Keep::kDecl;
        continue;
      }
      const bool value = by_value || composite;  // an anonymous struct is kept whole
      for (const TypeMember& m : t.members) Push(m.type, true);
      switch (t.kind) {
        case TypeKind::kPointer: Push(t.target, false); break;
        case TypeKind::kFunction:
          Push(t.target, false);
          for (TypeId p : t.params) Push(p, false);
          break;
        case TypeKind::kArray:
        case TypeKind::kTypedef:
        case TypeKind::kConst:
        case TypeKind::kVolatile:
        case TypeKind::kRestrict: Push(t.target, value); break;
        default: break;
      }
    }
  }

  Result<std::vector<std::byte>> Write(const TypeUse& use) {
    std::unique_ptr<struct btf, BtfDeleter> btf(btf__new_empty());
    if (!btf) return Error(ErrorCode::kIo, "btf__new_empty failed");
    // New ids, in the old order; a tag (an unnamed typedef) is its target, a void placeholder 0.
    std::vector<int> new_id(limit_, 0);
    int next = 1;
    for (TypeId id = 1; id < limit_; ++id) {
      if (keep_[id] == Keep::kNone) continue;
      const Type& t = types_.GetUnrecorded(id);
      if (t.kind == TypeKind::kVoid || (t.kind == TypeKind::kTypedef && t.name.empty())) continue;
      new_id[id] = next++;
    }
    const int array_index = next;  // "__ARRAY_SIZE_TYPE__", as pahole names the index type
    auto map = [&](TypeId id) {
      for (int guard = 0; guard < 64 && id && id < limit_; ++guard) {
        const Type& t = types_.GetUnrecorded(id);
        if (!(t.kind == TypeKind::kTypedef && t.name.empty())) return new_id[id];
        id = t.target;
      }
      return 0;
    };
    for (TypeId id = 1; id < limit_; ++id) {
      if (!new_id[id]) continue;
      const Type& t = types_.GetUnrecorded(id);
      int got = Add(btf.get(), t, keep_[id] == Keep::kDecl, map, array_index);
      if (got != new_id[id]) {
        return Error(ErrorCode::kBadData, fmt::format("type {} ({}) could not be written as BTF: {}", id,
                                                      types_.Name(id), got < 0 ? std::strerror(-got) : "id mismatch"));
      }
    }
    if (btf__add_int(btf.get(), "__ARRAY_SIZE_TYPE__", 4, 0) != array_index) {
      return Error(ErrorCode::kIo, "BTF: the array index type could not be added");
    }
    std::vector<std::string> vars = use.variables;
    std::sort(vars.begin(), vars.end());
    vars.erase(std::unique(vars.begin(), vars.end()), vars.end());
    for (const std::string& v : vars) {
      auto type = types_.VariableType(v);
      if (type && *type < limit_ && map(*type) && btf__add_var(btf.get(), v.c_str(), BTF_VAR_GLOBAL_ALLOCATED, map(*type)) < 0) {
        return Error(ErrorCode::kBadData, fmt::format("BTF: variable {} could not be added", v));
      }
    }
    __u32 size = 0;
    const void* raw = btf__raw_data(btf.get(), &size);
    if (!raw) return Error(ErrorCode::kIo, "BTF: no raw data");
    const auto* bytes = static_cast<const std::byte*>(raw);
    return std::vector<std::byte>(bytes, bytes + size);
  }

 private:
  void Push(TypeId id, bool by_value) {
    if (!id || id >= limit_) return;
    if (by_value) {
      if (keep_[id] == Keep::kFull) return;
      keep_[id] = Keep::kFull;
    } else {
      if (keep_[id] != Keep::kNone) return;  // a declaration, a pointer path or the whole type has it
      keep_[id] = Keep::kPointerPath;
    }
    work_.emplace_back(id, by_value);
  }

  template <typename Map>
  static int Add(struct btf* b, const Type& t, bool decl, const Map& map, int array_index) {
    const char* name = t.name.c_str();
    switch (t.kind) {
      case TypeKind::kInt: {
        int enc = t.is_signed ? BTF_INT_SIGNED : 0;
        if (t.name == "_Bool") enc = BTF_INT_BOOL;
        return btf__add_int(b, name, t.size, enc);
      }
      case TypeKind::kFloat: return btf__add_float(b, name, t.size);
      case TypeKind::kPointer: return btf__add_ptr(b, map(t.target));
      case TypeKind::kArray: return btf__add_array(b, array_index, map(t.target), static_cast<__u32>(t.count));
      case TypeKind::kStruct:
      case TypeKind::kUnion: {
        const bool is_union = t.kind == TypeKind::kUnion;
        if (decl) return btf__add_fwd(b, name, is_union ? BTF_FWD_UNION : BTF_FWD_STRUCT);
        int id = is_union ? btf__add_union(b, name, static_cast<__u32>(t.size)) : btf__add_struct(b, name, static_cast<__u32>(t.size));
        if (id < 0) return id;
        for (const TypeMember& m : t.members) {
          int e = btf__add_field(b, m.name.c_str(), map(m.type), static_cast<__u32>(m.bit_offset), m.bit_size);
          if (e < 0) return e;
        }
        return id;
      }
      case TypeKind::kEnum: {
        bool wide = t.size > 4;
        for (const TypeEnumerator& e : t.enumerators) wide = wide || e.value < INT32_MIN || e.value > int64_t{UINT32_MAX};
        int id = wide ? btf__add_enum64(b, name, static_cast<__u32>(t.size), t.is_signed)
                      : btf__add_enum(b, name, static_cast<__u32>(t.size));
        if (id < 0) return id;
        for (const TypeEnumerator& e : t.enumerators) {
          int r = wide ? btf__add_enum64_value(b, e.name.c_str(), static_cast<__u64>(e.value))
                       : btf__add_enum_value(b, e.name.c_str(), e.value);
          if (r < 0) return r;
        }
        return id;
      }
      case TypeKind::kFwd: return btf__add_fwd(b, name, t.fwd_is_union ? BTF_FWD_UNION : BTF_FWD_STRUCT);
      case TypeKind::kTypedef: return btf__add_typedef(b, name, map(t.target));
      case TypeKind::kConst: return btf__add_const(b, map(t.target));
      case TypeKind::kVolatile: return btf__add_volatile(b, map(t.target));
      case TypeKind::kRestrict: return btf__add_restrict(b, map(t.target));
      case TypeKind::kFunction: {
        int id = btf__add_func_proto(b, map(t.target));
        if (id < 0) return id;
        for (TypeId p : t.params) {
          int r = btf__add_func_param(b, "", map(p));
          if (r < 0) return r;
        }
        if (t.variadic) {
          int r = btf__add_func_param(b, "", 0);
          if (r < 0) return r;
        }
        return id;
      }
      case TypeKind::kVoid: break;
    }
    return -EINVAL;
  }

  const TypeTable& types_;
  TypeId limit_;
  std::vector<Keep> keep_;
  std::vector<std::pair<TypeId, bool>> work_;
};

}  // namespace

Result<std::vector<std::byte>> WriteBtfSubset(const TypeTable& types, const TypeUse& use, TypeId limit) {
  limit = std::min<TypeId>(limit, static_cast<TypeId>(types.size()));
  SubsetWriter w(types, limit);
  for (TypeId id = 1; id < use.ids.size() && id < limit; ++id) {
    if (use.ids[id]) w.Visit(id);
  }
  for (const std::string& v : use.variables) {
    if (auto t = types.VariableType(v)) w.Visit(*t);
  }
  return w.Write(use);
}

}  // namespace coroner
