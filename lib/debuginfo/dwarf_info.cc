#include "lib/debuginfo/dwarf_info.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

namespace coroner {
namespace {

constexpr int kMaxDepth = 64;

// What the name index keeps per top-level DIE.
// A DIE of one of the files: the file's number in the top 16 bits, its .debug_info offset below.
using DieRef = uint64_t;
constexpr int kFileShift = 48;

struct IndexEntry {
  DieRef offset = 0;
  bool definition = false;  // not DW_AT_declaration (a variable: has DW_AT_location)
};

using NameIndex = std::unordered_map<std::string_view, std::vector<IndexEntry>>;

enum IndexKind { kStructIdx, kUnionIdx, kEnumIdx, kTypedefIdx, kBaseIdx, kVarIdx, kFuncIdx, kNumIdx };

std::optional<uint64_t> UdataAttr(Dwarf_Die* die, unsigned name) {
  Dwarf_Attribute attr;
  Dwarf_Word v = 0;
  if (!dwarf_attr_integrate(die, name, &attr) || dwarf_formudata(&attr, &v) != 0) return std::nullopt;
  return v;
}

bool TypeDie(Dwarf_Die* die, Dwarf_Die* out) {
  Dwarf_Attribute attr;
  return dwarf_attr_integrate(die, DW_AT_type, &attr) && dwarf_formref_die(&attr, out);
}

// The address of a variable's DW_OP_addr location, if it has exactly that.
std::optional<uint64_t> LocationAddress(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  if (!dwarf_attr(die, DW_AT_location, &attr)) return std::nullopt;
  Dwarf_Op* ops = nullptr;
  size_t n = 0;
  if (dwarf_getlocation(&attr, &ops, &n) != 0 || n < 1 || ops[0].atom != DW_OP_addr) return std::nullopt;
  return ops[0].number;
}

}  // namespace

class DwarfInfo::Impl : public LazyTypeSource {
 public:
  ~Impl() override {
    for (File& f : files_) {
      if (f.dwfl) {
        dwfl_end(f.dwfl);  // owns the module's Dwarf
      } else if (f.dwarf) {
        dwarf_end(f.dwarf);
      }
      if (f.fd >= 0) close(f.fd);
    }
  }

  Result<void> Open(const std::string& path, const DwarfOptions& options) {
    options_ = options;
    File& f = files_.emplace_back();
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
      files_.pop_back();
      return Error(ErrorCode::kIo, fmt::format("{}: {}", path, std::strerror(errno)));
    }
    f.dwarf = dwarf_begin(f.fd, DWARF_C_READ);
    if (!f.dwarf) {
      close(f.fd);
      files_.pop_back();
      return Error(ErrorCode::kNotFound, fmt::format("{}: no DWARF debug info ({})", path, dwarf_errmsg(-1)));
    }
    has_vmlinux_ = true;
    types_.SetLazySource(this);
    if (!options_.index_dir.empty()) {
      const void* id = nullptr;
      ssize_t n = dwelf_elf_gnu_build_id(dwarf_getelf(f.dwarf), &id);
      if (n > 0) {
        std::string hex;
        for (ssize_t i = 0; i < n; ++i) hex += fmt::format("{:02x}", static_cast<const uint8_t*>(id)[i]);
        index_path_ = options_.index_dir + "/" + hex + ".idx";
      }
    }
    return {};
  }

  void OpenEmpty() { types_.SetLazySource(this); }

  // ---- module files (ET_REL .ko), laid out by libdwfl at the loaded sections' addresses ----

  struct ModuleLayout {
    std::string path;
    std::unordered_map<std::string, uint64_t> sections;
  };

