#include "lib/commands/sys.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "lib/commands/ps.h"
#include "lib/kernel/printk.h"

namespace coroner {
namespace {

// avenrun[] fixed point (include/linux/sched/loadavg.h).
constexpr uint64_t kFShift = 11;
constexpr uint64_t kFixed1 = 1 << kFShift;

std::string LoadAverage(const Kernel& k, std::vector<std::string>& warnings) {
  auto base = k.SymbolAddress("avenrun");
  if (!base) {
    warnings.push_back("LOAD AVERAGE: " + base.error().ToString());
    return "";
  }
  std::string out;
  for (uint64_t i = 0; i < 3; ++i) {
    auto v = k.ReadU64(*base + 8 * i);
    if (!v) {
      warnings.push_back("LOAD AVERAGE: " + v.error().ToString());
      return "";
    }
    uint64_t a = *v + kFixed1 / 200;
    out += fmt::format("{}{}.{:02}", i ? ", " : "", a >> kFShift, ((a & (kFixed1 - 1)) * 100) >> kFShift);
  }
  return out;
}

// INITIAL_JIFFIES: jiffies start 5 minutes before wrapping 32 bits.
uint64_t InitialJiffies(int hz) { return static_cast<uint32_t>(-300 * hz); }

// HZ from tick_nsec (the length of a tick) where the kernel has it; else the candidate HZ whose
// uptime from jiffies best matches the last printk timestamp.
int GuessHz(const Kernel& k, uint64_t jiffies, const PrintkLog* log, std::string& source) {
  if (auto tn = k.SymbolAddress("tick_nsec")) {
    if (auto v = k.ReadU64(*tn); v && *v > 0) {
      int hz = static_cast<int>(std::lround(1e9 / static_cast<double>(*v)));
      for (int c : {100, 250, 300, 1000}) {
        if (c == hz) {
          source = "tick_nsec";
          return hz;
        }
      }
    }
  }
  if (log && !log->records.empty()) {
    double ts = static_cast<double>(log->records.back().ts_nsec) / 1e9;
    int best = 0;
    double best_err = 0;
    for (int c : {100, 250, 300, 1000}) {
      if (jiffies < InitialJiffies(c)) continue;
      double up = static_cast<double>(jiffies - InitialJiffies(c)) / c;
      double err = std::fabs(up - ts);
      if (up + 1 >= ts && (!best || err < best_err)) {
        best = c;
        best_err = err;
      }
    }
    if (best) {
      source = "jiffies against the last printk timestamp";
      return best;
    }
  }
  return 0;
}

int CountBits(const Kernel& k, std::string_view symbol, int limit) {
  auto base = k.SymbolAddress(symbol);
  if (!base) return -1;
  int n = 0;
  for (int word = 0; word * 64 < limit; ++word) {
    auto v = k.ReadU64(*base + 8 * static_cast<uint64_t>(word));
    if (!v) return -1;
    uint64_t bits = *v;
    if ((word + 1) * 64 > limit) bits &= (uint64_t{1} << (limit - word * 64)) - 1;
    n += __builtin_popcountll(bits);
  }
  return n;
}

}  // namespace

std::string TaintLetters(uint64_t mask) {
  // kernel/panic.c taint_flags[], bit order.
  static constexpr char kLetters[] = "PFSRMBUDAWCIOELKXTNJ";
  std::string out;
  for (size_t bit = 0; bit + 1 < sizeof(kLetters); ++bit) {
    if (mask & (uint64_t{1} << bit)) out.push_back(kLetters[bit]);
  }
  return out;
}

std::string FindPanicMessage(const PrintkLog& log) {
  for (const PrintkRecord& r : log.records) {
    auto pos = r.text.find("Kernel panic - not syncing");
    if (pos != std::string::npos) {
      std::string msg = r.text.substr(pos);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      return msg;
    }
  }
  for (const PrintkRecord& r : log.records) {
    for (std::string_view pat : {"Oops: ", "kernel BUG at ", "BUG: ", "general protection fault"}) {
      auto pos = r.text.find(pat);
      if (pos != std::string::npos) {
        std::string msg = r.text.substr(pos);
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        return msg + "\" (check log for details)";
      }
    }
  }
  return "";
}

Result<KernelClock> ReadKernelClock(const Session& s) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(uint64_t jsym, k->SymbolAddress("jiffies_64"));
  CORONER_TRY(uint64_t j, k->ReadU64(jsym));
  auto log = ReadPrintkLog(*s.kernel_memory(), *s.dump().info.vmcoreinfo);
  KernelClock c;
  c.hz = GuessHz(*k, j, log ? &*log : nullptr, c.hz_source);
  if (!c.hz) return Error(ErrorCode::kNotFound, "cannot tell the kernel's HZ");
  if (j < InitialJiffies(c.hz)) return Error(ErrorCode::kBadData, fmt::format("jiffies_64 {:#x} is before boot", j));
  c.uptime_jiffies = j - InitialJiffies(c.hz);
  return c;
}

