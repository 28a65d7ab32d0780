#include "lib/kernel/unwind.h"

#include <fmt/format.h>

#include <cstring>
#include <set>

namespace coroner {
namespace {

constexpr uint64_t kThreadSize = 16 * 1024;    // x86_64 THREAD_SIZE without KASAN
constexpr uint64_t kIrqStackSize = 16 * 1024;  // IRQ_STACK_SIZE
constexpr uint64_t kIretFrameOffset = 8 * kIp;  // offsetof(struct pt_regs, ip)

Result<PtRegs> ReadPtRegs(const Kernel& k, uint64_t addr) {
  PtRegs regs;
  CORONER_TRY_VOID(k.memory().Read(addr, std::as_writable_bytes(std::span(regs.r))));
  return regs;
}

// Which stack an address is on, as crash names them: "" for the task's own stack.
class StackClassifier {
 public:
  StackClassifier(const Kernel& k, uint64_t task, int cpu) {
    if (task) {
      if (auto stack = k.ReadField(task, "task_struct", "stack")) task_stack_ = *stack;
    }
    if (cpu >= 0) {
      // The IRQ stack's top: hardirq_stack_ptr, a per-CPU variable (in pcpu_hot on 6.2-6.14).
      std::optional<uint64_t> ptr_addr;
      if (auto a = k.PerCpuAddress("hardirq_stack_ptr", cpu)) {
        ptr_addr = *a;
      } else if (auto h = k.PerCpuAddress("pcpu_hot", cpu)) {
        if (auto f = k.FieldOf("pcpu_hot", "hardirq_stack_ptr")) ptr_addr = *h + f->offset;
      }
      if (ptr_addr) {
        if (auto top = k.ReadU64(*ptr_addr)) irq_top_ = *top;
      }
    }
  }
  std::string Name(uint64_t sp) const {
    if (task_stack_ && sp >= task_stack_ && sp < task_stack_ + kThreadSize) return "";
    if (irq_top_ && sp <= irq_top_ + 8 && sp + kIrqStackSize >= irq_top_) return "IRQ";
    if (!task_stack_) return "";
    return "exception";
  }