  static int FindModuleElf(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, char** file_name, Elf** elfp) {
    const auto* layout = static_cast<const ModuleLayout*>(*userdata);
    *elfp = nullptr;
    if (!layout) return -1;
    *file_name = strdup(layout->path.c_str());
    return ::open(layout->path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  static int NoSeparateDebuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*,
                                 GElf_Word, char**) {
    return -1;
  }
  // Where the kernel put each allocated section; a section it did not keep is "not loaded".
  static int ModuleSectionAddress(Dwfl_Module*, void** userdata, const char*, Dwarf_Addr, const char* secname,
                                  GElf_Word, const GElf_Shdr*, Dwarf_Addr* addr) {
    const auto* layout = static_cast<const ModuleLayout*>(*userdata);
    if (!layout) return -1;
    auto it = layout->sections.find(secname ? secname : "");
    *addr = it == layout->sections.end() ? static_cast<Dwarf_Addr>(-1) : it->second;
    return 0;
  }

  Result<void> AddModule(const std::string& path, const std::string& module_name,
                         const std::unordered_map<std::string, uint64_t>& sections) {
    if (files_.size() >= (size_t{1} << (64 - kFileShift)) - 1) {
      return Error(ErrorCode::kOverflow, "too many debug files");
    }
    uint64_t low = ~uint64_t{0}, high = 0;
    for (const auto& [name, a] : sections) {
      low = std::min(low, a);
      high = std::max(high, a);
    }
    if (sections.empty()) return Error(ErrorCode::kInvalidArgument, fmt::format("{}: no section addresses", module_name));
    static const Dwfl_Callbacks callbacks = {
        .find_elf = FindModuleElf,
        .find_debuginfo = NoSeparateDebuginfo,
        .section_address = ModuleSectionAddress,
        .debuginfo_path = nullptr,
    };
    auto layout = std::make_unique<ModuleLayout>(ModuleLayout{path, sections});
    Dwfl* dwfl = dwfl_begin(&callbacks);
    if (!dwfl) return Error(ErrorCode::kIo, fmt::format("libdwfl: {}", dwfl_errmsg(-1)));
    dwfl_report_begin(dwfl);
    Dwfl_Module* mod = dwfl_report_module(dwfl, module_name.c_str(), low, high + 1);
    dwfl_report_end(dwfl, nullptr, nullptr);
    void** userdata = nullptr;
    if (mod) dwfl_module_info(mod, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    if (!mod || !userdata) {
      std::string why = dwfl_errmsg(-1);
      dwfl_end(dwfl);
      return Error(ErrorCode::kIo, fmt::format("{}: libdwfl: {}", path, why));
    }
    *userdata = layout.get();
    Dwarf_Addr bias = 0;
    Dwarf* dw = dwfl_module_getdwarf(mod, &bias);  // reads and relocates the debug sections
    if (!dw) {
      std::string why = dwfl_errmsg(-1);
      dwfl_end(dwfl);
      return Error(ErrorCode::kNotFound, fmt::format("{}: no DWARF debug info ({})", path, why));
    }
    File f;
    f.layout = std::move(layout);  // libdwfl may ask for section addresses again
    f.dwarf = dw;
    f.dwfl = dwfl;
    f.bias = bias;
    f.module = module_name;
    files_.push_back(std::move(f));
    // Names that were not found before may be in the new file.
    types_.ForgetMisses();
    return {};
  }

  // ---- the index file ----
  // Text: "coroner-dwarf-index 1 UNITS\n", then "KIND\tNAME\tOFFSET\tDEFINITION\n" per entry,
  // in the order a full scan makes them (so a loaded index answers exactly as a scan would).
  // It is untrusted input: a malformed file is ignored, and offsets are checked when used.

  void WriteIndexFile() {
    if (index_path_.empty() || index_loaded_) return;
    std::error_code ec;
    std::filesystem::create_directories(options_.index_dir, ec);
    std::string tmp = index_path_ + fmt::format(".tmp{}", ::getpid());
    {
      std::ofstream out(tmp, std::ios::trunc);
      if (!out) return;
      out << "coroner-dwarf-index 1 " << units_scanned_ << "\n";
      for (int k = 0; k < kNumIdx; ++k) {
        for (const std::string_view name : index_order_[k]) {
          if (name.find_first_of("\t\n") != std::string_view::npos) continue;
          for (const IndexEntry& e : index_[k].at(name)) {
            out << k << '\t' << name << '\t' << e.offset << '\t' << (e.definition ? 1 : 0) << '\n';
          }
        }
      }
      if (!out) {
        std::filesystem::remove(tmp, ec);
        return;
      }
    }
    std::filesystem::rename(tmp, index_path_, ec);
    if (ec) std::filesystem::remove(tmp, ec);
  }

  bool LoadIndexFile() {
    if (index_path_.empty() || index_tried_ || !has_vmlinux_) return false;
    index_tried_ = true;
    std::ifstream in(index_path_, std::ios::binary);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    auto blob = std::make_unique<std::string>(ss.str());
    std::string_view text(*blob);
    std::string_view header = text.substr(0, text.find('\n'));
    if (header != fmt::format("coroner-dwarf-index 1 {}", UnitsTotal()) || header.size() == text.size()) return false;
    NameIndex loaded[kNumIdx];
    std::vector<std::string_view> order[kNumIdx];
    for (size_t pos = header.size() + 1; pos < text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) return false;
      std::string_view line = text.substr(pos, end - pos);
      pos = end + 1;
      size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1), t3 = line.find('\t', t2 + 1);
      if (t1 != 1 || t2 == std::string_view::npos || t3 == std::string_view::npos || line[0] < '0' ||
          line[0] >= '0' + kNumIdx) {
        return false;
      }
      int k = line[0] - '0';
      std::string_view name = line.substr(t1 + 1, t2 - t1 - 1);
      std::string_view off_text = line.substr(t2 + 1, t3 - t2 - 1);
      uint64_t off = 0;
      auto [p, ec] = std::from_chars(off_text.data(), off_text.data() + off_text.size(), off);
      if (ec != std::errc() || p != off_text.data() + off_text.size() || name.empty()) return false;
      auto [it, added] = loaded[k].try_emplace(name);
      if (added) order[k].push_back(name);
      it->second.push_back({off, line.substr(t3 + 1) == "1"});
    }
    for (int k = 0; k < kNumIdx; ++k) {
      index_[k] = std::move(loaded[k]);
      index_order_[k] = std::move(order[k]);
    }
    index_blob_ = std::move(blob);
    units_scanned_ = UnitsTotal();
    files_[0].done = true;
    ++current_file_;
    index_loaded_ = true;
    return true;
  }

  // ---- the name index ----

