// The kernel's tasks: every thread of every process (init_task.tasks, then each process's
// signal->thread_head), plus the idle task of each CPU (runqueues.idle), with what `ps` shows.
// The active task of each CPU comes from runqueues.curr.
//
//   Kernel k(...);
//   CORONER_TRY(TaskList tl, ReadTasks(k));
//   for (const TaskInfo& t : tl.tasks) ... t.pid, t.comm, t.StateName() ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/kernel/kernel.h"

namespace coroner {

struct TaskInfo {
  uint64_t task = 0;     // struct task_struct address
  int32_t pid = 0;
  int32_t tgid = 0;
  int32_t ppid = 0;      // real_parent's tgid, as /proc/PID/stat reports it
  uint64_t parent = 0;   // real_parent task
  int cpu = 0;
  uint64_t state = 0;    // __state (state before 5.14)
  uint64_t exit_state = 0;
  uint64_t flags = 0;    // PF_*
  std::string comm;
  uint64_t mm = 0;       // 0 for kernel threads
  bool active = false;   // runqueues.curr of its CPU
  bool idle = false;     // the idle task (swapper/N) of its CPU
  // Memory, in pages; 0 for kernel threads.
  uint64_t total_vm = 0;
  uint64_t rss = 0;

  bool IsKernelThread() const { return mm == 0; }
  // crash's two-letter state: RU IN UN ZO ST TR DE PA WA ID NE.
  std::string StateName() const;
};

struct TaskList {
  std::vector<TaskInfo> tasks;  // sorted by PID, then CPU for the idle tasks
  std::vector<uint64_t> active;  // runqueues.curr per CPU (index = CPU)
  int cpus = 0;
  // Problems that cost some tasks but not the walk (a process whose thread list is unreadable).
  std::vector<std::string> warnings;

  const TaskInfo* FindTask(uint64_t task) const;
  std::vector<const TaskInfo*> FindPid(int32_t pid) const;
  // The tasks a crash-style argument names: a decimal PID (PID 0 names every CPU's idle task),
  // else a task address in hex (0x optional), else, with by_comm, a command name.
  std::vector<const TaskInfo*> Match(const std::string& selector, bool by_comm) const;
};

Result<TaskList> ReadTasks(const Kernel& k);

// crash's state name for raw __state and exit_state values.
std::string TaskStateName(uint64_t state, uint64_t exit_state);

}  // namespace coroner
