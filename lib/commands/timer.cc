#include "lib/commands/timer.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

namespace coroner {

Result<TimerResult> RunTimer(const Session& s, const std::vector<std::string>& args) {
  if (!args.empty()) return Error(ErrorCode::kUnsupported, fmt::format("timer {}: options are not supported yet", args[0]));
  CORONER_TRY(const Kernel* k, s.GetKernel());
  TimerResult r;
  CORONER_TRY(uint64_t jiffies_addr, k->SymbolAddress("jiffies"));
  CORONER_TRY(r.jiffies, k->ReadU64(jiffies_addr));
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
