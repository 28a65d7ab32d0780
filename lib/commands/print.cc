#include "lib/commands/print.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "lib/kernel/value_format.h"

namespace coroner {
namespace {

struct Known {
  const char* name;
  const char* type;
};
// Types of globals from the kernel sources (include/linux/*.h); stable across 5.10-7.x.
constexpr Known kKnownGlobals[] = {
    {"jiffies", "unsigned long"},          {"jiffies_64", "u64"},
    {"nr_cpu_ids", "unsigned int"},        {"init_task", "struct task_struct"},
    {"init_uts_ns", "struct uts_namespace"}, {"init_mm", "struct mm_struct"},
    {"prb", "struct printk_ringbuffer *"}, {"printk_rb_static", "struct printk_ringbuffer"},
    {"panic_cpu", "atomic_t"},             {"system_state", "enum system_states"},
    {"max_pfn", "unsigned long"},          {"nr_threads", "int"},
    {"total_forks", "unsigned long"},      {"tainted_mask", "unsigned long"},
    {"page_offset_base", "unsigned long"}, {"vmalloc_base", "unsigned long"},
    {"vmemmap_base", "unsigned long"},     {"init_pid_ns", "struct pid_namespace"},
    {"contig_page_data", "struct pglist_data"}, {"_totalram_pages", "atomic_long_t"},
    {"init_user_ns", "struct user_namespace"}, {"init_nsproxy", "struct nsproxy"},
    {"panic_on_oops", "int"},              {"oops_in_progress", "int"},
    {"avenrun", "unsigned long [3]"},
    {"phys_base", "unsigned long"},        {"sysctl_panic_on_oom", "int"},
};

// Parses "struct x *", "unsigned long", "u64", "unsigned long [3]" into a type id.
std::optional<TypeId> ParseTypeName(const TypeTable& types, std::string name, int& pointers) {
  pointers = 0;
  if (auto open = name.find(" ["); open != std::string::npos && name.back() == ']') {
    uint64_t count = std::stoull(name.substr(open + 2, name.size() - open - 3));
    auto elem = ParseTypeName(types, name.substr(0, open), pointers);
    if (!elem || pointers) return std::nullopt;
    for (TypeId id = 1; id < types.size(); ++id) {
      const Type& t = types.Peek(id);
      if (t.kind == TypeKind::kArray && t.target == *elem && t.count == count) return id;
    }
    return std::nullopt;
  }
  while (!name.empty() && (name.back() == '*' || name.back() == ' ')) {
    if (name.back() == '*') ++pointers;
    name.pop_back();
  }
  return types.Find(name);
}

struct LValue {
  TypeId type = 0;
  uint64_t address = 0;
  int extra_pointers = 0;  // pointer levels the BTF table has no type id for
};

}  // namespace

std::optional<std::string> KnownGlobalType(std::string_view name) {
  for (const Known& k : kKnownGlobals) {
    if (name == k.name) return std::string(k.type);
  }
  return std::nullopt;
}

Result<PrintResult> RunPrint(const Session& s, const std::vector<std::string>& args) {
  std::string expr;
  for (const auto& a : args) expr += a;
  if (expr.empty()) return Error(ErrorCode::kInvalidArgument, "an expression is required");
  CORONER_TRY(const TypeTable* types, s.Types());
  CORONER_TRY(const SymbolTable* syms, s.Symbols());
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());