  // Indexes the next compile unit's top-level DIEs (the vmlinux's, then each module's in the
  // order they were added); false when all are done.
  bool ScanNextUnit() {
    Dwarf_Die cu;
    size_t file_index = 0;
    for (;;) {
      if (current_file_ >= files_.size()) return false;
      File& f = files_[current_file_];
      bool vmlinux = has_vmlinux_ && current_file_ == 0;
      // After the first units, an index file (if one was written before) answers instead.
      if (vmlinux && units_scanned_ >= options_.units_before_index && LoadIndexFile()) return true;
      Dwarf_Off next = 0;
      size_t header_size = 0;
      if (dwarf_nextcu(f.dwarf, f.next_unit, &next, &header_size, nullptr, nullptr, nullptr) != 0 ||
          !dwarf_offdie(f.dwarf, f.next_unit + header_size, &cu)) {
        f.done = true;
        ++current_file_;
        if (vmlinux) WriteIndexFile();
        continue;
      }
      f.next_unit = next;
      if (vmlinux) ++units_scanned_;
      file_index = current_file_;
      break;
    }
    Dwarf_Die die;
    if (dwarf_child(&cu, &die) != 0) return true;
    do {
      int tag = dwarf_tag(&die);
      IndexKind kind;
      switch (tag) {
        case DW_TAG_structure_type: kind = kStructIdx; break;
        case DW_TAG_union_type: kind = kUnionIdx; break;
        case DW_TAG_enumeration_type: kind = kEnumIdx; break;
        case DW_TAG_typedef: kind = kTypedefIdx; break;
        case DW_TAG_base_type: kind = kBaseIdx; break;
        case DW_TAG_variable: kind = kVarIdx; break;
        case DW_TAG_subprogram: kind = kFuncIdx; break;
        default: continue;
      }
      const char* name = dwarf_diename(&die);
      if (!name) continue;
      auto [slot, added] = index_[kind].try_emplace(std::string_view(name));
      if (added) index_order_[kind].push_back(slot->first);
      auto& entries = slot->second;
      IndexEntry e{Ref(file_index, dwarf_dieoffset(&die)), false};
      if (kind == kVarIdx) {
        e.definition = dwarf_hasattr(&die, DW_AT_location);
        // Every definition (a static variable has one per file); one declaration.
        if (!e.definition && !entries.empty()) continue;
      } else if (kind == kTypedefIdx || kind == kBaseIdx || kind == kFuncIdx) {
        if (!entries.empty()) continue;
        e.definition = true;
      } else {
        e.definition = !dwarf_hasattr(&die, DW_AT_declaration);
        // The first definition, and a declaration while there is none.
        if (!entries.empty() && (entries.back().definition || !e.definition)) continue;
      }
      entries.push_back(e);
    } while (dwarf_siblingof(&die, &die) == 0);
    return true;
  }

  const std::vector<IndexEntry>* Entries(IndexKind kind, std::string_view name) const {
    auto it = index_[kind].find(name);
    return it == index_[kind].end() ? nullptr : &it->second;
  }

  // A definition of a struct/union/enum by name, scanning further units if needed.
  std::optional<DieRef> FindDefinition(IndexKind kind, std::string_view name) {
    for (;;) {
      if (auto* e = Entries(kind, name)) {
        for (const IndexEntry& x : *e) {
          if (x.definition) return x.offset;
        }
      }
      if (!ScanNextUnit()) return std::nullopt;
    }
  }

  // ---- LazyTypeSource ----

  std::optional<TypeId> Load(TypeTable& table, const std::vector<std::string>& keys) override {
    (void)table;
    for (;;) {
      for (const std::string& key : keys) {
        auto space = key.find(' ');
        std::string_view prefix = std::string_view(key).substr(0, space);
        std::string_view name = std::string_view(key).substr(space + 1);
        IndexKind kind = prefix == "struct" ? kStructIdx : prefix == "union" ? kUnionIdx
                         : prefix == "enum" ? kEnumIdx : prefix == "typedef" ? kTypedefIdx : kBaseIdx;
        const auto* e = Entries(kind, name);
        if (!e) continue;
        // An aggregate known only by declaration so far: look further for its definition.
        bool defined = false;
        for (const IndexEntry& x : *e) defined |= x.definition;
        if (!defined && !AllScanned()) continue;
        Dwarf_Die die;
        if (!OffDie(e->front().offset, &die)) continue;
        return Convert(&die, 0);
      }
      if (!ScanNextUnit()) break;
    }
    // Everything is indexed: a declaration-only aggregate is still a (forward) type.
    for (const std::string& key : keys) {
      auto space = key.find(' ');
      std::string_view prefix = std::string_view(key).substr(0, space);
      IndexKind kind = prefix == "struct" ? kStructIdx : prefix == "union" ? kUnionIdx : prefix == "enum" ? kEnumIdx : kNumIdx;
      if (kind == kNumIdx) continue;
      if (const auto* e = Entries(kind, std::string_view(key).substr(space + 1))) {
        Dwarf_Die die;
        if (OffDie(e->front().offset, &die)) return Convert(&die, 0);
      }
    }
    return std::nullopt;
  }

