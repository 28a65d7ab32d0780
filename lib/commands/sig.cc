#include "lib/commands/sig.h"

#include <fmt/format.h>

#include "lib/commands/fs_commands.h"

namespace coroner {
namespace {

constexpr int kSigRtMax = 64;        // _NSIG on x86_64
constexpr uint64_t kTifSigpending = 1u << 2;  // TIF_SIGPENDING, arch/x86/include/asm/thread_info.h

Result<std::vector<QueuedSignal>> Queue(const Kernel& k, uint64_t sigpending) {
  CORONER_TRY(uint64_t head, k.FieldAddress(sigpending, "sigpending", "list"));
  CORONER_TRY(std::vector<uint64_t> qs, k.ListEntries(head, "sigqueue", "list", 1 << 16));
  std::vector<QueuedSignal> out;
  for (uint64_t q : qs) {
    QueuedSignal s;
    CORONER_TRY(int64_t signo, k.ReadSignedField(q, "sigqueue", "info.si_signo"));
    s.signal = static_cast<int>(signo);
    CORONER_TRY(s.siginfo, k.FieldAddress(q, "sigqueue", "info"));
    out.push_back(s);
  }
  return out;
}

}  // namespace

std::string SigactionFlagNames(uint64_t flags) {
  // include/uapi/asm-generic/signal-defs.h and arch/x86 (SA_RESTORER), in crash's order.
  static constexpr std::pair<uint64_t, const char*> kNames[] = {
      {0x1, "SA_NOCLDSTOP"},      {0x04000000, "SA_RESTORER"}, {0x2, "SA_NOCLDWAIT"},
      {0x4, "SA_SIGINFO"},        {0x08000000, "SA_ONSTACK"},  {0x10000000, "SA_RESTART"},
      {0x40000000, "SA_NODEFER"}, {0x80000000, "SA_RESETHAND"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) out += (out.empty() ? "(" : "|") + std::string(name);
  }
  if (!out.empty()) out += ")";
  return out;
}

Result<SigResult> RunSig(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, args));
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(Field action, k->FieldOf("sighand_struct", "action"));
  CORONER_TRY(uint64_t ksa_size, k->SizeOf("k_sigaction"));
  SigResult r;
  for (const TaskInfo* t : tasks) {
    TaskSignals ts;
    ts.task = *t;
    CORONER_TRY(ts.signal_struct, k->ReadField(t->task, "task_struct", "signal"));
    if (ts.signal_struct) {
      CORONER_TRY(ts.nr_threads, k->ReadSignedField(ts.signal_struct, "signal_struct", "nr_threads"));
    }
    CORONER_TRY(uint64_t sighand, k->ReadField(t->task, "task_struct", "sighand"));
    if (sighand) {
      for (int sig = 1; sig <= kSigRtMax; ++sig) {
        SigAction a;
        a.signal = sig;
        a.k_sigaction = sighand + action.offset + ksa_size * static_cast<uint64_t>(sig - 1);
        CORONER_TRY(a.handler, k->ReadField(a.k_sigaction, "k_sigaction", "sa.sa_handler"));
        CORONER_TRY(a.flags, k->ReadField(a.k_sigaction, "k_sigaction", "sa.sa_flags"));
        CORONER_TRY(Field mask, k->FieldOf("k_sigaction", "sa.sa_mask"));
        CORONER_TRY(a.mask, k->ReadU64(a.k_sigaction + mask.offset));
        ts.actions.push_back(a);
      }
    }
    CORONER_TRY(std::string_view ti_flags, k->FirstField("task_struct", {"thread_info.flags"}));
    CORONER_TRY(uint64_t tif, k->ReadField(t->task, "task_struct", ti_flags));
    ts.sigpending = tif & kTifSigpending;
    CORONER_TRY(Field blocked, k->FieldOf("task_struct", "blocked"));
    CORONER_TRY(ts.blocked, k->ReadU64(t->task + blocked.offset));
    CORONER_TRY(uint64_t pending, k->FieldAddress(t->task, "task_struct", "pending"));
    CORONER_TRY(Field set, k->FieldOf("sigpending", "signal"));
    CORONER_TRY(ts.private_pending, k->ReadU64(pending + set.offset));
    CORONER_TRY(ts.private_queue, Queue(*k, pending));
    if (ts.signal_struct) {
      CORONER_TRY(uint64_t shared, k->FieldAddress(ts.signal_struct, "signal_struct", "shared_pending"));
      CORONER_TRY(ts.shared_pending, k->ReadU64(shared + set.offset));
      CORONER_TRY(ts.shared_queue, Queue(*k, shared));
    }
    r.tasks.push_back(std::move(ts));
  }
  return r;
}

}  // namespace coroner
