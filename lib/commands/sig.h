// `sig [PID|TASK]...`: a task's signal state as crash 8.0.2 prints it: the thread group's
// handlers (sighand->action[]: handler, mask, flags), whether a signal is pending
// (TIF_SIGPENDING), the blocked set, and the private (task->pending) and shared
// (signal->shared_pending) pending sets with their queued siginfos.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct SigAction {
  int signal = 0;
  uint64_t k_sigaction = 0;  // the kernel address of sighand->action[signal - 1]
  uint64_t handler = 0;      // 0 SIG_DFL, 1 SIG_IGN, ~0 SIG_ERR, else a user address
  uint64_t mask = 0;         // sa_mask (first word)
  uint64_t flags = 0;        // sa_flags
};

struct QueuedSignal {
  int signal = 0;
  uint64_t siginfo = 0;  // the queued sigqueue's info
};

struct TaskSignals {
  TaskInfo task;
  uint64_t signal_struct = 0;
  int64_t nr_threads = 0;
  std::vector<SigAction> actions;  // 1..64
  bool sigpending = false;
  uint64_t blocked = 0;
  uint64_t private_pending = 0;
  std::vector<QueuedSignal> private_queue;
  uint64_t shared_pending = 0;
  std::vector<QueuedSignal> shared_queue;
};

struct SigResult {
  std::vector<TaskSignals> tasks;
};

Result<SigResult> RunSig(const Session& s, const std::vector<std::string>& args);

// crash's sa_flags names: "(SA_RESTORER|SA_RESTART)"; empty for no flags.
std::string SigactionFlagNames(uint64_t flags);

}  // namespace coroner
