#include "lib/commands/irq.h"

#include <fmt/format.h>

#include <map>

#include "lib/kernel/containers.h"

namespace coroner {
namespace {

// (irq, irq_desc) for every allocated descriptor.
Result<std::vector<std::pair<uint64_t, uint64_t>>> IrqDescriptors(const Kernel& k) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (auto tree = k.SymbolAddress("sparse_irqs")) {
    // kernel/irq/irqdesc.c (6.5+): static struct maple_tree sparse_irqs.
    CORONER_TRY(std::vector<MapleEntry> entries, MapleTreeEntries(k, *tree));
    for (const MapleEntry& e : entries) {
      for (uint64_t irq = e.first; irq <= e.last && irq - e.first < 65536; ++irq) out.emplace_back(irq, e.entry);
    }
    return out;
  }
  if (auto tree = k.SymbolAddress("irq_desc_tree")) {
    // Before 6.5: static RADIX_TREE(irq_desc_tree), an XArray since 4.20.
    return XArrayEntries(k, *tree);
  }
  if (auto arr = k.SymbolAddress("irq_desc")) {
    CORONER_TRY(uint64_t size, k.SizeOf("irq_desc"));
    CORONER_TRY(uint64_t nr_addr, k.SymbolAddress("nr_irqs"));
    CORONER_TRY(uint32_t nr, k.ReadU32(nr_addr));
    for (uint64_t i = 0; i < nr && i < 65536; ++i) out.emplace_back(i, *arr + i * size);
    return out;
  }
  return Error(ErrorCode::kNotFound, "none of sparse_irqs, irq_desc_tree or irq_desc is in the symbols");
}

Result<std::string> StringAt(const Kernel& k, uint64_t ptr) {
  if (!ptr) return std::string();
  return k.memory().ReadCString(ptr, 128);
}

}  // namespace

Result<IrqResult> RunIrq(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  IrqResult r;
  if (args.size() > 1 || (args.size() == 1 && args[0] != "-s" && args[0] != "-b")) {
    return Error(ErrorCode::kUnsupported, "irq supports no option, -s or -b yet");
  }
  if (args.empty()) {
    r.mode = IrqResult::Mode::kList;
    // unsigned int nr_irqs (kernel/irq/irqdesc.c); total_nr_irqs once nr_irqs went static.
    auto nr_addr = k->SymbolAddress("nr_irqs");
    if (!nr_addr) nr_addr = k->SymbolAddress("total_nr_irqs");
    if (!nr_addr) return Error(ErrorCode::kNotFound, "neither nr_irqs nor total_nr_irqs is in the symbols");
    CORONER_TRY(uint32_t nr, k->ReadU32(*nr_addr));
    if (nr > (1u << 20)) return Error(ErrorCode::kBadData, fmt::format("nr_irqs is {}", nr));
    CORONER_TRY(auto descs, IrqDescriptors(*k));
    std::map<uint64_t, uint64_t> by_irq(descs.begin(), descs.end());
    for (uint64_t irq = 0; irq < nr; ++irq) {
      IrqResult::Line line;
      line.irq = irq;
      if (auto it = by_irq.find(irq); it != by_irq.end()) line.desc = it->second;
      if (line.desc) {
        CORONER_TRY(uint64_t action, k->ReadField(line.desc, "irq_desc", "action"));
        for (int n = 0; action && n < 1024; ++n) {
          CORONER_TRY(uint64_t name, k->ReadField(action, "irqaction", "name"));
          CORONER_TRY(std::string a, StringAt(*k, name));
          line.actions.emplace_back(action, std::move(a));
          CORONER_TRY(action, k->ReadField(action, "irqaction", "next"));
        }
      }
      r.lines.push_back(std::move(line));
    }
    return r;
  }
  if (args[0] == "-b") {
    r.mode = IrqResult::Mode::kSoftirqs;
    // kernel/softirq.c: struct softirq_action softirq_vec[NR_SOFTIRQS].
    CORONER_TRY(uint64_t vec, k->SymbolAddress("softirq_vec"));
    CORONER_TRY(int64_t n, k->EnumValue("NR_SOFTIRQS"));
    CORONER_TRY(uint64_t size, k->SizeOf("softirq_action"));
    CORONER_TRY(Field action_f, k->FieldOf("softirq_action", "action"));
    for (int64_t i = 0; i < n && i < 64; ++i) {
      CORONER_TRY(uint64_t fn, k->ReadU64(vec + static_cast<uint64_t>(i) * size + action_f.offset));
      if (!fn) continue;
      SoftirqAction a;
      a.vec = static_cast<int>(i);
      a.action = fn;
      if (auto m = k->symbols().LookupAddress(fn); m && m->symbol) {
        a.symbol = m->offset ? fmt::format("{}+{}", m->symbol->name, m->offset) : std::string(m->symbol->name);
      }
      r.softirqs.push_back(std::move(a));
    }
    return r;
  }
  CORONER_TRY(r.cpus, k->PossibleCpus());
  CORONER_TRY(auto descs, IrqDescriptors(*k));
  for (const auto& [irq, desc] : descs) {
    if (!IsKernelAddress(desc)) {
      return Error(ErrorCode::kBadData, fmt::format("IRQ {}: descriptor {:#x} is not a kernel address", irq, desc));
    }
    CORONER_TRY(uint64_t action, k->ReadField(desc, "irq_desc", "action"));
    if (!action) continue;
    IrqInfo info;
    info.irq = irq;
    info.desc = desc;
    CORONER_TRY(uint64_t chip, k->ReadField(desc, "irq_desc", "irq_data.chip"));
    if (chip) {
      CORONER_TRY(uint64_t name, k->ReadField(chip, "irq_chip", "name"));
      CORONER_TRY(info.chip, StringAt(*k, name));
    }
    CORONER_TRY(uint64_t flow, k->ReadField(desc, "irq_desc", "name"));
    CORONER_TRY(info.flow, StringAt(*k, flow));
    for (int n = 0; action && n < 1024; ++n) {
      CORONER_TRY(uint64_t name, k->ReadField(action, "irqaction", "name"));
      CORONER_TRY(std::string a, StringAt(*k, name));
      info.actions.push_back(std::move(a));
      CORONER_TRY(action, k->ReadField(action, "irqaction", "next"));
    }
    // kstat_irqs: unsigned int __percpu * (struct irqdesc_kstats __percpu * on 6.10+, whose
    // first member is the count).
    CORONER_TRY(uint64_t kstat, k->ReadField(desc, "irq_desc", "kstat_irqs"));
    for (int cpu = 0; cpu < r.cpus; ++cpu) {
      uint64_t count = 0;
      if (kstat) {
        CORONER_TRY(uint64_t off, k->PerCpuOffset(cpu));
        CORONER_TRY(uint32_t c, k->ReadU32(kstat + off));
        count = c;
      }
      info.counts.push_back(count);
    }
    r.irqs.push_back(std::move(info));
  }
  return r;
}

}  // namespace coroner