namespace {

// sys -c, as crash's dump_sys_call_table: the table's length from its type (DWARF) or else up to
// the next symbol; each handler by the symbol starting there; its source line: the first
// address in the handler whose line is not in an include/*.h header (a syscall's first
// instructions are often inlined from one), shown relative to the build directory (the part
// before "/kernel/" of schedule's own line).
Result<void> ReadSyscallTable(const Session& s, const std::string& filter, SysResult& r) {
  r.syscall_table = true;
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(uint64_t table, k->SymbolAddress("sys_call_table"));
  uint64_t count = 0;
  if (s.dwarf()) {
    if (auto t = s.GlobalType("sys_call_table")) {
      CORONER_TRY(const TypeTable* types, s.Types());
      const Type& at = types->Get(types->Resolve(*t));
      if (at.kind == TypeKind::kArray && at.count) {
        count = at.count;
        r.syscall_count_confirmed = true;
      }
    }
  }
  if (!count) {
    const Symbol* sym = syms->Find("sys_call_table");
    auto size = sym ? syms->DistanceToNext(*sym) : std::nullopt;
    if (!size) return Error(ErrorCode::kNotFound, "no symbol follows sys_call_table");
    count = *size / 8;
  }
  if (count == 0 || count > 4096) {
    return Error(ErrorCode::kBadData, fmt::format("sys_call_table at {:#x}: {} entries", table, count));
  }
  std::string build_dir;
  r.line_numbers = s.dwarf() != nullptr;
  if (r.line_numbers) {
    if (auto sched = k->SymbolAddress("schedule")) {
      if (auto line = s.LineAt(*sched)) {
        if (auto p = line->file.find("/kernel/"); p != std::string::npos) build_dir = line->file.substr(0, p);
      }
    }
  }
  std::optional<uint64_t> ni;
  if (auto a = k->SymbolAddress("sys_ni_syscall")) ni = *a;
  std::vector<std::byte> raw(count * 8);
  CORONER_TRY_VOID(k->memory().Read(table, raw));
  std::optional<long> filter_nr;
  if (!filter.empty() && filter.find_first_not_of("0123456789") == std::string::npos) filter_nr = std::stol(filter);
  for (uint64_t i = 0; i < count; ++i) {
    SysCall c;
    c.nr = static_cast<int>(i);
    std::memcpy(&c.handler, raw.data() + 8 * i, 8);
    auto m = syms->LookupAddress(c.handler);
    if (m && m->offset == 0 && !m->symbol->percpu && IsKernelAddress(c.handler)) c.name = ni && c.handler == *ni ? "sys_ni_syscall" : std::string(m->symbol->name);
    if (c.name.empty() && !r.syscall_count_confirmed) continue;  // past the table's end
    if (filter_nr && c.nr != *filter_nr) continue;
    if (!filter.empty() && !filter_nr && c.name.find(filter) == std::string::npos) continue;
    if (!c.name.empty() && !build_dir.empty()) {
      uint64_t end = c.handler + syms->DistanceToNext(*m->symbol).value_or(0);
      for (uint64_t a = c.handler; a < end; ++a) {
        auto line = s.LineAt(a);
        if (!line) continue;
        if (line->file.find("include/") != std::string::npos && line->file.ends_with(".h")) continue;
        if (line->file.rfind(build_dir, 0) == 0) {
          c.source = fmt::format("..{}: {}", line->file.substr(build_dir.size()), line->line);
          break;
        }
      }
    }
    r.syscalls.push_back(std::move(c));
  }
  return Ok();
}

}  // namespace

