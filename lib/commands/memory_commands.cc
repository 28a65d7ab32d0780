#include "lib/commands/memory_commands.h"

#include <charconv>

#include <fmt/format.h>

namespace coroner {
namespace {

Result<uint64_t> ParseNumber(std::string s, int base, const char* what) {
  std::string orig = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s = s.substr(2);
    base = 16;
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("invalid {}: {}", what, orig));
  }
  return v;
}

}  // namespace

Result<uint64_t> ParseHexArg(const std::string& s) { return ParseNumber(s, 16, "address"); }
Result<uint64_t> ParseCountArg(const std::string& s) { return ParseNumber(s, 10, "count"); }

Result<std::vector<VtopResult>> RunVtop(const Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return Error(ErrorCode::kInvalidArgument, "vtop: an address is required");
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());
  std::vector<VtopResult> out;
  for (const std::string& a : args) {
    if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("vtop: option {} is not supported yet", a));
    }
    CORONER_TRY(uint64_t va, ParseHexArg(a));
    if (va < 0x0000800000000000ull) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("vtop: {:#x} is a user address; user address spaces (vtop -u) are not "
                               "supported yet", va));
    }
    CORONER_TRY(PageWalk w, km->Translate(va));
    const Vmcoreinfo& vi = *s.dump().info.vmcoreinfo;
    VtopResult r;
    r.va = va;
    r.pa = w.pa;
    r.page_size = w.page_size;
    r.pgd_va = vi.Symbol("init_top_pgt").value_or(0);
    r.steps = w.steps;
    if (auto page = PageLineOf(s, w.pa.value)) r.page = *page;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<PtovResult>> RunPtov(const Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return Error(ErrorCode::kInvalidArgument, "ptov: a physical address is required");
  CORONER_TRY(uint64_t base, s.PageOffsetBase());
  std::vector<PtovResult> out;
  for (const std::string& a : args) {
    CORONER_TRY(uint64_t pa, ParseHexArg(a));
    out.push_back({pa, base + pa});
  }
  return out;
}

Result<std::vector<PageConvResult>> RunPtob(const Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return Error(ErrorCode::kInvalidArgument, "ptob: a page number is required");
  std::vector<PageConvResult> out;
  for (const std::string& a : args) {
    CORONER_TRY(uint64_t pfn, ParseCountArg(a));  // crash reads a page number as decimal
    out.push_back({pfn, pfn * s.physical().page_size()});
  }
  return out;
}

Result<std::vector<PageConvResult>> RunBtop(const Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return Error(ErrorCode::kInvalidArgument, "btop: an address is required");
  std::vector<PageConvResult> out;
  for (const std::string& a : args) {
    CORONER_TRY(uint64_t b, ParseHexArg(a));
    out.push_back({b, b / s.physical().page_size()});
  }
  return out;
}

namespace {

// rd -s: each 8-byte value as "symbol+offset" when it lies within the symbols' range (the
// kernel's lowest to highest non-per-CPU symbol, or a module's), as crash's in_ksymbol_range.
Result<std::vector<std::string>> SymbolicValues(const Session& s, const std::vector<std::byte>& bytes) {
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  uint64_t lo = ~0ull, hi = 0;
  for (const Symbol& sym : syms->symbols()) {
    if (sym.percpu || sym.address < 0xffff800000000000ull) continue;
    lo = std::min(lo, sym.address);
    hi = std::max(hi, sym.address);
  }
  std::vector<std::string> out;
  for (size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + i, 8);
    std::string name;
    if (v >= lo && v <= hi) {
      if (auto m = syms->LookupAddress(v); m && !m->symbol->percpu) {
        name = m->offset ? fmt::format("{}+{}", m->symbol->name, m->offset) : std::string(m->symbol->name);
      }
    }
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace

Result<RdOptions> ParseRdArgs(const std::vector<std::string>& args) {
  RdOptions o;
  std::vector<std::string> pos;
  for (const std::string& a : args) {
    if (a == "-8") o.unit = 1;
    else if (a == "-16") o.unit = 2;
    else if (a == "-32") o.unit = 4;
    else if (a == "-64") o.unit = 8;
    else if (a == "-p") o.physical = true;
    else if (a == "-u") o.user = true;
    else if (a == "-a") o.ascii_string = true;
    else if (a == "-s") o.symbolic = true;
    else if (a == "-x") o.no_ascii = true;
    else if (a == "-d") o.decimal = true;
    else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("rd: option {} is not supported yet", a));
    } else {
      pos.push_back(a);
    }
  }
  if (pos.empty()) return Error(ErrorCode::kInvalidArgument, "rd: an address is required");
  if (pos.size() > 2) return Error(ErrorCode::kInvalidArgument, "rd: too many arguments");
  o.address_text = pos[0];
  if (auto hex = ParseHexArg(pos[0])) o.address = *hex;
  if (pos.size() == 2) {
    CORONER_TRY(o.count, ParseCountArg(pos[1]));
  } else if (o.ascii_string) {
    o.count = 4096;  // up to a page, stopping at the NUL
  }
  if (o.symbolic && o.unit != 8) {
    return Error(ErrorCode::kInvalidArgument, "rd: -s shows 64-bit values; it cannot be used with -8, -16 or -32");
  }
  if (o.physical && o.user) return Error(ErrorCode::kInvalidArgument, "rd: -p and -u exclude each other");
  if (o.count == 0 || o.count > (1u << 24)) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("rd: count {} is out of range", o.count));
  }
  return o;
}

Result<RdResult> RunRd(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(RdOptions o, ParseRdArgs(args));
  RdResult r;
  if (!ParseHexArg(o.address_text)) {
    CORONER_TRY(o.address, s.ResolveSymbol(o.address_text));
  }
  r.options = o;
  const VirtualMemory* vm = nullptr;
  std::optional<UserMemory> um;
  if (o.user) {
    CORONER_TRY(const TaskInfo* t, s.ContextTask());
    CORONER_TRY(UserMemory user, s.UserMemoryOf(*t));
    um.emplace(std::move(user));
    r.task = *t;
    vm = &*um;
  } else if (!o.physical) {
    CORONER_TRY(vm, s.RequireKernelMemory());
  }
  uint64_t total = o.ascii_string ? o.count : o.count * o.unit;
  // Read page by page so a failure keeps what came before it.
  uint64_t done = 0;
  while (done < total) {
    uint64_t a = o.address + done;
    uint64_t n = std::min<uint64_t>(4096 - (a & 0xfff), total - done);
    std::vector<std::byte> chunk(n);
    Result<void> rr = o.physical ? s.physical().Read(PhysAddr{a}, chunk) : vm->Read(a, chunk);
    if (!rr) {
      if (done == 0) return std::move(rr).error();
      r.stopped = std::move(rr).error();
      break;
    }
    if (o.ascii_string) {
      for (std::byte b : chunk) {
        if (b == std::byte{0}) return r;
        r.bytes.push_back(b);
      }
    } else {
      r.bytes.insert(r.bytes.end(), chunk.begin(), chunk.end());
    }
    done += n;
  }
  if (o.symbolic) {
    CORONER_TRY(r.symbols, SymbolicValues(s, r.bytes));
  }
  return r;
}

}  // namespace coroner
