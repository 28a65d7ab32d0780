// Kernel stack unwinding with the ORC tables from kernel memory, as the kernel's own
// unwind_orc.c does it: CALL frames (return address below the CFA), REGS frames (a full pt_regs
// from an exception or interrupt entry) and REGS_PARTIAL frames (an iret frame), across the
// IRQ and exception stacks, ending at the user-mode registers or the end-of-stack entry.
//
//   CORONER_TRY(UnwindStart start, BlockedTaskStart(k, task));   // or StartFromRegs(prstatus)
//   CORONER_TRY(Backtrace bt, Unwind(k, orc, start));
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/kernel/kernel.h"
#include "lib/kernel/orc.h"

namespace coroner {

// struct pt_regs, x86_64, in memory order.
enum PtReg : int {
  kR15, kR14, kR13, kR12, kBp, kBx, kR11, kR10, kR9, kR8, kAx, kCx, kDx, kSi, kDi, kOrigAx,
  kIp, kCs, kFlags, kSp, kSs, kNumPtRegs,
};
struct PtRegs {
  std::array<uint64_t, kNumPtRegs> r{};
  uint64_t operator[](PtReg i) const { return r[static_cast<size_t>(i)]; }
  bool UserMode() const { return (r[kCs] & 3) != 0; }
};
inline constexpr uint64_t kPtRegsSize = 8 * kNumPtRegs;

struct StackFrame {
  uint64_t ip = 0;
  uint64_t slot = 0;  // where ip was read from the stack (crash's bracketed address); sp for #0
  // Set when ip came from an exception or interrupt frame: the interrupted registers.
  std::optional<PtRegs> exception;
  // Set on the first frame after the unwinder left a stack other than the task's:
  // "IRQ" or "exception" (crash prints "--- <IRQ stack> ---").
  std::string left_stack;
  // Found by scanning the stack where ORC had no data (the function is STACK_FRAME_NON_STANDARD,
  // e.g. __crash_kexec): `verified` when the call before the return address targets the
  // function being left, so the frame is certain; else crash's and the kernel's "?" frame.
  bool scanned = false;
  bool verified = false;
  // ip is where execution was (an exception or interrupt RIP, or the registers the unwind
  // started from), not a return address: its source line is ip's own, not ip - 1's.
  bool exact_ip = false;
};

struct Backtrace {
  std::vector<StackFrame> frames;
  std::optional<PtRegs> user_regs;  // the user-mode registers at the bottom of the stack
  std::string stopped;              // why the unwind ended early; "" when it reached the end
};

struct UnwindStart {
  uint64_t ip = 0;
  uint64_t sp = 0;
  uint64_t bp = 0;
  std::optional<PtRegs> regs;  // full registers (a PRSTATUS note)
  bool signal = false;         // ip is exact (not a return address)
  bool interrupted = false;    // regs are an interrupted context (an NMI on a non-panic CPU)
  uint64_t first_slot = 0;     // the bracketed address of frame #0 (crash: thread.sp); 0 = sp
  uint64_t task = 0;           // for the task-stack bounds
  int cpu = -1;                // for the IRQ-stack bounds
};

// The saved context of a task that is not running: its inactive_task_frame at thread.sp.
Result<UnwindStart> BlockedTaskStart(const Kernel& k, uint64_t task);

Result<Backtrace> Unwind(const Kernel& k, const OrcTable& orc, const UnwindStart& start,
                         size_t max_frames = 256);

}  // namespace coroner