Result<SysResult> RunSys(const Session& s, const std::vector<std::string>& args) {
  SysResult r;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-t") {
      r.taint_only = true;
    } else if (a == "-c") {
      std::string filter = i + 1 < args.size() ? args[++i] : "";
      CORONER_TRY_VOID(ReadSyscallTable(s, filter, r));
      return r;
    } else {
      return Error(ErrorCode::kUnsupported, fmt::format("sys {}: not supported yet (sys, sys -t, sys -c)", a));
    }
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  if (auto tm = k->SymbolAddress("tainted_mask")) {
    if (auto v = k->ReadU64(*tm)) {
      r.taint_mask = *v;
      r.tainted = *v != 0;
      r.taint_letters = TaintLetters(*v);
    } else {
      r.warnings.push_back("tainted_mask: " + v.error().ToString());
    }
  }
  if (r.taint_only) return r;

  r.kernel = s.vmlinux().empty() ? "(no vmlinux: symbols from kallsyms, types from BTF, both in the dump)"
                                 : s.vmlinux();
  r.dumpfiles = s.dump().info.files;
  r.partial = s.dump().info.dump_level.value_or(0) > 0;
  auto possible = k->PossibleCpus();
  if (possible) {
    int online = CountBits(*k, "__cpu_online_mask", *possible);
    r.cpus = *possible;
    if (online >= 0) r.offline_cpus = *possible - online;
  }
  const Vmcoreinfo& vi = *s.dump().info.vmcoreinfo;
  r.crash_time = vi.crash_time;

  const KernelMemory* km = s.kernel_memory();
  auto log = ReadPrintkLog(*km, vi);
  if (log) {
    r.panic = FindPanicMessage(*log);
  } else {
    r.warnings.push_back("PANIC: reading the log: " + log.error().ToString());
  }
  if (auto jsym = k->SymbolAddress("jiffies_64")) {
    if (auto j = k->ReadU64(*jsym)) {
      r.hz = GuessHz(*k, *j, log ? &*log : nullptr, r.hz_source);
      if (r.hz && *j >= InitialJiffies(r.hz)) r.uptime_seconds = (*j - InitialJiffies(r.hz)) / static_cast<uint64_t>(r.hz);
      if (!r.hz) r.warnings.push_back("UPTIME: cannot tell the kernel's HZ");
    }
  }
  r.load_average = LoadAverage(*k, r.warnings);
  if (auto tl = s.Tasks()) {
    r.tasks = (*tl)->tasks.size();
  } else {
    r.warnings.push_back("TASKS: " + tl.error().ToString());
  }
  if (auto uts = k->SymbolAddress("init_uts_ns"); uts && !k->StructType("uts_namespace")) {
    // No types (no BTF, no DWARF): one warning, and the release VMCOREINFO records.
    r.warnings.push_back("NODENAME, RELEASE, VERSION, MACHINE: " + k->StructType("uts_namespace").error().message());
    r.release = vi.osrelease.value_or("");
    r.machine = s.dump().info.machine;
    if (s.vmlinux().empty()) r.kernel = "(no vmlinux: symbols from kallsyms in the dump; no types: see the warning)";
  } else if (uts) {
    auto field = [&](std::string_view m) -> std::string {
      auto v = k->ReadCharArray(*uts, "uts_namespace", fmt::format("name.{}", m));
      if (!v) {
        r.warnings.push_back(fmt::format("init_uts_ns.name.{}: {}", m, v.error().ToString()));
        return "";
      }
      return *v;
    };
    r.nodename = field("nodename");
    r.release = field("release");
    r.version = field("version");
    r.machine = field("machine");
  }
  if (auto khz = k->SymbolAddress("cpu_khz")) {
    if (auto v = k->ReadU32(*khz)) r.mhz = *v / 1000;
  }
  if (auto pages = TotalPhysicalPages(s)) {
    r.memory_bytes = *pages * 4096;
  } else {
    r.warnings.push_back("MEMORY: " + pages.error().ToString());
  }
  if (auto pc = k->SymbolAddress("panic_cpu")) {
    if (auto v = k->ReadU32(*pc)) r.panic_cpu = static_cast<int32_t>(*v);
  }
  return r;
}

std::optional<int64_t> BootTime(const Session& s, const PrintkLog* log) {
  const auto& vi = s.dump().info.vmcoreinfo;
  if (!vi || !vi->crash_time) return std::nullopt;
  auto k = s.GetKernel();
  if (!k) return std::nullopt;
  auto jsym = (*k)->SymbolAddress("jiffies_64");
  if (!jsym) return std::nullopt;
  auto j = (*k)->ReadU64(*jsym);
  if (!j) return std::nullopt;
  std::string source;
  int hz = GuessHz(**k, *j, log, source);
  if (!hz || *j < InitialJiffies(hz)) return std::nullopt;
  return *vi->crash_time - static_cast<int64_t>((*j - InitialJiffies(hz)) / static_cast<uint64_t>(hz));
}

}  // namespace coroner