 private:
  uint64_t task_stack_ = 0;
  uint64_t irq_top_ = 0;
};

// Where ORC cannot unwind a function, looks up the stack from `sp` for the return address into
// its caller: a kernel text address with ORC data, right after a call instruction. A direct call
// whose target is the function being left is taken as certain; otherwise the first plausible
// address, marked unverified.
struct ScanHit {
  uint64_t slot;
  uint64_t ip;
  bool verified;
};
std::optional<ScanHit> ScanForCaller(const Kernel& k, const OrcTable& orc, uint64_t sp, uint64_t ip) {
  constexpr uint64_t kScanBytes = 2048;
  auto fn = k.symbols().LookupAddress(ip);
  uint64_t fn_start = fn ? fn->symbol->address : 0;
  std::optional<ScanHit> fallback;
  for (uint64_t slot = sp; slot < sp + kScanBytes; slot += 8) {
    auto v = k.ReadU64(slot);
    if (!v) break;
    uint64_t ret = *v;
    if (ret < 0xffffffff80000000ull || ret >= 0xffffffffc0000000ull) continue;
    auto sym = k.symbols().LookupAddress(ret);
    if (!sym || !sym->symbol->IsText()) continue;
    auto e = orc.Find(ret - 1);
    if (!e || e->type == OrcType::kUndefined) continue;
    std::array<std::byte, 5> insn{};
    if (!k.memory().Read(ret - 5, insn)) continue;
    if (static_cast<uint8_t>(insn[0]) != 0xe8) continue;  // call rel32
    int32_t rel;
    std::memcpy(&rel, insn.data() + 1, 4);
    uint64_t target = ret + static_cast<int64_t>(rel);
    if (fn_start && target == fn_start) return ScanHit{slot, ret, true};
    if (!fallback) fallback = ScanHit{slot, ret, false};
  }
  return fallback;
}

}  // namespace

Result<UnwindStart> BlockedTaskStart(const Kernel& k, uint64_t task) {
  CORONER_TRY(uint64_t sp, k.ReadField(task, "task_struct", "thread.sp"));
  CORONER_TRY(Field bp, k.FieldOf("inactive_task_frame", "bp"));
  CORONER_TRY(Field ret, k.FieldOf("inactive_task_frame", "ret_addr"));
  CORONER_TRY(uint64_t frame_size, k.SizeOf("inactive_task_frame"));
  UnwindStart s;
  s.task = task;
  CORONER_TRY(s.bp, k.ReadU64(sp + bp.offset));
  CORONER_TRY(s.ip, k.ReadU64(sp + ret.offset));
  s.sp = sp + frame_size;
  s.first_slot = sp;
  return s;
}

Result<Backtrace> Unwind(const Kernel& k, const OrcTable& orc, const UnwindStart& start,
                         size_t max_frames) {
  Backtrace bt;
  StackClassifier stacks(k, start.task, start.cpu);
  uint64_t ip = start.ip, sp = start.sp, bp = start.bp;
  std::optional<PtRegs> regs = start.regs;
  bool full_regs = regs.has_value();
  bool signal = start.signal;
  StackFrame first;
  first.ip = ip;
  first.slot = start.first_slot ? start.first_slot : sp;
  if (start.interrupted && regs) first.exception = regs;
  first.exact_ip = start.signal;
  bt.frames.push_back(first);
  std::string current_stack = stacks.Name(sp);
  std::set<std::pair<uint64_t, uint64_t>> seen{{ip, sp}};

  auto read = [&](uint64_t addr) -> Result<uint64_t> { return k.ReadU64(addr); };
  while (bt.frames.size() < max_frames) {
    uint64_t lookup = signal ? ip : ip - 1;
    std::optional<OrcEntry> e = orc.Find(lookup);
    if (!e) {
      bt.stopped = fmt::format("no ORC data for {:#x} ({})", ip,
                               orc.subset() && orc.Covers(lookup) ? "this triage file keeps only the ORC entries its analysis used"
                                            : "not in the kernel image or a loaded module's text");
      break;
    }
    if (e->type == OrcType::kEndOfStack) break;
    if (e->type == OrcType::kUndefined) {
      auto hit = ScanForCaller(k, orc, sp, ip);
      if (!hit) {
        bt.stopped = fmt::format("ORC has no unwind data at {:#x} and no caller was found on the stack", ip);
        break;
      }
      StackFrame f;
      f.ip = hit->ip;
      f.slot = hit->slot;
      f.scanned = true;
      f.verified = hit->verified;
      ip = hit->ip;
      sp = hit->slot + 8;
      signal = false;
      regs.reset();
      full_regs = false;
      if (!seen.insert({ip, sp}).second) break;
      bt.frames.push_back(std::move(f));
      continue;
    }
    // The CFA: the caller's stack pointer.
    uint64_t cfa = 0;
    bool ok = true;
    auto reg_value = [&](PtReg r) -> std::optional<uint64_t> {
      if (!regs || !full_regs) return std::nullopt;
      return (*regs)[r];
    };
    switch (e->sp_reg) {
      case OrcReg::kSp: cfa = sp + static_cast<int64_t>(e->sp_offset); break;
      case OrcReg::kBp: cfa = bp + static_cast<int64_t>(e->sp_offset); break;
      case OrcReg::kSpIndirect: {
        auto v = read(sp);
        if (!v) { ok = false; break; }
        cfa = *v + static_cast<int64_t>(e->sp_offset);
        break;
      }
      case OrcReg::kBpIndirect: {
        auto v = read(bp + static_cast<int64_t>(e->sp_offset));
        if (!v) { ok = false; break; }
        cfa = *v;
        break;
      }
      case OrcReg::kR10: case OrcReg::kR13: case OrcReg::kDi: case OrcReg::kDx: {
        PtReg r = e->sp_reg == OrcReg::kR10 ? kR10 : e->sp_reg == OrcReg::kR13 ? kR13
                  : e->sp_reg == OrcReg::kDi ? kDi : kDx;
        auto v = reg_value(r);
        if (!v) { ok = false; break; }
        cfa = *v;
        break;
      }
      default: ok = false;
    }
    if (!ok) {
      bt.stopped = fmt::format("cannot find the caller's stack pointer at {:#x}", ip);
      break;
    }

    StackFrame f;
    uint64_t new_ip = 0, new_sp = 0;
    bool new_signal = false;
    switch (e->type) {
      case OrcType::kCall: {
        auto r = read(cfa - 8);
        if (!r) {
          bt.stopped = fmt::format("cannot read the return address at {:#x}", cfa - 8);
          ok = false;
          break;
        }
        new_ip = *r;
        new_sp = cfa;
        f.slot = cfa - 8;
        regs.reset();
        full_regs = false;
        new_signal = orc.new_layout() ? e->signal : false;
        break;
      }
      case OrcType::kRegs:
      case OrcType::kRegsPartial: {
        uint64_t at = e->type == OrcType::kRegs ? cfa : cfa - kIretFrameOffset;
        auto pt = ReadPtRegs(k, at);
        if (!pt) {
          bt.stopped = fmt::format("cannot read the exception frame at {:#x}", at);
          ok = false;
          break;
        }
        if (pt->UserMode()) {
          if (e->type == OrcType::kRegs) bt.user_regs = *pt;
          ok = false;  // the end: user mode
          break;
        }
        new_ip = (*pt)[kIp];
        new_sp = (*pt)[kSp];
        f.slot = new_sp;
        if (e->type == OrcType::kRegs) {
          regs = *pt;
          full_regs = true;
          f.exception = *pt;
        } else {
          full_regs = false;
        }
        new_signal = true;
        break;
      }
      default:
        ok = false;
    }
    if (!ok) break;

    // The caller's frame pointer.
    switch (e->bp_reg) {
      case OrcReg::kUndefined:
        if (full_regs && regs) bp = (*regs)[kBp];
        break;
      case OrcReg::kPrevSp: {
        auto v = read(cfa + static_cast<int64_t>(e->bp_offset));
        if (v) bp = *v;
        break;
      }
      case OrcReg::kBp: {
        auto v = read(bp + static_cast<int64_t>(e->bp_offset));
        if (v) bp = *v;
        break;
      }
      default:
        break;
    }
    if (new_ip == 0) break;
    if (!seen.insert({new_ip, new_sp}).second) {
      bt.stopped = fmt::format("the stack loops at {:#x}", new_sp);
      break;
    }
    ip = new_ip;
    sp = new_sp;
    signal = new_signal;
    f.ip = ip;
    f.exact_ip = new_signal;
    std::string stack = stacks.Name(sp);
    if (stack != current_stack) {
      f.left_stack = current_stack;
      current_stack = stack;
    }
    bt.frames.push_back(std::move(f));
  }
  if (bt.frames.size() >= max_frames) bt.stopped = fmt::format("more than {} frames", max_frames);
  return bt;
}

}  // namespace coroner
