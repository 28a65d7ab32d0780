// `bt`: kernel stack backtraces with the ORC tables in the dump (no vmlinux needed), in crash's
// layout. The active task of a CPU starts from that CPU's registers in the dump's PRSTATUS note;
// any other task from its saved context (thread.sp). Options: -a (the active task of every
// CPU), -c CPU, -s (symbol+offset), -f (each frame's stack words), -t (every text address on
// the stack, as crash lists them), -l (source file and line of each frame; needs the vmlinux's
// DWARF), PID or task address arguments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/unwind.h"

namespace coroner {

struct BtFrame {
  StackFrame frame;
  std::string symbol;  // "" when no symbol covers the address
  uint64_t offset = 0;
  // For an exception frame whose RIP is a BUG()/WARN() ud2: "kernel BUG at mm/slub.c:123!".
  std::string bug;
  // bt -l: "file: line" of the frame's address (ip, or ip - 1 for a return address), and of the
  // exception RIP for an exception frame; "" where the line tables have none (module text).
  std::string line;
  // bt -f: the stack words from just above this frame's slot up to the next frame's slot.
  uint64_t data_start = 0;
  std::vector<uint64_t> data;
};

// bt -t: a kernel text address found on the stack.
struct StackTextHit {
  uint64_t slot = 0;
  uint64_t value = 0;
  std::string symbol;
};

struct BtTask {
  TaskInfo task;
  std::string start;   // "PRSTATUS registers of CPU 1" or "saved context (thread.sp)"
  std::vector<BtFrame> frames;
  std::optional<PtRegs> user_regs;
  std::string stopped;
  std::string error;   // the backtrace could not start
  std::vector<StackTextHit> text;  // bt -t
};

struct BtResult {
  bool offsets = false;  // -s
  bool frame_data = false;  // -f
  bool text_scan = false;   // -t
  bool lines = false;       // -l
  std::vector<BtTask> tasks;
};

Result<BtResult> RunBt(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
