#include "lib/commands/dis.h"

#include <array>
#include <charconv>

#include <fmt/format.h>

#include "lib/arch/x86_64_disasm.h"
#include "lib/debuginfo/elf_symbols.h"

namespace coroner {
namespace {

constexpr size_t kMaxInstructions = 100000;

std::optional<uint64_t> ParseNumber(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseHex(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

class Disassembly {
 public:
  Disassembly(const Session& s, const SymbolTable& syms, const X86Disassembler& dis)
      : s_(s), syms_(syms), dis_(dis) {}

  // crash's value_to_symstr with the default radix 10: "schedule", "schedule+67". Of several
  // symbols at one address crash shows the first by name (its table is sorted as nm -n sorts);
  // compiler-local labels (.LC4) are not symbols to gdb.
  std::string SymStr(uint64_t value) const {
    if (value < KernelMemory::kStartKernelMap) return {};
    auto hit = syms_.LookupAddress(value);
    if (!hit || !hit->symbol || hit->symbol->percpu) return {};
    uint64_t at = hit->symbol->address;
    const Symbol* best = nullptr;
    auto all = syms_.symbols();
    for (size_t i = syms_.LowerBound(at); i < all.size() && all[i].address == at; ++i) {
      if (all[i].percpu || all[i].name.starts_with(".L")) continue;
      if (!best || all[i].name < best->name) best = &all[i];
    }
    if (!best) return {};
    // crash drops the endings of gcc's clones (strip_symbol_end): "free_ldt_struct.part.0".
    std::string name(best->name);
    for (const char* ending : {".isra.", ".part.", ".llvm."}) {
      if (auto p = name.find(ending); p != std::string::npos) name.resize(p);
    }
    return hit->offset ? fmt::format("{}+{}", name, hit->offset) : name;
  }

  // Up to 16 bytes at `address`: the dump's memory, else the vmlinux's text.
  std::vector<std::byte> Fetch(uint64_t address) const {
    std::array<std::byte, 16> buf{};
    if (auto km = s_.kernel_memory()) {
      if (km->Read(address, buf)) return {buf.begin(), buf.end()};
      size_t to_page_end = 4096 - (address & 4095);
      if (to_page_end < buf.size() && km->Read(address, std::span(buf).first(to_page_end))) {
        return {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(to_page_end)};
      }
    }
    if (!s_.vmlinux().empty()) {
      if (auto b = ReadElfBytes(s_.vmlinux(), address - s_.kaslr_offset(), 16)) {
        used_file_ = true;
        return *b;
      }
    }
    return {};
  }

  Result<DisLine> Line(uint64_t address, uint32_t& size) const {
    auto bytes = Fetch(address);
    if (bytes.empty()) {
      return Error(ErrorCode::kFault, fmt::format("cannot read text at {:#x} (not in the dump)", address),
                   AtVirt(address));
    }
    X86Instruction insn = dis_.Decode(bytes, address);
    size = insn.size;
    DisLine l;
    l.address = address;
    l.location = SymStr(address);
    for (uint32_t i = 0; i < insn.size && i < bytes.size(); ++i) {
      l.bytes += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned>(bytes[i]));
    }
    l.instruction = insn.text;
    if (insn.branch_target) {
      std::string sym = SymStr(*insn.branch_target);
      if (!sym.empty()) l.instruction += " <" + sym + ">";
    }
    if (insn.rip_target) {
      l.instruction += fmt::format("        # {:#x}", *insn.rip_target);
      std::string sym = SymStr(*insn.rip_target);
      if (!sym.empty()) l.instruction += " <" + sym + ">";
    }
    // crash marks the nop ftrace leaves at a function's entry.
    auto at = syms_.LookupAddress(address);
    if (at && at->symbol && at->offset == 0 &&
        (l.instruction.find("nopl   0x0(%rax,%rax,1)") != std::string::npos ||
         l.instruction.find("data32 data32 data32 xchg %ax,%ax") != std::string::npos)) {
      l.instruction += " [FTRACE NOP]";
    }
    return l;
  }

  bool used_file() const { return used_file_; }

 private:
  const Session& s_;
  const SymbolTable& syms_;
  const X86Disassembler& dis_;
  mutable bool used_file_ = false;
};

}  // namespace

Result<DisResult> RunDis(const Session& s, const std::vector<std::string>& args) {
  bool reverse = false, forward = false, lines = false;
  std::vector<std::string> rest;
  for (const std::string& a : args) {
    if (a.size() > 1 && a[0] == '-' && !ParseNumber(a.substr(1))) {
      for (char c : a.substr(1)) {
        switch (c) {
          case 'r': reverse = true; break;
          case 'f': forward = true; break;
          case 'l': lines = true; break;
          default: return Error(ErrorCode::kUnsupported, fmt::format("option -{} is not supported yet", c));
        }
      }
    } else {
      rest.push_back(a);
    }
  }
  if (reverse && forward) return Error(ErrorCode::kInvalidArgument, "-r and -f are mutually exclusive");
  if (rest.empty()) return Error(ErrorCode::kInvalidArgument, "an address or a symbol is required");
  if (rest.size() > 2) return Error(ErrorCode::kInvalidArgument, "usage: dis [-rfl] ADDR|SYMBOL [COUNT]");
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  if (s.dump().info.machine != "x86_64") {
    return Error(ErrorCode::kUnsupported, fmt::format("disassembly of {} is not supported", s.dump().info.machine));
  }

  // The target: SYMBOL, SYMBOL+OFFSET or a hex address.
  const std::string& target_text = rest[0];
  uint64_t address = 0;
  bool whole_function = false;
  if (const Symbol* sym = syms->Find(target_text)) {
    std::vector<const Symbol*> text;
    for (const Symbol* m : syms->Lookup(target_text)) {
      if (m->IsText()) text.push_back(m);
    }
    if (text.size() > 1) {
      // As crash: a name several functions share needs an address.
      std::string list;
      for (const Symbol* m : text) list += fmt::format("\n{:016x} ({}) {}", m->address, m->type, m->name);
      return Error(ErrorCode::kInvalidArgument, fmt::format("{}: duplicate text symbols found:{}", target_text, list));
    }
    address = sym->address;
    whole_function = sym->IsText();
  } else if (auto plus = target_text.find('+'); plus != std::string::npos) {
    const Symbol* base = syms->Find(target_text.substr(0, plus));
    auto off = ParseNumber(target_text.substr(plus + 1));
    if (!base || !off) return Error(ErrorCode::kNotFound, WithScope(*syms, fmt::format("symbol not found: {}", target_text)));
    address = base->address + *off;
  } else if (auto hex = ParseHex(target_text)) {
    address = *hex;
    auto hit = syms->LookupAddress(address);
    whole_function = hit && hit->symbol && hit->offset == 0 && hit->symbol->IsText();
  } else {
    return Error(ErrorCode::kNotFound, WithScope(*syms, fmt::format("symbol not found: {}", target_text)));
  }
  std::optional<uint64_t> count;
  if (rest.size() == 2) {
    count = ParseNumber(rest[1]);
    if (!count || *count == 0) return Error(ErrorCode::kInvalidArgument, fmt::format("invalid count argument: {}", rest[1]));
    whole_function = false;
    forward = false;  // crash: a count overrides -f
  }

  // The containing function's range, from the symbol's size (ELF) or the next symbol (kallsyms).
  uint64_t func_start = address, func_end = address;
  if (whole_function || reverse || forward) {
    auto hit = syms->LookupAddress(address);
    if (!hit || !hit->symbol) return Error(ErrorCode::kNotFound, fmt::format("{:#x}: no symbol contains it", address));
    func_start = hit->symbol->address;
    if (hit->symbol->has_size && hit->symbol->size) {
      func_end = func_start + hit->symbol->size;
    } else if (auto d = syms->DistanceToNext(*hit->symbol)) {
      func_end = func_start + *d;
    } else {
      return Error(ErrorCode::kNotFound, fmt::format("unable to determine the end of {}", hit->symbol->name));
    }
  }

  CORONER_TRY(X86Disassembler dis, X86Disassembler::Create());
  Disassembly d(s, *syms, dis);
  DisResult r;
  r.line_numbers = lines;
  if (lines && !s.HasLineInfo()) {
    r.line_numbers = false;
    r.notes.push_back("line numbers are not available: they need a vmlinux with DWARF debug info");
  }
  auto add = [&](uint64_t at, uint32_t& size) -> Result<void> {
    CORONER_TRY(DisLine l, d.Line(at, size));
    if (r.line_numbers) {
      auto src = s.LineAt(at);
      l.source = src ? fmt::format("{}: {}", src->file, src->line) : std::string();
    }
    r.lines.push_back(std::move(l));
    return {};
  };

  if (reverse) {
    // From the function's start through the instruction at (or covering) the address; with a
    // count, only the last COUNT of them.
    // (crash: through the first instruction that starts at or after the address).
    uint64_t at = func_start;
    while (r.lines.size() < kMaxInstructions) {
      uint32_t size = 0;
      CORONER_TRY_VOID(add(at, size));
      if (at >= address) break;
      at += size;
    }
    if (count && r.lines.size() > *count) {
      r.lines.erase(r.lines.begin(), r.lines.end() - static_cast<std::ptrdiff_t>(*count));
    }
  } else if (whole_function || forward) {
    // -f decodes from the function's start (the address may be inside an instruction) and shows
    // the instructions from the first one at or after the address.
    uint64_t at = func_start;
    while (at < func_end && r.lines.size() < kMaxInstructions) {
      uint32_t size = 0;
      CORONER_TRY_VOID(add(at, size));
      if (forward && at < address) r.lines.pop_back();
      at += size;
    }
  } else {
    uint64_t at = address;
    for (uint64_t i = 0; i < count.value_or(1) && i < kMaxInstructions; ++i) {
      uint32_t size = 0;
      CORONER_TRY_VOID(add(at, size));
      at += size;
    }
  }
  if (d.used_file()) r.notes.push_back("some text was not in the dump: read from the vmlinux instead");
  return r;
}

}  // namespace coroner
