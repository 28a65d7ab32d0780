// `ps`: the tasks of the dump, as crash lists them (PID PPID CPU TASK ST %MEM VSZ RSS COMM, `>`
// marking each CPU's active task, kernel threads in brackets).
// Options: -k (kernel threads), -u (user tasks), -G (thread-group leaders only), -p (the
// parents of each selected task), -c (its children), -t (run time, start time, user and system
// time, in start order), -a (the command-line arguments and environment from the task's user
// stack); arguments select tasks by PID, task address or command name.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct PsRow {
  TaskInfo task;
  double mem_percent = 0;  // rss against all physical pages, as crash
};

// ps -p / -c: a task with its ancestors (or children), indented by depth.
struct PsTree {
  std::vector<std::pair<int, TaskInfo>> lines;  // depth, task
};

// ps -t: a task's times, as crash prints them.
struct PsTimes {
  TaskInfo task;
  uint64_t run_seconds = 0;   // uptime minus the start time (whole seconds, as crash)
  uint64_t start_time = 0;    // task_struct.start_time, ns after boot
  uint64_t utime = 0, stime = 0;  // ns
};

// ps -a: the strings at mm->arg_start..arg_end and env_start..env_end, NUL-separated as the
// kernel keeps them (/proc/PID/cmdline and environ read the same bytes).
struct PsArgs {
  TaskInfo task;
  bool user_stack = false;    // false for a kernel thread ("no user stack")
  std::string args, env;      // raw bytes
  std::string error;          // a page of them could not be read
  uint64_t error_address = 0; // the user address that failed
};

struct PsResult {
  enum class Mode { kList, kParents, kChildren, kTimes, kArgs } mode = Mode::kList;
  std::vector<PsTimes> times;
  std::vector<PsArgs> args;
  std::vector<PsRow> rows;
  std::vector<PsTree> trees;
  std::vector<std::string> warnings;
};

Result<PsResult> RunPs(const Session& s, const std::vector<std::string>& args);

// Physical pages as crash's "MEMORY" counts them: every node's present pages.
Result<uint64_t> TotalPhysicalPages(const Session& s);

}  // namespace coroner