  void Complete(TypeTable& table, TypeId id) override {
    auto it = pending_die_.find(id);
    if (it == pending_die_.end()) return;
    DieRef off = it->second;
    pending_die_.erase(it);
    Type t = table.Get(id);  // the placeholder: kind and name
    IndexKind kind = t.kind == TypeKind::kStruct ? kStructIdx : t.kind == TypeKind::kUnion ? kUnionIdx
                     : t.kind == TypeKind::kEnum ? kEnumIdx : kTypedefIdx;
    if (off == 0 && kind != kTypedefIdx) {
      auto def = FindDefinition(kind, t.name);
      if (!def) {
        if (kind != kEnumIdx) {
          t.kind = TypeKind::kFwd;
          t.fwd_is_union = kind == kUnionIdx;
        }
        table.Set(id, std::move(t));
        return;
      }
      off = *def;
    }
    Dwarf_Die die;
    if (!OffDie(off, &die)) return;
    Fill(&die, t, 0);
    table.Set(id, std::move(t));
  }

  // ---- conversion ----

  // The table id of a type DIE; named aggregates and typedefs become shared placeholders.
  TypeId Convert(Dwarf_Die* die, int depth) {
    DieRef off = RefOf(die);
    if (auto it = memo_.find(off); it != memo_.end()) return it->second;
    if (depth > kMaxDepth) return 0;
    int tag = dwarf_tag(die);
    const char* name = dwarf_diename(die);
    TypeId id = 0;
    switch (tag) {
      case DW_TAG_structure_type:
      case DW_TAG_union_type:
      case DW_TAG_enumeration_type:
      case DW_TAG_typedef: {
        Type t;
        t.kind = tag == DW_TAG_structure_type ? TypeKind::kStruct : tag == DW_TAG_union_type ? TypeKind::kUnion
                 : tag == DW_TAG_enumeration_type ? TypeKind::kEnum : TypeKind::kTypedef;
        if (name) {
          t.name = name;
          std::string key = (tag == DW_TAG_structure_type ? "struct " : tag == DW_TAG_union_type ? "union "
                             : tag == DW_TAG_enumeration_type ? "enum " : "typedef ") + t.name;
          if (auto c = canonical_.find(key); c != canonical_.end()) {
            id = c->second;
            // A placeholder waiting for an index lookup can use this definition instead.
            if (auto p = pending_die_.find(id); p != pending_die_.end() && p->second == 0 &&
                (tag == DW_TAG_typedef || !dwarf_hasattr(die, DW_AT_declaration))) {
              p->second = off;
            }
            break;
          }
          id = types_.AddPending(std::move(t));
          bool usable = tag == DW_TAG_typedef || !dwarf_hasattr(die, DW_AT_declaration);
          pending_die_[id] = usable ? off : 0;
          canonical_[key] = id;
          types_.Register(key, id);
          break;
        }
        // Anonymous: converted now, as part of whatever contains it.
        id = types_.Add(t);
        memo_[off] = id;
        Fill(die, t, depth + 1);
        types_.Set(id, std::move(t));
        return id;
      }
      case DW_TAG_base_type: {
        std::string key = std::string("base ") + (name ? name : "");
        if (auto c = canonical_.find(key); c != canonical_.end()) {
          id = c->second;
          break;
        }
        Type t;
        t.name = name ? name : "";
        t.size = UdataAttr(die, DW_AT_byte_size).value_or(0);
        auto enc = UdataAttr(die, DW_AT_encoding).value_or(0);
        t.kind = (enc == DW_ATE_float || enc == DW_ATE_complex_float) ? TypeKind::kFloat : TypeKind::kInt;
        t.is_signed = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
        id = types_.Add(std::move(t));
        canonical_[key] = id;
        types_.Register(key, id);
        break;
      }
      case DW_TAG_pointer_type:
      case DW_TAG_const_type:
      case DW_TAG_volatile_type:
      case DW_TAG_restrict_type: {
        Type t;
        t.kind = tag == DW_TAG_pointer_type ? TypeKind::kPointer : tag == DW_TAG_const_type ? TypeKind::kConst
                 : tag == DW_TAG_volatile_type ? TypeKind::kVolatile : TypeKind::kRestrict;
        id = types_.Add(t);
        memo_[off] = id;
        Dwarf_Die target;
        t.target = TypeDie(die, &target) ? Convert(&target, depth + 1) : 0;
        types_.Set(id, std::move(t));
        return id;
      }
      case DW_TAG_atomic_type: {  // _Atomic: shown as its type
        Dwarf_Die target;
        id = TypeDie(die, &target) ? Convert(&target, depth + 1) : 0;
        break;
      }
      case DW_TAG_array_type: {
        // int a[2][3]: one DIE with two subranges, outermost first.
        std::vector<uint64_t> counts;
        Dwarf_Die child;
        if (dwarf_child(die, &child) == 0) {
          do {
            if (dwarf_tag(&child) != DW_TAG_subrange_type) continue;
            uint64_t count = 0;
            if (auto c = UdataAttr(&child, DW_AT_count)) {
              count = *c;
            } else if (dwarf_hasattr(&child, DW_AT_upper_bound)) {
              Dwarf_Attribute a;
              Dwarf_Sword ub = -1;
              Dwarf_Word uub = 0;
              if (dwarf_attr(&child, DW_AT_upper_bound, &a)) {
                // libdw sign-extends DW_FORM_data1..8 in dwarf_formsdata: a bound of 255 as
                // data1 is not -1 (char (*msix_names)[256] in virtio_pci). Only sdata is signed.
                if (dwarf_whatform(&a) == DW_FORM_sdata || dwarf_whatform(&a) == DW_FORM_implicit_const) {
                  if (dwarf_formsdata(&a, &ub) == 0 && ub >= 0) count = static_cast<uint64_t>(ub) + 1;
                } else if (dwarf_formudata(&a, &uub) == 0 && uub < ~Dwarf_Word{0}) {
                  count = uub + 1;
                }
              }
            }
            counts.push_back(count);
          } while (dwarf_siblingof(&child, &child) == 0);
        }
        if (counts.empty()) counts.push_back(0);
        Type outer;
        outer.kind = TypeKind::kArray;
        id = types_.Add(outer);
        memo_[off] = id;
        Dwarf_Die elem_die;
        TypeId elem = TypeDie(die, &elem_die) ? Convert(&elem_die, depth + 1) : 0;
        for (size_t i = counts.size(); i-- > 1;) {
          Type inner;
          inner.kind = TypeKind::kArray;
          inner.target = elem;
          inner.count = counts[i];
          elem = types_.Add(std::move(inner));
        }
        outer.target = elem;
        outer.count = counts[0];
        types_.Set(id, std::move(outer));
        return id;
      }
      case DW_TAG_subroutine_type:
      case DW_TAG_subprogram: {
        Type t;
        t.kind = TypeKind::kFunction;
        id = types_.Add(t);
        memo_[off] = id;
        Dwarf_Die ret;
        t.target = TypeDie(die, &ret) ? Convert(&ret, depth + 1) : 0;
        Dwarf_Die child;
        if (dwarf_child(die, &child) == 0) {
          do {
            int ct = dwarf_tag(&child);
            if (ct == DW_TAG_formal_parameter) {
              Dwarf_Die pt;
              t.params.push_back(TypeDie(&child, &pt) ? Convert(&pt, depth + 1) : 0);
            } else if (ct == DW_TAG_unspecified_parameters) {
              t.variadic = true;
            }
          } while (dwarf_siblingof(&child, &child) == 0);
        }
        types_.Set(id, std::move(t));
        return id;
      }
      default:  // DW_TAG_unspecified_type (void) and anything unknown
        id = 0;
        break;
    }
    memo_[off] = id;
    return id;
  }

