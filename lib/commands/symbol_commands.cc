#include "lib/commands/symbol_commands.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "lib/commands/memory_commands.h"
#include "lib/commands/print.h"
#include "lib/kernel/value_format.h"

namespace coroner {
namespace {

std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

SymLine LineOf(const Symbol& sym, uint64_t offset = 0) {
  return {sym.address, sym.type, std::string(sym.name), offset, std::string(sym.module), {}};
}

}  // namespace

Result<SymResult> RunSym(const Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return Error(ErrorCode::kInvalidArgument, "a symbol or an address is required");
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  SymResult r;
  if ((args[0] == "-l" || args[0] == "-q") && !syms->scope().empty()) {
    return Error(ErrorCode::kUnsupported, fmt::format("sym {}: the symbol table is not whole here ({})", args[0],
                                                      syms->scope()));
  }
  if (args[0] == "-l") {
    for (const Symbol& sym : syms->symbols()) r.lines.push_back(LineOf(sym));
    return r;
  }
  if (args[0] == "-q") {
    if (args.size() < 2) return Error(ErrorCode::kInvalidArgument, "-q needs a string");
    for (const Symbol& sym : syms->symbols()) {
      if (sym.name.find(args[1]) != std::string_view::npos) r.lines.push_back(LineOf(sym));
    }
    return r;
  }
  // With DWARF, text addresses get crash's "file: line".
  auto with_source = [&](SymLine line, const Symbol& sym) {
    if (s.HasLineInfo() && sym.IsText()) {
      if (auto src = s.LineAt(line.address)) line.source = fmt::format("{}: {}", src->file, src->line);
    }
    return line;
  };
  for (const std::string& a : args) {
    if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    }
    auto matches = syms->Lookup(a);
    if (!matches.empty()) {
      for (const Symbol* m : matches) r.lines.push_back(with_source(LineOf(*m), *m));
      continue;
    }
    auto addr = ParseHex(a);
    if (!addr) return Error(ErrorCode::kNotFound, WithScope(*syms, fmt::format("{}: symbol not found", a)));
    auto hit = syms->LookupAddress(*addr);
    if (!hit || !hit->symbol) {
      return Error(ErrorCode::kNotFound, fmt::format("{:x}: no symbol at or below this address", *addr));
    }
    SymLine line = LineOf(*hit->symbol, hit->offset);
    line.address = *addr;
    r.lines.push_back(with_source(std::move(line), *hit->symbol));
  }
  return r;
}

namespace {

// A member found in a structure, through anonymous members as gdb shows them: how many
// anonymous aggregates it sits in (each indents gdb's printout by two), and whether it is the
// last member of the aggregate holding it (no comma after it then).
struct MemberHit {
  uint64_t bit_offset = 0;
  TypeId type = 0;
  uint32_t bit_size = 0;
  int anon_depth = 0;
  bool last = false;
};

std::optional<MemberHit> FindMemberHit(const TypeTable& types, TypeId id, std::string_view name, int depth = 0) {
  if (depth > 16) return std::nullopt;  // anonymous members nest a few levels; bound a bad table
  const Type& t = types.Get(types.Resolve(id));
  for (size_t i = 0; i < t.members.size(); ++i) {
    const TypeMember& m = t.members[i];
    if (m.name == name) return MemberHit{m.bit_offset, m.type, m.bit_size, depth, i + 1 == t.members.size()};
    if (m.name.empty()) {
      if (auto inner = FindMemberHit(types, m.type, name, depth + 1)) {
        inner->bit_offset += m.bit_offset;
        return inner;
      }
    }
  }
  return std::nullopt;
}

// "se.on_rq", "pids[2]", "a.b[1][2].c": the member a struct/union.member specification names,
// from the start of `id`. `extended` when it reaches past one member (crash then shows it at
// the top level, named by the whole specification).
Result<MemberHit> ResolveMemberSpec(const TypeTable& types, TypeId id, std::string_view spec, bool& extended,
                                    std::string_view type_name) {
  auto bad = [&]() {
    return Error(ErrorCode::kNotFound, fmt::format("invalid data structure reference: {}.{}", type_name, spec));
  };
  extended = spec.find_first_of(".[") != std::string_view::npos;
  MemberHit total;
  TypeId cur = id;
  std::string_view rest = spec;
  while (true) {
    size_t end = rest.find_first_of(".[");
    std::string_view name = rest.substr(0, end);
    const Type& ct = types.Get(types.Resolve(cur));
    if (name.empty() || (ct.kind != TypeKind::kStruct && ct.kind != TypeKind::kUnion)) return bad();
    auto hit = FindMemberHit(types, cur, name);
    if (!hit) return bad();
    total.bit_offset += hit->bit_offset;
    total.type = hit->type;
    total.bit_size = hit->bit_size;
    total.anon_depth = hit->anon_depth;
    total.last = hit->last;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    while (!rest.empty() && rest[0] == '[') {
      size_t close = rest.find(']');
      if (close == std::string_view::npos) return bad();
      uint64_t index = 0;
      std::string_view digits = rest.substr(1, close - 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) return bad();
      const Type& at = types.Get(types.Resolve(total.type));
      if (at.kind != TypeKind::kArray) return bad();
      if (index >= at.count) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{}.{}: index {} is past the array's {} elements", type_name, spec, index, at.count));
      }
      auto esize = types.SizeOf(at.target);
      if (!esize) return bad();
      total.bit_offset += index * *esize * 8;
      total.type = at.target;
      total.last = index + 1 == at.count;
      rest.remove_prefix(close + 1);
    }
    if (rest.empty()) break;
    if (rest[0] != '.') return bad();
    rest.remove_prefix(1);
    cur = total.type;
  }
  if (extended) total.anon_depth = 0;  // crash names it by the whole specification, at the top level
  return total;
}

