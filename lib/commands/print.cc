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

namespace {

// The value at `v` after the member/index chain `expr` (".a->b[2]...").
Result<PrintResult> PrintLValue(const Session& s, const TypeTable& types_ref, const KernelMemory& km_ref,
                                const SymbolTable* syms, LValue v, const std::string& expr, bool address_of) {
  const TypeTable* types = &types_ref;
  const KernelMemory* km = &km_ref;
  size_t pos = 0;
  auto ident = [&]() {
    size_t start = pos;
    while (pos < expr.size() && (std::isalnum(static_cast<unsigned char>(expr[pos])) || expr[pos] == '_')) ++pos;
    return expr.substr(start, pos - start);
  };
  PrintResult r;
  r.expression = expr;
  r.bare_symbol = !address_of && expr.empty();
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

}  // namespace

std::optional<std::string> KnownGlobalType(std::string_view name) {
  for (const Known& k : kKnownGlobals) {
    if (name == k.name) return std::string(k.type);
  }
  return std::nullopt;
}

// crash's cpuspec: "N", "N,M,...", "N-M", "a" or "all".
Result<std::vector<int>> ParseCpuSpec(std::string_view spec, int cpus) {
  std::vector<int> out;
  if (spec == "a" || spec == "all") {
    for (int c = 0; c < cpus; ++c) out.push_back(c);
    return out;
  }
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view part = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    size_t dash = part.find('-');
    int lo = 0, hi = 0;
    auto num = [](std::string_view t, int& v) {
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      return ec == std::errc() && p == t.data() + t.size() && !t.empty();
    };
    if (!num(part.substr(0, dash), lo) || !num(dash == std::string_view::npos ? part : part.substr(dash + 1), hi) ||
        lo > hi || hi >= cpus) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("invalid cpuspec: {} (CPUs 0-{})", part, cpus - 1));
    }
    for (int c = lo; c <= hi; ++c) out.push_back(c);
  }
  return out;
}

Result<PrintOutput> RunPrint(const Session& s, const std::vector<std::string>& args) {
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
  if (!sym) {
    // A module's symbol (its type needs the module's debug file: mod -s).
    if (auto all = s.AllSymbols()) {
      syms = *all;
      sym = syms->Find(name);
    }
  }
  if (!sym) return Error(ErrorCode::kNotFound, WithScope(*syms, fmt::format("No symbol \"{}\" in current context.", name)));
  // name:cpuspec
  std::optional<std::string> cpuspec;
  if (pos < expr.size() && expr[pos] == ':') {
    size_t end = expr.find_first_of(".-[", pos + 1);
    if (end != std::string::npos && expr[end] == '-' && expr.compare(end, 2, "->") != 0) {
      end = expr.find_first_of(".[", end);  // a range "0-1"
      if (auto arrow = expr.find("->", pos); arrow != std::string::npos && arrow < end) end = arrow;
    }
    cpuspec = expr.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
    pos = end == std::string::npos ? expr.size() : end;
    if (!sym->percpu) return Error(ErrorCode::kInvalidArgument, fmt::format("{} is not a per-CPU variable", name));
  }
  std::optional<TypeId> var_type = s.GlobalType(name);  // from the vmlinux's DWARF
  if (!var_type && sym->percpu) var_type = types->VariableType(name);  // BTF's per-CPU VARs
  if (sym->percpu && !var_type) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("{}: the type of this per-CPU variable is not known: no vmlinux is loaded, and the "
                             "dump's BTF has no variables (kernels built with pahole before 1.18 leave them out)",
                             name));
  }
  LValue v{0, sym->address, 0};
  if (var_type) {
    v.type = *var_type;
  } else {
    auto type_name = KnownGlobalType(name);
    if (!type_name && !sym->module.empty()) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("the type of {} (module {}) needs the module's debug file, `mod -s {}`, with the "
                               "vmlinux's DWARF",
                               name, sym->module, sym->module));
    }
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

  PrintOutput out;
  if (sym->percpu) {
    CORONER_TRY(const Kernel* k, s.GetKernel());
    CORONER_TRY(int cpus, k->PossibleCpus());
    if (!cpuspec) {
      if (pos != expr.size() || address_of) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} is a per-CPU variable: name a CPU ({}:N or {}:a)", name, name, name));
      }
      PerCpuInfo info;
      info.declaration = types->Declaration(v.type, name);
      for (int c = 0; c < cpus; ++c) {
        CORONER_TRY(uint64_t off, k->PerCpuOffset(c));
        info.addresses.push_back(sym->address + off);
      }
      out.percpu = std::move(info);
      return out;
    }
    CORONER_TRY(std::vector<int> list, ParseCpuSpec(*cpuspec, cpus));
    std::string rest = expr.substr(pos);
    for (int c : list) {
      CORONER_TRY(uint64_t off, k->PerCpuOffset(c));
      CORONER_TRY(PrintResult r, PrintLValue(s, *types, *km, syms, LValue{v.type, sym->address + off, 0},
                                             rest, address_of));
      if (r.bare_symbol) r.expression = fmt::format("per_cpu({}, {})", name, c);
      out.values.push_back(std::move(r));
    }
    return out;
  }
  CORONER_TRY(PrintResult r, PrintLValue(s, *types, *km, syms, v, expr.substr(pos), address_of));
  r.expression = expr;
  out.values.push_back(std::move(r));
  return out;
}

}  // namespace coroner