  // Fills a struct/union/enum/typedef body from its defining DIE.
  void Fill(Dwarf_Die* die, Type& t, int depth) {
    if (t.kind == TypeKind::kTypedef) {
      Dwarf_Die target;
      t.target = TypeDie(die, &target) ? Convert(&target, depth + 1) : 0;
      return;
    }
    t.size = UdataAttr(die, DW_AT_byte_size).value_or(0);
    if (t.kind == TypeKind::kEnum) {
      Dwarf_Die under;
      if (TypeDie(die, &under)) {
        auto enc = UdataAttr(&under, DW_AT_encoding).value_or(0);
        t.is_signed = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
      }
    }
    Dwarf_Die child;
    if (dwarf_child(die, &child) != 0) return;
    do {
      int ct = dwarf_tag(&child);
      if (t.kind == TypeKind::kEnum && ct == DW_TAG_enumerator) {
        Dwarf_Attribute a;
        TypeEnumerator e;
        const char* n = dwarf_diename(&child);
        e.name = n ? n : "";
        if (dwarf_attr(&child, DW_AT_const_value, &a)) {
          if (dwarf_whatform(&a) == DW_FORM_sdata || dwarf_whatform(&a) == DW_FORM_implicit_const) {
            Dwarf_Sword v = 0;
            dwarf_formsdata(&a, &v);
            e.value = v;
          } else {
            Dwarf_Word v = 0;
            dwarf_formudata(&a, &v);
            // Fixed-size forms carry no sign: a signed enum's value is sign-extended from its size.
            if (t.is_signed && t.size > 0 && t.size < 8 && (v >> (t.size * 8 - 1)) & 1) {
              v |= ~((uint64_t{1} << (t.size * 8)) - 1);
            }
            e.value = static_cast<int64_t>(v);
          }
        }
        t.enumerators.push_back(std::move(e));
      } else if ((t.kind == TypeKind::kStruct || t.kind == TypeKind::kUnion) && ct == DW_TAG_member) {
        TypeMember m;
        const char* n = dwarf_diename(&child);
        m.name = n ? n : "";
        Dwarf_Die mt;
        m.type = TypeDie(&child, &mt) ? Convert(&mt, depth + 1) : 0;
        uint64_t byte_off = 0;
        Dwarf_Attribute a;
        if (dwarf_attr(&child, DW_AT_data_member_location, &a)) {
          Dwarf_Word v = 0;
          if (dwarf_formudata(&a, &v) == 0) {
            byte_off = v;
          } else {
            // DWARF 2 style: a location expression DW_OP_plus_uconst N.
            Dwarf_Op* ops = nullptr;
            size_t nops = 0;
            if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst) {
              byte_off = ops[0].number;
            }
          }
        }
        m.bit_offset = byte_off * 8;
        if (auto bits = UdataAttr(&child, DW_AT_bit_size)) {
          m.bit_size = static_cast<uint32_t>(*bits);
          if (auto dbo = UdataAttr(&child, DW_AT_data_bit_offset)) {
            m.bit_offset = *dbo;
          } else if (auto bo = UdataAttr(&child, DW_AT_bit_offset)) {
            // DWARF 2-4: counted from the storage unit's most significant bit (little endian).
            uint64_t storage = UdataAttr(&child, DW_AT_byte_size).value_or(types_.SizeOf(m.type).value_or(0));
            m.bit_offset = byte_off * 8 + storage * 8 - *bo - *bits;
          }
        }
        t.members.push_back(std::move(m));
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  // ---- globals ----

  std::optional<TypeId> GlobalType(std::string_view name, const std::vector<uint64_t>& addresses,
                                   bool global_symbol) {
    auto type_of = [&](DieRef off) -> std::optional<TypeId> {
      Dwarf_Die die;
      if (!OffDie(off, &die)) return std::nullopt;
      if (dwarf_tag(&die) == DW_TAG_subprogram) return Convert(&die, 0);
      Dwarf_Die t;
      return TypeDie(&die, &t) ? Convert(&t, 0) : 0;
    };
    for (;;) {
      if (const auto* e = Entries(kVarIdx, name)) {
        for (const IndexEntry& x : *e) {
          if (!x.definition) continue;
          Dwarf_Die die;
          if (!OffDie(x.offset, &die)) continue;
          auto loc = LocationAddress(&die);
          if (loc) *loc += files_[x.offset >> kFileShift].bias;
          for (uint64_t a : addresses) {
            if (loc && *loc == a) return type_of(x.offset);
          }
        }
        if (global_symbol) {
          for (const IndexEntry& x : *e) {
            if (x.definition) continue;
            auto t = type_of(x.offset);
            const Type& r = types_.Get(types_.Resolve(t.value_or(0)));
            if (t && types_.SizeOf(*t) && !(r.kind == TypeKind::kArray && r.count == 0)) return t;  // complete: the definition cannot say more
          }
        }
      }
      if (const auto* f = Entries(kFuncIdx, name)) return type_of(f->front().offset);
      if (!ScanNextUnit()) break;
    }
    if (const auto* e = Entries(kVarIdx, name)) return type_of(e->front().offset);
    return std::nullopt;
  }

  // ---- lines ----

  // gdb's line tables, which crash prints: gdb 10 (crash 8.0.2) turns a unit's line program
  // into one table per source file (dwarf2/read.c lnp_state_machine::record_line, buildsym.c
  // record_line): a switch to another file ends the previous file's range with a line-0
  // marker at that address, which deletes that file's rows there; a non-statement row of a
  // new file at an address that already has a statement row is ignored; a row repeating the
  // same file and line is dropped when the line has a non-zero discriminator. find_pc_line
  // then takes, of the files' last rows at or below the pc (markers excluded), the highest;
  // at a non-statement row it steps back to a statement row at the same address.
  struct LineEntry {
    uint64_t pc;
    int line;
    bool stmt;
  };
  struct FileLines {
    std::string name;
    std::vector<LineEntry> rows;
  };
  struct UnitLines {
    std::string comp_dir;
    std::vector<FileLines> files;
  };

  const UnitLines* LinesOfUnit(Dwarf_Die* cu) {
    DieRef off = RefOf(cu);
    if (auto it = unit_lines_.find(off); it != unit_lines_.end()) return &it->second;
    UnitLines& u = unit_lines_[off];
    Dwarf_Attribute attr;
    if (const char* dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr))) u.comp_dir = dir;
    Dwarf_Lines* lines = nullptr;
    size_t n = 0;
    if (dwarf_getsrclines(cu, &lines, &n) != 0) return &u;
    std::unordered_map<std::string_view, size_t> file_index;
    auto file_of = [&](const char* name) {
      std::string_view key = name ? name : "??";
      auto [it, added] = file_index.emplace(key, u.files.size());
      if (added) u.files.push_back({std::string(key), {}});
      return it->second;
    };
    auto record = [&](size_t file, int line, uint64_t pc, bool stmt) {
      auto& rows = u.files[file].rows;
      if (line == 0) {
        while (!rows.empty() && rows.back().pc == pc) rows.pop_back();
      }
      rows.push_back({pc, line, stmt});
    };
    // One state machine per sequence, as gdb runs it.
    constexpr size_t kNoFile = ~size_t{0};
    size_t last_file = kNoFile;
    int last_line = 0, prev_row_line = -1;
    uint64_t last_address = 0;
    bool stmt_at_address = false, nonzero_discriminator = false;
    for (size_t i = 0; i < n; ++i) {
      Dwarf_Line* l = dwarf_onesrcline(lines, i);
      Dwarf_Addr pc = 0;
      int line = 0;
      bool stmt = false, end = false;
      unsigned disc = 0;
      dwarf_lineaddr(l, &pc);
      dwarf_lineno(l, &line);
      dwarf_linebeginstatement(l, &stmt);
      dwarf_lineendsequence(l, &end);
      dwarf_linediscriminator(l, &disc);
      if (line != prev_row_line) {
        nonzero_discriminator = disc != 0;
      } else {
        nonzero_discriminator |= disc != 0;
      }
      prev_row_line = line;
      if (last_address != pc) stmt_at_address = false;
      stmt_at_address |= stmt;
      if (end) {
        if (last_file != kNoFile) record(last_file, 0, pc, true);
        last_file = kNoFile;
        last_line = 0;
        prev_row_line = -1;
        last_address = pc;
        stmt_at_address = false;
        continue;
      }
      size_t file = file_of(dwarf_linesrc(l, nullptr, nullptr));
      bool file_changed = last_file != file;
      bool ignore = (file_changed && last_file != kNoFile && last_address == pc && !stmt && stmt_at_address) || line == 0;
      if (file_changed && !ignore && last_file != kNoFile) record(last_file, 0, pc, true);
      if (!ignore) {
        if (file_changed || line != last_line || !nonzero_discriminator) record(file, line, pc, stmt);
        last_file = file;
        last_line = line;
      }
      last_address = pc;
    }
    // gdb sorts each table by address (ELF objfiles are "reordered"), markers first at a pc.
    for (FileLines& f : u.files) {
      std::stable_sort(f.rows.begin(), f.rows.end(), [](const LineEntry& a, const LineEntry& b) {
        if (a.pc == b.pc && (a.line == 0) != (b.line == 0)) return a.line == 0;
        return a.pc < b.pc;
      });
    }
    return &u;
  }

