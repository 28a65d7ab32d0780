#include "lib/kernel/tasks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <unordered_set>

namespace coroner {
namespace {

// Task state bits; the same values from 4.14 through 7.x (include/linux/sched.h).
constexpr uint64_t kInterruptible = 0x1;
constexpr uint64_t kUninterruptible = 0x2;
constexpr uint64_t kStopped = 0x4;
constexpr uint64_t kTraced = 0x8;
constexpr uint64_t kExitDead = 0x10;
constexpr uint64_t kExitZombie = 0x20;
constexpr uint64_t kParked = 0x40;
constexpr uint64_t kDead = 0x80;
constexpr uint64_t kWaking = 0x200;
constexpr uint64_t kNoLoad = 0x400;
constexpr uint64_t kNew = 0x800;

// mm_struct rss counters (enum { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES }).
constexpr int kRssCounters[] = {0, 1, 3};

struct TaskFields {
  std::string_view state;
  std::string_view cpu;
};

Result<TaskInfo> ReadOne(const Kernel& k, const TaskFields& tf, uint64_t task) {
  TaskInfo t;
  t.task = task;
  CORONER_TRY(int64_t pid, k.ReadSignedField(task, "task_struct", "pid"));
  CORONER_TRY(int64_t tgid, k.ReadSignedField(task, "task_struct", "tgid"));
  t.pid = static_cast<int32_t>(pid);
  t.tgid = static_cast<int32_t>(tgid);
  CORONER_TRY(t.state, k.ReadField(task, "task_struct", tf.state));
  CORONER_TRY(t.exit_state, k.ReadField(task, "task_struct", "exit_state"));
  CORONER_TRY(t.flags, k.ReadField(task, "task_struct", "flags"));
  CORONER_TRY(uint64_t cpu, k.ReadField(task, "task_struct", tf.cpu));
  t.cpu = static_cast<int>(cpu);
  CORONER_TRY(t.comm, k.ReadCharArray(task, "task_struct", "comm"));
  CORONER_TRY(t.mm, k.ReadField(task, "task_struct", "mm"));
  CORONER_TRY(t.parent, k.ReadField(task, "task_struct", "real_parent"));
  if (t.parent && t.parent != task && t.pid != 0) {
    auto ppid = k.ReadSignedField(t.parent, "task_struct", "tgid");
    if (ppid) t.ppid = static_cast<int32_t>(*ppid);
  }
  return t;
}

// The mm's own rss counters, in pages: atomic_long_t count[] before 6.2, percpu_counter[] after
// (count plus every CPU's unflushed delta).
Result<int64_t> MmCounter(const Kernel& k, uint64_t mm, int counter) {
  if (k.HasField("mm_struct", "rss_stat.count")) {
    CORONER_TRY(Field arr, k.FieldOf("mm_struct", "rss_stat.count"));
    CORONER_TRY(uint64_t v, k.ReadU64(mm + arr.offset + 8 * static_cast<uint64_t>(counter)));
    return static_cast<int64_t>(v);
  }
  CORONER_TRY(Field arr, k.FieldOf("mm_struct", "rss_stat"));
  CORONER_TRY(uint64_t pc_size, k.SizeOf("percpu_counter"));
  uint64_t pc = mm + arr.offset + pc_size * static_cast<uint64_t>(counter);
  CORONER_TRY(int64_t count, k.ReadSignedField(pc, "percpu_counter", "count"));
  CORONER_TRY(uint64_t counters, k.ReadField(pc, "percpu_counter", "counters"));
  CORONER_TRY(int cpus, k.PossibleCpus());
  for (int cpu = 0; cpu < cpus; ++cpu) {
    CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
    CORONER_TRY(uint32_t delta, k.ReadU32(counters + off));
    count += static_cast<int32_t>(delta);
  }
  return count;
}

}  // namespace

std::string TaskStateName(uint64_t state, uint64_t exit_state) {
  uint64_t s = state | exit_state;
  if (s == 0) return "RU";
  if (s & kInterruptible) return "IN";
  if (s & kUninterruptible) return (s & kNoLoad) ? "ID" : "UN";
  if (s & kExitZombie) return "ZO";
  if (s & kStopped) return "ST";
  if (s & kTraced) return "TR";
  if (s & (kExitDead | kDead)) return "DE";
  if (s & kWaking) return "WA";
  if (s & kParked) return "PA";
  if (s & kNew) return "NE";
  return "??";
}

std::string TaskInfo::StateName() const { return TaskStateName(state, exit_state); }

const TaskInfo* TaskList::FindTask(uint64_t task) const {
  for (const TaskInfo& t : tasks) {
    if (t.task == task) return &t;
  }
  return nullptr;
}

std::vector<const TaskInfo*> TaskList::FindPid(int32_t pid) const {
  std::vector<const TaskInfo*> out;
  for (const TaskInfo& t : tasks) {
    if (t.pid == pid) out.push_back(&t);
  }
  return out;
}

std::vector<const TaskInfo*> TaskList::Match(const std::string& selector, bool by_comm) const {
  auto parse = [](const std::string& text, int base, uint64_t& out) {
    if (text.empty()) return false;
    char* end = nullptr;
    errno = 0;
    out = std::strtoull(text.c_str(), &end, base);
    return errno == 0 && end && *end == '\0';
  };
  uint64_t v = 0;
  std::vector<const TaskInfo*> hits;
  if (parse(selector, 10, v)) hits = FindPid(static_cast<int32_t>(v));
  if (hits.empty()) {
    std::string hex = selector.rfind("0x", 0) == 0 ? selector.substr(2) : selector;
    if (parse(hex, 16, v)) {
      if (const TaskInfo* t = FindTask(v)) hits.push_back(t);
    }
  }
  if (hits.empty() && by_comm) {
    std::string name = selector;
    if (name.size() > 1 && name.front() == '\'' && name.back() == '\'') name = name.substr(1, name.size() - 2);
    for (const TaskInfo& t : tasks) {
      if (t.comm == name) hits.push_back(&t);
    }
  }
  return hits;
}

Result<TaskList> ReadTasks(const Kernel& k) {
  TaskFields tf;
  CORONER_TRY(tf.state, k.FirstField("task_struct", {"__state", "state"}));
  CORONER_TRY(tf.cpu, k.FirstField("task_struct", {"cpu", "thread_info.cpu"}));
  CORONER_TRY(uint64_t init_task, k.SymbolAddress("init_task"));

  TaskList out;
  CORONER_TRY(out.cpus, k.PossibleCpus());
  std::unordered_set<uint64_t> seen;

  // Processes: init_task and its tasks list; threads: each process's signal->thread_head.
  CORONER_TRY(uint64_t tasks_head, k.FieldAddress(init_task, "task_struct", "tasks"));
  CORONER_TRY(std::vector<uint64_t> procs, k.ListEntries(tasks_head, "task_struct", "tasks"));
  procs.insert(procs.begin(), init_task);
  bool thread_head = k.HasField("signal_struct", "thread_head");
  for (uint64_t p : procs) {
    std::vector<uint64_t> threads;
    if (p != init_task && thread_head) {
      auto sig = k.ReadField(p, "task_struct", "signal");
      Result<std::vector<uint64_t>> list = sig ? [&]() -> Result<std::vector<uint64_t>> {
        CORONER_TRY(uint64_t head, k.FieldAddress(*sig, "signal_struct", "thread_head"));
        return k.ListEntries(head, "task_struct", "thread_node");
      }() : Result<std::vector<uint64_t>>(sig.error());
      if (list) {
        threads = std::move(*list);
      } else {
        out.warnings.push_back(fmt::format("threads of task {:#x}: {}", p, list.error().ToString()));
      }
    } else if (p != init_task) {
      // Before 3.14: the thread_group list.
      auto list = [&]() -> Result<std::vector<uint64_t>> {
        CORONER_TRY(uint64_t head, k.FieldAddress(p, "task_struct", "thread_group"));
        CORONER_TRY(auto v, k.ListEntries(head, "task_struct", "thread_group"));
        v.insert(v.begin(), p);
        return v;
      }();
      if (list) threads = std::move(*list);
    }
    if (threads.empty()) threads.push_back(p);
    for (uint64_t t : threads) {
      if (!seen.insert(t).second) continue;
      auto info = ReadOne(k, tf, t);
      if (!info) {
        out.warnings.push_back(fmt::format("task {:#x}: {}", t, info.error().ToString()));
        continue;
      }
      out.tasks.push_back(std::move(*info));
    }
  }

  // Each CPU's idle and current task.
  out.active.assign(static_cast<size_t>(out.cpus), 0);
  for (int cpu = 0; cpu < out.cpus; ++cpu) {
    auto rq = k.PerCpuAddress("runqueues", cpu);
    if (!rq) {
      out.warnings.push_back(fmt::format("runqueue of CPU {}: {}", cpu, rq.error().ToString()));
      continue;
    }
    auto idle = k.ReadField(*rq, "rq", "idle");
    auto curr = k.ReadField(*rq, "rq", "curr");
    if (curr) out.active[static_cast<size_t>(cpu)] = *curr;
    if (!idle || *idle == 0) continue;
    if (seen.insert(*idle).second) {
      auto info = ReadOne(k, tf, *idle);
      if (info) out.tasks.push_back(std::move(*info));
    }
    for (TaskInfo& t : out.tasks) {
      if (t.task == *idle) {
        t.idle = true;
        t.cpu = cpu;
      }
    }
  }
  // An active task missing from the lists (exiting, or a corrupt list) is still shown.
  for (int cpu = 0; cpu < out.cpus; ++cpu) {
    uint64_t a = out.active[static_cast<size_t>(cpu)];
    if (a && seen.insert(a).second) {
      auto info = ReadOne(k, tf, a);
      if (info) out.tasks.push_back(std::move(*info));
    }
  }
  for (TaskInfo& t : out.tasks) {
    for (uint64_t a : out.active) {
      if (a == t.task) t.active = true;
    }
  }

  // Memory use per mm: total_vm, and rss from the mm's counters plus (before 6.2) each thread's
  // unflushed task->rss_stat, as get_mm_rss and /proc's statm do.
  std::map<uint64_t, std::pair<uint64_t, int64_t>> mm_usage;
  for (const TaskInfo& t : out.tasks) {
    if (!t.mm || mm_usage.count(t.mm)) continue;
    auto total = k.ReadField(t.mm, "mm_struct", "total_vm");
    int64_t rss = 0;
    for (int c : kRssCounters) {
      auto v = MmCounter(k, t.mm, c);
      if (v) rss += *v;
    }
    mm_usage[t.mm] = {total.value_or(0), rss};
  }
  if (k.HasField("task_struct", "rss_stat.count")) {
    auto f = k.FieldOf("task_struct", "rss_stat.count");
    for (const TaskInfo& t : out.tasks) {
      if (!t.mm) continue;
      for (int c : kRssCounters) {
        auto v = k.ReadU32(t.task + f->offset + 4 * static_cast<uint64_t>(c));
        if (v) mm_usage[t.mm].second += static_cast<int32_t>(*v);
      }
    }
  }
  for (TaskInfo& t : out.tasks) {
    if (!t.mm) continue;
    auto [total, rss] = mm_usage[t.mm];
    t.total_vm = total;
    t.rss = rss > 0 ? static_cast<uint64_t>(rss) : 0;
  }

  std::stable_sort(out.tasks.begin(), out.tasks.end(), [](const TaskInfo& a, const TaskInfo& b) {
    if (a.pid != b.pid) return a.pid < b.pid;
    return a.cpu < b.cpu;
  });
  return out;
}

}  // namespace coroner
