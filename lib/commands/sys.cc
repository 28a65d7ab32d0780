#include "lib/commands/sys.h"

#include <fmt/format.h>

#include <cmath>

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

Result<SysResult> RunSys(const Session& s, const std::vector<std::string>& args) {
  SysResult r;
  for (const std::string& a : args) {
    if (a == "-t") {
      r.taint_only = true;
    } else {
      return Error(ErrorCode::kUnsupported, fmt::format("sys {}: not supported yet (sys, sys -t)", a));
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

  r.kernel = "(no vmlinux: symbols from kallsyms, types from BTF, both in the dump)";
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
  if (auto uts = k->SymbolAddress("init_uts_ns")) {
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

}  // namespace coroner