  // The unit covering an address in the vmlinux (module empty) or the named module's file, and
  // the address as that file's DWARF gives it (less the file's bias). One file only: a module's
  // freed init sections keep their old addresses in its layout, where another module may now be.
  bool UnitAt(uint64_t& address, std::string_view module, Dwarf_Die* cu) {
    for (const File& f : files_) {
      if (f.module != module) continue;
      if (dwarf_addrdie(f.dwarf, address - f.bias, cu)) {
        address -= f.bias;
        return true;
      }
    }
    return false;
  }

  std::optional<SourceLine> LineAt(uint64_t address, std::string_view module) {
    Dwarf_Die cu;
    if (!UnitAt(address, module, &cu)) return std::nullopt;
    const UnitLines* u = LinesOfUnit(&cu);
    const LineEntry* best = nullptr;
    const FileLines* best_file = nullptr;
    for (const FileLines& f : u->files) {
      const auto& rows = f.rows;
      auto it = std::upper_bound(rows.begin(), rows.end(), address,
                                 [](uint64_t pc, const LineEntry& e) { return pc < e.pc; });
      if (it == rows.begin()) continue;
      const LineEntry* prev = &*(it - 1);
      if (prev->line == 0 || (best && prev->pc <= best->pc)) continue;
      best = prev;
      best_file = &f;
      if (!best->stmt) {
        const LineEntry* tmp = best;
        while (tmp > rows.data() && (tmp - 1)->pc == tmp->pc && (tmp - 1)->line != 0 && !tmp->stmt) --tmp;
        if (tmp->stmt) best = tmp;
      }
    }
    if (!best) return std::nullopt;
    SourceLine out{best_file->name, best->line};
    if (!u->comp_dir.empty() && !out.file.empty() && out.file[0] != '/') {
      out.file = u->comp_dir + (u->comp_dir.back() == '/' ? "" : "/") + out.file;
    }
    for (size_t p; (p = out.file.find("//")) != std::string::npos;) out.file.erase(p, 1);
    return out;
  }