  size_t pos = 0;
  bool address_of = false;
  if (expr[0] == '&') {
    address_of = true;
    pos = 1;
  }
  auto ident = [&]() {
    size_t start = pos;
    while (pos < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[pos])) || expr[pos] == '_')) ++pos;
    return expr.substr(start, pos - start);
  };
  std::string name = ident();
  if (name.empty()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: only globals with .member, ->member and [index] are supported yet", expr));
  }
  const Symbol* sym = syms->Find(name);
  if (!sym) return Error(ErrorCode::kNotFound, fmt::format("No symbol \"{}\" in current context.", name));
  if (sym->percpu) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{} is a per-CPU variable (offset {:#x} in each CPU's area): p of per-CPU "
                             "variables is not supported yet",
                             name, sym->address));
  }
  LValue v{0, sym->address, 0};
  if (auto dwarf_type = s.GlobalType(name)) {
    v.type = *dwarf_type;  // from the vmlinux's DWARF
  } else {
    auto type_name = KnownGlobalType(name);
    if (!type_name) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("the type of {} is not known without a vmlinux: BTF records types, not the "
                               "types of global variables (known: init_task, init_uts_ns, jiffies, ...)",
                               name));
    }
    int pointers = 0;
    auto base = ParseTypeName(*types, *type_name, pointers);
    if (!base) return Error(ErrorCode::kNotFound, fmt::format("type {} is not in the dump's BTF", *type_name));
    v.type = *base;
    for (int i = 0; i < pointers; ++i) v.type = types->PointerTo(v.type);
  }

  PrintResult r;
  r.expression = expr;
  r.bare_symbol = !address_of && pos == expr.size();
  while (pos < expr.size()) {
    if (expr.compare(pos, 2, "->") == 0 || expr[pos] == '.') {
      bool arrow = expr[pos] == '-';
      pos += arrow ? 2 : 1;
      std::string member = ident();
      if (member.empty()) return Error(ErrorCode::kInvalidArgument, fmt::format("{}: a member name is expected", expr));
      TypeId container = v.type;
      if (arrow) {
        const Type& pt = types->Get(types->Resolve(v.type));
        if (pt.kind != TypeKind::kPointer) {
          return Error(ErrorCode::kInvalidArgument, fmt::format("{}: -> applied to a non-pointer", expr));
        }
        CORONER_TRY(uint64_t p, km->ReadU64(v.address));
        if (p == 0) return Error(ErrorCode::kFault, fmt::format("{}: NULL pointer before ->{}", expr, member));
        v.address = p;
        container = pt.target;
      }
      uint64_t bit_offset = 0;
      TypeId mtype = 0;
      uint32_t bit_size = 0;
      auto found = types->FindMember(container, member);
      if (found) {
        bit_offset = found->bit_offset;
        mtype = found->type;
        bit_size = found->bit_size;
      }
      if (!found) {
        return Error(ErrorCode::kNotFound,
                     fmt::format("There is no member named {}. ({})", member, types->Name(container)));
      }
      if (bit_size) return Error(ErrorCode::kUnsupported, fmt::format("{}: printing a lone bitfield", expr));
      v.address += bit_offset / 8;
      v.type = mtype;
    } else if (expr[pos] == '[') {
      size_t close = expr.find(']', pos);
      if (close == std::string::npos) return Error(ErrorCode::kInvalidArgument, fmt::format("{}: missing ]", expr));
      std::string idx_text = expr.substr(pos + 1, close - pos - 1);
      uint64_t idx = 0;
      auto [p, ec] = std::from_chars(idx_text.data(), idx_text.data() + idx_text.size(), idx);
      if (ec != std::errc() || p != idx_text.data() + idx_text.size()) {
        return Error(ErrorCode::kInvalidArgument, fmt::format("{}: index must be a number", expr));
      }
      pos = close + 1;
      const Type& at = types->Get(types->Resolve(v.type));
      if (at.kind == TypeKind::kArray) {
        auto esize = types->SizeOf(at.target);
        if (!esize) return Error(ErrorCode::kUnsupported, "an array of incomplete type");
        if (at.count && idx >= at.count) {
          return Error(ErrorCode::kInvalidArgument, fmt::format("{}: index {} is past the array's {} elements", expr, idx, at.count));
        }
        v.address += idx * *esize;
        v.type = at.target;
      } else if (at.kind == TypeKind::kPointer) {
        auto esize = types->SizeOf(at.target);
        if (!esize) return Error(ErrorCode::kUnsupported, "indexing a pointer to an incomplete type");
        CORONER_TRY(uint64_t pv, km->ReadU64(v.address));
        v.address = pv + idx * *esize;
        v.type = at.target;
      } else {
        return Error(ErrorCode::kInvalidArgument, fmt::format("{}: [] applied to a non-array", expr));
      }
    } else {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("{}: only .member, ->member and [index] are supported yet", expr));
    }
  }

  ValueFormatter f(*types, *km, syms);
  r.number = s.NextValueNumber();
  if (address_of) {
    r.type = types->Name(v.type) + " *";
    r.address = v.address;
    r.text = fmt::format("({}) {}", r.type, f.Pointer(v.address));
    return r;
  }
  r.type = types->Name(v.type);
  r.address = v.address;
  CORONER_TRY(r.text, f.Format(v.type, v.address));
  return r;
}

}  // namespace coroner
