#include "lib/commands/symbol_commands.h"

#include <charconv>

#include <fmt/format.h>

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
    if (!addr) return Error(ErrorCode::kNotFound, fmt::format("{}: symbol not found", a));
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

Result<StructResult> RunStruct(const Session& s, const std::vector<std::string>& args, const char* kind) {
  StructResult r;
  std::vector<std::string> names;
  for (const std::string& a : args) {
    if (a == "-o") {
      r.offsets = true;
    } else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else {
      names.push_back(a);
    }
  }
  if (names.empty()) return Error(ErrorCode::kInvalidArgument, fmt::format("a {} name is required", kind));
  if (names.size() > 1) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("showing a {} at an address is not supported yet (only its layout)", kind));
  }
  CORONER_TRY(r.types, s.Types());
  std::string name = names[0];
  if (name.rfind(std::string(kind) + " ", 0) != 0) name = std::string(kind) + " " + name;
  auto id = r.types->Find(name);
  if (!id) {
    // crash says "data type mismatch" when the name is the other kind of aggregate.
    std::string other = std::string(kind) == "struct" ? "union" : "struct";
    if (r.types->Find(other + " " + names[0])) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("data type mismatch: {} is not a {}", names[0], kind));
    }
    return Error(ErrorCode::kNotFound, fmt::format("invalid data structure reference: {}", names[0]));
  }
  r.id = *id;
  return r;
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