  std::vector<InlinedCall> InlinedCallsAt(uint64_t address, std::string_view module) {
    std::vector<InlinedCall> out;
    Dwarf_Die cu;
    if (!UnitAt(address, module, &cu)) return out;
    // dwarf_getscopes gives the innermost inlined instance (then its abstract origin's scopes);
    // dwarf_getscopes_die gives the concrete nesting from there up to the unit.
    Dwarf_Die* scopes = nullptr;
    int n = dwarf_getscopes(&cu, address, &scopes);
    if (n <= 0) return out;
    // The innermost inlined instance (a lexical block may be inside it).
    int first_inline = -1;
    for (int i = 0; i < n && first_inline < 0; ++i) {
      if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine) first_inline = i;
      if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) break;
    }
    Dwarf_Die innermost = first_inline >= 0 ? scopes[first_inline] : scopes[0];
    free(scopes);
    if (first_inline < 0) return out;
    scopes = nullptr;
    n = dwarf_getscopes_die(&innermost, &scopes);
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    dwarf_getsrcfiles(&cu, &files, &nfiles);
    Dwarf_Attribute attr;
    const char* comp_dir = dwarf_formstring(dwarf_attr(&cu, DW_AT_comp_dir, &attr));
    for (int i = 0; i < n; ++i) {
      if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine) continue;
      InlinedCall c;
      const char* fn = dwarf_diename(&scopes[i]);
      c.function = fn ? fn : "??";
      if (auto f = UdataAttr(&scopes[i], DW_AT_call_file); f && files && *f < nfiles) {
        const char* path = dwarf_filesrc(files, *f, nullptr, nullptr);
        c.call_file = path ? path : "??";
        if (comp_dir && *comp_dir && !c.call_file.empty() && c.call_file[0] != '/') {
          c.call_file = std::string(comp_dir) + "/" + c.call_file;
        }
        for (size_t p; (p = c.call_file.find("//")) != std::string::npos;) c.call_file.erase(p, 1);
      }
      c.call_line = static_cast<int>(UdataAttr(&scopes[i], DW_AT_call_line).value_or(0));
      out.push_back(std::move(c));
    }
    free(scopes);
    return out;
  }

  // Units of the vmlinux (0 without one).
  size_t UnitsTotal() {
    if (!has_vmlinux_) return 0;
    if (!units_total_) {
      size_t n = 0;
      Dwarf_Off off = 0, next = 0;
      size_t hs = 0;
      while (dwarf_nextcu(files_[0].dwarf, off, &next, &hs, nullptr, nullptr, nullptr) == 0) {
        ++n;
        off = next;
      }
      units_total_ = n;
    }
    return *units_total_;
  }

  TypeTable types_;
  size_t units_scanned_ = 0;
  std::string index_path_;
  bool index_loaded_ = false;

 private:
  struct File {
    Dwarf* dwarf = nullptr;
    Dwfl* dwfl = nullptr;  // a module's: owns `dwarf`
    int fd = -1;
    uint64_t bias = 0;     // runtime address = DWARF address + bias
    std::string module;    // empty for the vmlinux
    std::unique_ptr<ModuleLayout> layout;  // a module's section addresses
    Dwarf_Off next_unit = 0;
    bool done = false;
  };

  static DieRef Ref(size_t file, Dwarf_Off off) { return (static_cast<uint64_t>(file) << kFileShift) | off; }
  bool OffDie(DieRef ref, Dwarf_Die* die) {
    size_t file = ref >> kFileShift;
    return file < files_.size() && dwarf_offdie(files_[file].dwarf, ref & ((uint64_t{1} << kFileShift) - 1), die);
  }
  DieRef RefOf(Dwarf_Die* die) {
    Dwarf* dw = dwarf_cu_getdwarf(die->cu);
    for (size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].dwarf == dw) return Ref(i, dwarf_dieoffset(die));
    }
    return Ref(0, dwarf_dieoffset(die));
  }
  bool AllScanned() const { return current_file_ >= files_.size(); }

  std::vector<File> files_;
  size_t current_file_ = 0;  // the file being indexed
  bool has_vmlinux_ = false;
  std::optional<size_t> units_total_;
  NameIndex index_[kNumIdx];
  std::vector<std::string_view> index_order_[kNumIdx];  // names in the order first seen
  std::unique_ptr<std::string> index_blob_;             // a loaded index file: the names' storage
  DwarfOptions options_;
  bool index_tried_ = false;
  std::unordered_map<DieRef, TypeId> memo_;
  std::unordered_map<std::string, TypeId> canonical_;  // "struct x" -> its one id
  std::unordered_map<TypeId, DieRef> pending_die_;  // placeholder -> defining DIE (0: look up)
  std::unordered_map<DieRef, UnitLines> unit_lines_;
};