// A structure address as crash reads it: a hexadecimal number (a kernel virtual address, or
// with a cpuspec a per-CPU offset), else a symbol.
Result<uint64_t> StructAddress(const Session& s, const std::string& word, bool percpu) {
  if (auto hex = ParseHexArg(word)) {
    if (!percpu && !IsKernelAddress(*hex)) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("invalid kernel virtual address: {}", word));
    }
    return *hex;
  }
  if (auto syms = s.AllSymbols()) {
    if (const Symbol* sym = (*syms)->Find(word)) return sym->address;
  }
  std::string message = fmt::format("symbol not found: {}", word);
  if (auto syms = s.AllSymbols()) message = WithScope(**syms, std::move(message));
  return Error(ErrorCode::kNotFound, std::move(message));
}

Result<int64_t> ParseSignedCount(const std::string& word) {
  std::string_view v = word;
  bool negative = !v.empty() && v[0] == '-';
  if (negative) v.remove_prefix(1);
  CORONER_TRY(uint64_t n, ParseCountArg(std::string(v)));
  if (n == 0 || n > (1u << 20)) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("invalid count: {} (1 to 1048576)", word));
  }
  return negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
}

}  // namespace

Result<StructResult> RunStruct(const Session& s, const std::vector<std::string>& args, const char* kind) {
  StructResult r;
  r.kind = kind;
  std::vector<std::string> positional;
  std::optional<std::string> list_offset;
  std::optional<int64_t> count;
  int radix = 10;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-o") {
      r.offsets = true;
    } else if (a == "-x") {
      radix = 16;
    } else if (a == "-d") {
      radix = 10;
    } else if (a == "-l" || a == "-c") {
      if (i + 1 >= args.size()) return Error(ErrorCode::kInvalidArgument, fmt::format("{} needs a value", a));
      if (a == "-l") {
        list_offset = args[++i];
      } else {
        CORONER_TRY(count, ParseSignedCount(args[++i]));
      }
    } else if (a == "-r" || a == "-f" || a == "-u" || a == "-p") {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else if (!a.empty() && a[0] == '-' && !(a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("unknown option {}", a));
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) return Error(ErrorCode::kInvalidArgument, fmt::format("a {} name is required", kind));
  if (positional.size() > 3) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("too many arguments: {} NAME[.member,...] [ADDRESS|SYMBOL] [COUNT]", kind));
  }
  if (positional.size() == 3) {
    if (count) return Error(ErrorCode::kInvalidArgument, "a count given twice (COUNT and -c)");
    CORONER_TRY(count, ParseSignedCount(positional[2]));
  }
  // NAME.m1,m2
  std::string spec = positional[0];
  std::string type_word = spec.substr(0, spec.find('.'));
  if (auto dot = spec.find('.'); dot != std::string::npos) {
    std::string list = spec.substr(dot + 1);
    for (size_t pos = 0; pos <= list.size();) {
      size_t comma = list.find(',', pos);
      std::string m = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (m.empty()) return Error(ErrorCode::kInvalidArgument, fmt::format("empty member name in {}", spec));
      r.members.push_back(m);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  CORONER_TRY(r.types, s.Types());
  std::string name = type_word;
  if (name.rfind(std::string(kind) + " ", 0) != 0) name = std::string(kind) + " " + name;
  auto id = r.types->Find(name);
  if (!id) {
    // crash says "data type mismatch" when the name is the other kind of aggregate.
    std::string other = std::string(kind) == "struct" ? "union" : "struct";
    if (r.types->Find(other + " " + type_word)) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("data type mismatch: {} is not a {}", type_word, kind));
    }
    std::string message = fmt::format("invalid data structure reference: {}", type_word);
    if (auto kernel = s.GetKernel(); kernel && !(*kernel)->types_scope().empty()) {
      message += fmt::format(" ({})", (*kernel)->types_scope());
    }
    return Error(ErrorCode::kNotFound, std::move(message));
  }
  r.id = *id;
  if (r.types->Get(r.id).kind == TypeKind::kFwd) {
    // A triage file's type subset keeps the types its analysis did not use as declarations.
    if (auto kernel = s.GetKernel(); kernel && !(*kernel)->types_scope().empty()) {
      return Error(ErrorCode::kNotFound,
                   fmt::format("{}: only its declaration is here ({})", name, (*kernel)->types_scope()));
    }
  }
  // Every member must exist, with or without an address.
  for (const std::string& m : r.members) {
    bool extended = false;
    if (auto hit = ResolveMemberSpec(*r.types, r.id, m, extended, type_word); !hit) return std::move(hit).error();
    if (positional.size() == 1 && extended) {
      // crash shows the layout of direct members only.
      return Error(ErrorCode::kNotFound, fmt::format("invalid data structure reference: {}.{}", type_word, m));
    }
  }
  if (positional.size() == 1) {
    if (count) return Error(ErrorCode::kInvalidArgument, "no kernel virtual address argument entered");
    r.hex = radix == 16;
    if (r.members.size() > 1) {
      // As crash: several members need an address; without one, the whole layout with offsets.
      r.notice = fmt::format("{}: multiple member format not supported in this syntax", kind);
      r.members.clear();
      r.offsets = true;
    }
    return r;
  }
  if (r.offsets && r.members.size() > 1) {
    return Error(ErrorCode::kInvalidArgument, "-o option not valid with multiple member format");
  }

  r.has_address = true;
  r.hex = radix == 16;
  auto size = r.types->SizeOf(r.id);
  if (!size || *size == 0) return Error(ErrorCode::kUnsupported, fmt::format("{} has no size", name));
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());
  const SymbolTable* syms = nullptr;
  if (auto all = s.AllSymbols()) syms = *all;

  // ADDR|SYMBOL[:cpuspec]
  std::string where = positional[1];
  std::optional<std::string> cpuspec;
  if (auto colon = where.find(':'); colon != std::string::npos) {
    cpuspec = where.substr(colon + 1);
    where = where.substr(0, colon);
  }
  CORONER_TRY(uint64_t base, StructAddress(s, where, cpuspec.has_value()));
  if (list_offset) {
    uint64_t off = 0;
    if (list_offset->find('.') != std::string::npos && !std::isdigit(static_cast<unsigned char>((*list_offset)[0]))) {
      auto dot = list_offset->find('.');
      std::string owner = list_offset->substr(0, dot);
      auto oid = r.types->Find("struct " + owner);
      if (!oid) oid = r.types->Find("union " + owner);
      if (!oid) return Error(ErrorCode::kNotFound, fmt::format("invalid data structure reference: {}", owner));
      bool extended = false;
      CORONER_TRY(MemberHit hit, ResolveMemberSpec(*r.types, *oid, list_offset->substr(dot + 1), extended, owner));
      off = hit.bit_offset / 8;
    } else {
      CORONER_TRY(off, ParseCountArg(*list_offset));
    }
    base -= off;
  }
  std::vector<std::pair<std::optional<int>, uint64_t>> bases;
  if (cpuspec) {
    if (cpuspec->empty()) {
      return Error(ErrorCode::kUnsupported, "a bare \":\" (the context task's CPU) is not supported yet: name the CPUs");
    }
    CORONER_TRY(const Kernel* k, s.GetKernel());
    CORONER_TRY(int cpus, k->PossibleCpus());
    CORONER_TRY(std::vector<int> list, ParseCpuSpec(*cpuspec, cpus));
    for (int c : list) {
      CORONER_TRY(uint64_t off, k->PerCpuOffset(c));
      bases.emplace_back(c, base + off);
    }
  } else {
    bases.emplace_back(std::nullopt, base);
  }

  ValueFormatter vf(*r.types, *km, syms);
  vf.set_radix(radix);
  int64_t n = count.value_or(1);
  for (const auto& [cpu, start] : bases) {
    // A negative count shows the structures leading up to and including the one at ADDR.
    uint64_t first = n < 0 ? start - (static_cast<uint64_t>(-n) - 1) * *size : start;
    uint64_t total = static_cast<uint64_t>(n < 0 ? -n : n);
    for (uint64_t i = 0; i < total; ++i) {
      StructInstance inst;
      inst.cpu = cpu;
      inst.address = first + i * *size;
      if (r.offsets) {
        // -o with an address: the layout with each member's address; no memory is read.
      } else if (r.members.empty()) {
        CORONER_TRY(std::string v, vf.Format(r.id, inst.address, false));
        inst.value = std::move(v);
      } else {
        for (const std::string& m : r.members) {
          bool extended = false;
          CORONER_TRY(MemberHit hit, ResolveMemberSpec(*r.types, r.id, m, extended, type_word));
          StructMemberValue mv;
          mv.spec = m;
          mv.indent = 2 + 2 * hit.anon_depth;
          mv.comma = !hit.last;
          CORONER_TRY(mv.value, vf.FormatNested(hit.type, inst.address + (hit.bit_size ? 0 : hit.bit_offset / 8),
                                                mv.indent, hit.bit_size ? hit.bit_offset : 0, hit.bit_size));
          inst.members.push_back(std::move(mv));
        }
      }
      r.instances.push_back(std::move(inst));
    }
  }
  return r;
}

