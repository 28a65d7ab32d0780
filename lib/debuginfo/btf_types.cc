#include "lib/debuginfo/btf_types.h"

#include <array>

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


}  // namespace coroner
