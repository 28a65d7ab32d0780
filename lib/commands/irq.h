// `irq`: every IRQ's descriptor and actions; `irq -b`: the softirq vectors' actions;
// `irq -s`: per-CPU interrupt counts of every IRQ with an action, like /proc/interrupts, in
// crash 8.0.2's layout (count per CPU, chip name and flow ("IO-APIC-edge"), action names).
// The descriptors come from sparse_irqs (a maple tree, 6.5+), irq_desc_tree (a radix tree /
// XArray, before) or the irq_desc[] array without CONFIG_SPARSE_IRQ.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct IrqInfo {
  uint64_t irq = 0;
  uint64_t desc = 0;              // struct irq_desc
  std::string chip;               // irq_data.chip->name
  std::string flow;               // irq_desc.name ("edge", "fasteoi")
  std::vector<std::string> actions;  // irqaction names, in chain order
  std::vector<uint64_t> counts;   // per CPU
};

struct SoftirqAction {
  int vec = 0;
  uint64_t action = 0;
  std::string symbol;
};

struct IrqResult {
  enum class Mode { kCounts, kList, kSoftirqs } mode = Mode::kCounts;
  int cpus = 0;
  std::vector<IrqInfo> irqs;  // -s: those with an action
  // The list (no option): every IRQ below nr_irqs, desc 0 where none is allocated.
  struct Line {
    uint64_t irq = 0;
    uint64_t desc = 0;
    std::vector<std::pair<uint64_t, std::string>> actions;  // irqaction, name
  };
  std::vector<Line> lines;
  std::vector<SoftirqAction> softirqs;  // -b
};

Result<IrqResult> RunIrq(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
