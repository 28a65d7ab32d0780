// `runq [-t]`: each CPU's run queue (runqueues per-CPU) as crash 8.0.2 prints it: the current task,
// the RT priority array (rt.active.queue[], sched_rt_entity.run_list) and the CFS tree
// (cfs.tasks_timeline, sched_entity.run_node), descending into group run queues (my_q).
// JSON also lists the deadline tree (dl.root, sched_dl_entity.rb_node). -t: each CPU's rq.clock
// and its current task's sched_info.last_arrival.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct QueuedTask {
  int prio = 0;  // the RT queue index, or task_struct.prio for CFS/DL
  TaskInfo task;
};

struct CpuRunqueue {
  int cpu = 0;
  uint64_t rq = 0;
  uint64_t current = 0;  // runqueues.curr
  const TaskInfo* current_task = nullptr;
  uint64_t rt_prio_array = 0;
  uint64_t cfs_root = 0;
  uint64_t dl_root = 0;
  std::vector<QueuedTask> rt, cfs, dl;
  uint64_t clock = 0;          // rq.clock (ns)
  uint64_t current_arrival = 0;  // the current task's sched_info.last_arrival
};

struct RunqResult {
  bool timestamps = false;  // -t
  std::vector<CpuRunqueue> cpus;
  std::vector<std::string> warnings;
};

Result<RunqResult> RunRunq(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
