#include "lib/commands/timer.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "lib/commands/sys.h"
#include "lib/kernel/containers.h"

namespace coroner {

namespace {

std::string SymbolName(const Kernel& k, uint64_t addr) {
  if (auto m = k.symbols().LookupAddress(addr); m && m->symbol) {
    return m->offset ? fmt::format("{}+{}", m->symbol->name, m->offset) : std::string(m->symbol->name);
  }
  return fmt::format("{:x}", addr);
}

Result<void> ReadHrtimers(const Kernel& k, int64_t hz, TimerResult& r) {
  const uint64_t initial = static_cast<uint32_t>(-300 * hz);  // INITIAL_JIFFIES
  const int64_t uptime_ns = static_cast<int64_t>(r.jiffies - initial) * (1000000000 / hz);
  CORONER_TRY(Field clock_base, k.FieldOf("hrtimer_cpu_base", "clock_base"));
  CORONER_TRY(uint64_t cb_size, k.SizeOf("hrtimer_clock_base"));
  const uint64_t nbases = clock_base.size / cb_size;
  CORONER_TRY(Field active, k.FieldOf("hrtimer_clock_base", "active"));
  CORONER_TRY(Field node, k.FieldOf("hrtimer", "node"));
  bool has_get_time = k.HasField("hrtimer_clock_base", "get_time");
  CORONER_TRY(int cpus, k.PossibleCpus());
  for (int cpu = 0; cpu < cpus; ++cpu) {
    CORONER_TRY(uint64_t cpu_base, k.PerCpuAddress("hrtimer_bases", cpu));
    for (uint64_t i = 0; i < nbases; ++i) {
      HrtimerClockBase b;
      b.cpu = cpu;
      b.index = static_cast<int>(i);
      b.cpu_base = cpu_base;
      b.clock_base = cpu_base + clock_base.offset + i * cb_size;
      if (has_get_time) {
        CORONER_TRY(uint64_t fn, k.ReadField(b.clock_base, "hrtimer_clock_base", "get_time"));
        b.get_time = SymbolName(k, fn);
      } else {
        // 7.x dropped get_time: the clock's reader by clockid (include/uapi/linux/time.h).
        CORONER_TRY(int64_t id, k.ReadSignedField(b.clock_base, "hrtimer_clock_base", "clockid"));
        b.get_time = id == 0 ? "ktime_get_real" : id == 1 ? "ktime_get" : id == 7 ? "ktime_get_boottime"
                   : id == 11 ? "ktime_get_clocktai" : fmt::format("clockid {}", id);
      }
      CORONER_TRY(int64_t offset, k.ReadSignedField(b.clock_base, "hrtimer_clock_base", "offset"));
      b.now = uptime_ns + offset;
      // active: a timerqueue_head (rb_root_cached) or 7.x's timerqueue_linked_head
      // (rb_root_linked); either starts with the rb_root, and each hrtimer with its rb_node.
      CORONER_TRY(std::vector<uint64_t> nodes, RbTreeNodes(k, b.clock_base + active.offset, 1 << 16));
      for (uint64_t n : nodes) {
        Hrtimer h;
        h.hrtimer = n - node.offset;
        CORONER_TRY(h.expires, k.ReadSignedField(h.hrtimer, "hrtimer", "node.expires"));
        CORONER_TRY(h.softexpires, k.ReadSignedField(h.hrtimer, "hrtimer", "_softexpires"));
        CORONER_TRY(h.function, k.ReadField(h.hrtimer, "hrtimer", "function"));
        h.symbol = SymbolName(k, h.function);
        b.timers.push_back(std::move(h));
      }
      r.clock_bases.push_back(std::move(b));
    }
  }
  return Ok();
}

}  // namespace

Result<TimerResult> RunTimer(const Session& s, const std::vector<std::string>& args) {
  TimerResult r;
  for (const std::string& a : args) {
    if (a == "-r") {
      r.hrtimers = true;
    } else {
      return Error(ErrorCode::kUnsupported, fmt::format("timer {}: only -r is supported yet", a));
    }
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(uint64_t jiffies_addr, k->SymbolAddress("jiffies"));
  CORONER_TRY(r.jiffies, k->ReadU64(jiffies_addr));
  if (r.hrtimers) {
    // HZ for crash's jiffies-based "current" time: as `sys` finds it (tick_nsec, or the
    // candidate that fits the log's timestamps where 7.x has no tick_nsec).
    CORONER_TRY(SysResult sys, RunSys(s, {}));
    if (sys.hz <= 0) return Error(ErrorCode::kNotFound, "timer -r: cannot tell the kernel's HZ");
    CORONER_TRY_VOID(ReadHrtimers(*k, sys.hz, r));
    return r;
  }
  CORONER_TRY(uint64_t base_size, k->SizeOf("timer_base"));
  CORONER_TRY(Field vectors, k->FieldOf("timer_base", "vectors"));
  const Type& vt = k->types().Get(k->types().Resolve(vectors.type));
  if (vt.kind != TypeKind::kArray || !vt.count) {
    return Error(ErrorCode::kBadData, "timer_base.vectors is not an array in the kernel's types");
  }
  CORONER_TRY(Field entry, k->FieldOf("timer_list", "entry"));
  // How many bases the per-CPU timer_bases[NR_BASES] holds (a #define, not in BTF): the bases
  // that still fall inside the symbol, before the next per-CPU symbol.
  const Symbol* sym = k->symbols().Find("timer_bases");
  if (!sym) return Error(ErrorCode::kNotFound, "no symbol timer_bases (a timer wheel before 4.8?)");
  int nr_bases = 0;
  for (; nr_bases < 4; ++nr_bases) {
    auto m = k->symbols().LookupAddress(sym->address + base_size * static_cast<uint64_t>(nr_bases));
    if (!m || !m->symbol || m->symbol->name != "timer_bases") break;
  }
  if (nr_bases == 0) nr_bases = 1;
  static const char* kNames2[] = {"BASE_STD", "BASE_DEF"};
  static const char* kNames3[] = {"BASE_LOCAL", "BASE_GLOBAL", "BASE_DEF"};
  CORONER_TRY(int cpus, k->PossibleCpus());
  for (int cpu = 0; cpu < cpus; ++cpu) {
    CORONER_TRY(uint64_t first, k->PerCpuAddress("timer_bases", cpu));
    for (int b = 0; b < nr_bases; ++b) {
      TimerBase tb;
      tb.cpu = cpu;
      tb.name = nr_bases == 3 ? kNames3[b] : nr_bases == 2 ? kNames2[b] : fmt::format("BASE_{}", b);
      tb.base = first + base_size * static_cast<uint64_t>(b);
      std::unordered_set<uint64_t> seen;
      for (uint64_t v = 0; v < vt.count; ++v) {
        CORONER_TRY(uint64_t node, k->ReadU64(tb.base + vectors.offset + 8 * v));  // hlist_head.first
        while (node) {
          if (!IsKernelAddress(node) || !seen.insert(node).second || seen.size() > (1u << 20)) {
            return Error(ErrorCode::kBadData,
                         fmt::format("timer base {:#x} vector {}: bad or repeated timer {:#x}", tb.base, v, node));
          }
          PendingTimer t;
          t.timer_list = node - entry.offset;
          CORONER_TRY(t.expires, k->ReadField(t.timer_list, "timer_list", "expires"));
          CORONER_TRY(t.function, k->ReadField(t.timer_list, "timer_list", "function"));
          t.tte = static_cast<int64_t>(t.expires - r.jiffies);
          if (auto m = k->symbols().LookupAddress(t.function); m && m->symbol) {
            t.symbol = m->offset ? fmt::format("{}+{}", m->symbol->name, m->offset) : std::string(m->symbol->name);
          }
          tb.timers.push_back(std::move(t));
          CORONER_TRY(node, k->ReadU64(node));  // hlist_node.next
        }
      }
      std::stable_sort(tb.timers.begin(), tb.timers.end(),
                       [](const PendingTimer& a, const PendingTimer& c) { return a.expires < c.expires; });
      r.bases.push_back(std::move(tb));
    }
  }
  return r;
}

}  // namespace coroner