DwarfInfo::DwarfInfo(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DwarfInfo::~DwarfInfo() = default;

Result<std::unique_ptr<DwarfInfo>> DwarfInfo::Open(const std::string& path, const DwarfOptions& options) {
  auto impl = std::make_unique<Impl>();
  CORONER_TRY_VOID(impl->Open(path, options));
  return std::unique_ptr<DwarfInfo>(new DwarfInfo(std::move(impl)));
}

std::unique_ptr<DwarfInfo> DwarfInfo::CreateEmpty() {
  auto impl = std::make_unique<Impl>();
  impl->OpenEmpty();
  return std::unique_ptr<DwarfInfo>(new DwarfInfo(std::move(impl)));
}

Result<void> DwarfInfo::AddModule(const std::string& path, const std::string& module_name,
                                  const std::unordered_map<std::string, uint64_t>& section_addresses) {
  return impl_->AddModule(path, module_name, section_addresses);
}

const TypeTable& DwarfInfo::types() const { return impl_->types_; }

std::optional<TypeId> DwarfInfo::GlobalType(std::string_view name, const std::vector<uint64_t>& addresses,
                                            bool global_symbol) const {
  return impl_->GlobalType(name, addresses, global_symbol);
}

std::optional<SourceLine> DwarfInfo::LineAt(uint64_t address, std::string_view module) const {
  return impl_->LineAt(address, module);
}

std::vector<InlinedCall> DwarfInfo::InlinedCallsAt(uint64_t address, std::string_view module) const {
  return impl_->InlinedCallsAt(address, module);
}

size_t DwarfInfo::units_scanned() const { return impl_->units_scanned_; }
size_t DwarfInfo::units_total() const { return impl_->UnitsTotal(); }
const std::string& DwarfInfo::index_path() const { return impl_->index_path_; }
bool DwarfInfo::index_loaded() const { return impl_->index_loaded_; }

}  // namespace coroner
