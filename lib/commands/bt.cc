#include "lib/commands/bt.h"

#include <fmt/format.h>

#include <cstdlib>

#include "lib/arch/x86_64.h"

namespace coroner {
namespace {

// PRSTATUS notes, one per CPU in CPU order, as the kernel's crash_save_cpu writes them.
std::vector<CpuRegisters> PrstatusNotes(const Session& s) {
  std::vector<CpuRegisters> out;
  for (const ElfNote& n : s.dump().info.notes) {
    if (auto r = DecodeX86_64Prstatus(n)) out.push_back(std::move(*r));
  }
  return out;
}

PtRegs FromPrstatus(const CpuRegisters& c) {
  static constexpr std::pair<const char*, PtReg> kMap[] = {
      {"r15", kR15}, {"r14", kR14}, {"r13", kR13}, {"r12", kR12}, {"rbp", kBp}, {"rbx", kBx},
      {"r11", kR11}, {"r10", kR10}, {"r9", kR9},   {"r8", kR8},   {"rax", kAx}, {"rcx", kCx},
      {"rdx", kDx},  {"rsi", kSi},  {"rdi", kDi},  {"orig_rax", kOrigAx}, {"rip", kIp},
      {"cs", kCs},   {"eflags", kFlags}, {"rsp", kSp}, {"ss", kSs}};
  PtRegs r;
  for (const auto& [name, idx] : kMap) r.r[static_cast<size_t>(idx)] = c.Get(name).value_or(0);
  return r;
}

int PanicCpu(const Kernel& k) {
  if (auto pc = k.SymbolAddress("panic_cpu")) {
    if (auto v = k.ReadU32(*pc)) return static_cast<int32_t>(*v);
  }
  return -1;
}

}  // namespace

Result<BtResult> RunBt(const Session& s, const std::vector<std::string>& args) {
  BtResult r;
  bool all = false;
  std::optional<int> cpu_arg;
  std::vector<std::string> selectors;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-a") {
      all = true;
    } else if (a == "-s") {
      r.offsets = true;
    } else if (a == "-f") {
      r.frame_data = true;
    } else if (a == "-t") {
      r.text_scan = true;
    } else if (a == "-l") {
      r.lines = true;
    } else if (a == "-c") {
      if (i + 1 >= args.size()) return Error(ErrorCode::kInvalidArgument, "-c needs a CPU number");
      char* end = nullptr;
      long v = std::strtol(args[++i].c_str(), &end, 10);
      if (!end || *end || v < 0) return Error(ErrorCode::kInvalidArgument, fmt::format("bad CPU: {}", args[i]));
      cpu_arg = static_cast<int>(v);
    } else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else {
      selectors.push_back(a);
    }
  }
  if (r.lines && !s.HasLineInfo()) {
    return Error(ErrorCode::kUnsupported,
                 "bt -l needs source line tables, which only a vmlinux with DWARF has; none is loaded "
                 "(give it after the dump, or install the kernel's -dbg package)");
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(const TaskList* tl, s.Tasks());
  CORONER_TRY(const OrcTable* orc, s.Orc());
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  std::vector<CpuRegisters> notes = PrstatusNotes(s);
  int panic_cpu = PanicCpu(*k);

  // Which tasks: -a every CPU's active task, -c one CPU's, arguments, else the panic task.
  std::vector<const TaskInfo*> chosen;
  auto active_on = [&](int cpu) -> const TaskInfo* {
    if (cpu < 0 || static_cast<size_t>(cpu) >= tl->active.size()) return nullptr;
    return tl->FindTask(tl->active[static_cast<size_t>(cpu)]);
  };
  if (all) {
    for (int c = 0; c < tl->cpus; ++c) {
      if (const TaskInfo* t = active_on(c)) chosen.push_back(t);
    }
  } else if (cpu_arg) {
    const TaskInfo* t = active_on(*cpu_arg);
    if (!t) return Error(ErrorCode::kInvalidArgument, fmt::format("no active task on CPU {}", *cpu_arg));
    chosen.push_back(t);
  } else if (!selectors.empty()) {
    CORONER_TRY(chosen, SelectTasks(s, selectors));
  } else {
    CORONER_TRY(const TaskInfo* t, s.ContextTask());
    chosen.push_back(t);
  }

  for (const TaskInfo* t : chosen) {
    BtTask bt;
    bt.task = *t;
    Result<UnwindStart> start = Error(ErrorCode::kNotFound, "");
    if (t->active && static_cast<size_t>(t->cpu) < notes.size()) {
      const CpuRegisters& c = notes[static_cast<size_t>(t->cpu)];
      UnwindStart us;
      PtRegs regs = FromPrstatus(c);
      us.ip = regs[kIp];
      us.sp = regs[kSp];
      us.bp = regs[kBp];
      us.regs = regs;
      us.signal = true;
      us.interrupted = t->cpu != panic_cpu;
      us.task = t->task;
      us.cpu = t->cpu;
      start = us;
      bt.start = fmt::format("PRSTATUS registers of CPU {}", t->cpu);
    } else {
      start = BlockedTaskStart(*k, t->task);
      if (start) start->cpu = t->cpu;
      bt.start = "saved context (thread.sp)";
    }
    if (!start) {
      bt.error = start.error().ToString();
      r.tasks.push_back(std::move(bt));
      continue;
    }
    auto unwound = Unwind(*k, *orc, *start);
    if (!unwound) {
      bt.error = unwound.error().ToString();
      r.tasks.push_back(std::move(bt));
      continue;
    }
    for (StackFrame& f : unwound->frames) {
      BtFrame bf;
      bf.frame = std::move(f);
      if (bf.frame.exception) {
        if (auto bugs = s.Bugs()) {
          if (auto b = (*bugs)->Find(bf.frame.ip)) bf.bug = b->Describe();
        }
      }
      // A return address is named by the call before it, as the kernel's own traces (%pB) do:
      // a call that never returns may end its function, leaving the return address at the
      // start of the next one (6.12: panic's call to vpanic, "panic+0x6c/0x6c").
      uint64_t named = bf.frame.exact_ip || bf.frame.ip == 0 ? bf.frame.ip : bf.frame.ip - 1;
      if (auto m = syms->LookupAddress(named)) {
        bf.symbol = std::string(m->symbol->name);
        bf.offset = bf.frame.ip - m->symbol->address;
      }
      if (r.lines) {
        uint64_t at = bf.frame.exact_ip ? bf.frame.ip : bf.frame.ip - 1;
        if (auto line = s.LineAt(at)) bf.line = fmt::format("{}: {}", line->file, line->line);
      }
      bt.frames.push_back(std::move(bf));
    }
    bt.user_regs = unwound->user_regs;
    bt.stopped = unwound->stopped;
    if (r.frame_data) {
      // Each frame's words: above its slot, up to and including the next frame's slot, while
      // both are on one stack.
      for (size_t i = 0; i + 1 < bt.frames.size(); ++i) {
        uint64_t from = bt.frames[i].frame.slot + 8, to = bt.frames[i + 1].frame.slot;
        if (to < from || to - from > 16384 || !bt.frames[i + 1].frame.left_stack.empty()) continue;
        bt.frames[i].data_start = from;
        for (uint64_t a = from; a <= to; a += 8) {
          auto v = k->ReadU64(a);
          if (!v) break;
          bt.frames[i].data.push_back(*v);
        }
      }
    }
    if (r.text_scan && !bt.frames.empty()) {
      // From frame #0's slot to the top of the task's stack, short of its user pt_regs.
      uint64_t from = bt.frames[0].frame.slot;
      auto stack = k->ReadField(t->task, "task_struct", "stack");
      uint64_t top = stack ? *stack + 16384 - kPtRegsSize : from;
      if (from > top || top - from > 16384) top = from;
      for (uint64_t a = from; a < top; a += 8) {
        auto v = k->ReadU64(a);
        if (!v) break;
        if (*v < 0xffffffff80000000ull || *v >= 0xffffffffc0000000ull) continue;
        auto m = syms->LookupAddress(*v);
        if (!m || !m->symbol->IsText()) continue;
        bt.text.push_back({a, *v, std::string(m->symbol->name)});
      }
    }
    r.tasks.push_back(std::move(bt));
  }
  return r;
}

}  // namespace coroner