Result<StructResult> RunPointerTo(const Session& s, const std::string& name, const std::vector<std::string>& args) {
  CORONER_TRY(const TypeTable* types, s.Types());
  std::string base = name.substr(0, name.find('.'));
  std::vector<std::string> all = {name};
  all.insert(all.end(), args.begin(), args.end());
  if (!types->Find("struct " + base) && types->Find("union " + base)) return RunStruct(s, all, "union");
  return RunStruct(s, all, "struct");
}

bool NamesAggregate(const Session& s, const std::string& word) {
  auto types = s.Types();
  if (!types) return false;
  std::string base = word.substr(0, word.find('.'));
  if (base.empty()) return false;
  return (*types)->Find("struct " + base) || (*types)->Find("union " + base);
}

Result<StructResult> RunWhatis(const Session& s, const std::vector<std::string>& args) {
  if (args.size() != 1) return Error(ErrorCode::kInvalidArgument, "one type name is required");
  StructResult r;
  CORONER_TRY(r.types, s.Types());
  auto id = r.types->Find(args[0]);
  if (!id) {
    if (auto global = s.GlobalType(args[0])) {
      r.id = *global;
      r.symbol = args[0];
      return r;
    }
    if (auto syms = s.Symbols(); syms && (*syms)->Find(args[0])) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("{} is a symbol; the types of global variables are not in BTF: give a "
                               "vmlinux with DWARF for them", args[0]));
    }
    if (auto all = s.AllSymbols()) {
      if (const Symbol* sym = (*all)->Find(args[0]); sym && !sym->module.empty()) {
        return Error(ErrorCode::kUnsupported,
                     fmt::format("{} is a symbol of module {}; its type needs the module's debug file (mod -s {}) "
                                 "and the vmlinux's DWARF, whose types the module's join",
                                 args[0], sym->module, sym->module));
      }
    }
    return Error(ErrorCode::kNotFound, fmt::format("{}: not a type or symbol", args[0]));
  }
  r.id = *id;
  return r;
}

}  // namespace coroner
