#include "lib/commands/runq.h"

#include <fmt/format.h>

#include "lib/kernel/containers.h"

namespace coroner {
namespace {

constexpr int kMaxGroupDepth = 32;

struct Walker {
  const Kernel& k;
  const TaskList& tl;
  RunqResult& r;

  void Add(std::vector<QueuedTask>& out, uint64_t task, int prio) {
    const TaskInfo* t = tl.FindTask(task);
    if (!t) {
      r.warnings.push_back(fmt::format("run queue entry {:#x} is not a known task", task));
      return;
    }
    out.push_back({prio, *t});
  }

  Result<int> TaskPrio(uint64_t task) {
    CORONER_TRY(int64_t prio, k.ReadSignedField(task, "task_struct", "prio"));
    return static_cast<int>(prio);
  }

  // The tasks of a cfs_rq: its tree in order, a group entity's own queue in its place.
  Result<void> Cfs(uint64_t cfs_rq, std::vector<QueuedTask>& out, int depth) {
    if (depth > kMaxGroupDepth) return Error(ErrorCode::kRecursion, fmt::format("cfs_rq {:#x}: groups nest too deep", cfs_rq));
    CORONER_TRY(Field se_f, k.FieldOf("task_struct", "se"));
    CORONER_TRY(Field node_f, k.FieldOf("sched_entity", "run_node"));
    bool groups = k.HasField("sched_entity", "my_q");
    if (groups) {
      // The running group entity is not in the tree (crash's dump_tasks_in_cfs_rq).
      CORONER_TRY(uint64_t curr, k.ReadField(cfs_rq, "cfs_rq", "curr"));
      if (curr) {
        CORONER_TRY(uint64_t my_q, k.ReadField(curr, "sched_entity", "my_q"));
        if (my_q) CORONER_TRY_VOID(Cfs(my_q, out, depth + 1));
      }
    }
    CORONER_TRY(uint64_t root, k.FieldAddress(cfs_rq, "cfs_rq", "tasks_timeline"));
    CORONER_TRY(std::vector<uint64_t> nodes, RbTreeNodes(k, root, 1 << 16));
    for (uint64_t n : nodes) {
      uint64_t se = n - node_f.offset;
      if (groups) {
        CORONER_TRY(uint64_t my_q, k.ReadField(se, "sched_entity", "my_q"));
        if (my_q) {
          CORONER_TRY_VOID(Cfs(my_q, out, depth + 1));
          continue;
        }
      }
      uint64_t task = se - se_f.offset;
      CORONER_TRY(int prio, TaskPrio(task));
      Add(out, task, prio);
    }
    return Ok();
  }

  // rt_prio_array.queue[]: one list of sched_rt_entity.run_list per priority.
  Result<void> Rt(uint64_t prio_array, std::vector<QueuedTask>& out, int depth) {
    if (depth > kMaxGroupDepth) return Error(ErrorCode::kRecursion, "rt_rq groups nest too deep");
    CORONER_TRY(Field queue, k.FieldOf("rt_prio_array", "queue"));
    const Type& qt = k.types().Get(k.types().Resolve(queue.type));
    if (qt.kind != TypeKind::kArray || !qt.count) {
      return Error(ErrorCode::kBadData, "rt_prio_array.queue is not an array in the kernel's types");
    }
    CORONER_TRY(uint64_t lh_size, k.SizeOf("list_head"));
    CORONER_TRY(Field rt_f, k.FieldOf("task_struct", "rt"));
    bool groups = k.HasField("sched_rt_entity", "my_q");
    for (uint64_t i = 0; i < qt.count; ++i) {
      uint64_t head = prio_array + queue.offset + i * lh_size;
      CORONER_TRY(std::vector<uint64_t> ents, k.ListEntries(head, "sched_rt_entity", "run_list", 1 << 16));
      for (uint64_t rt_se : ents) {
        if (groups) {
          CORONER_TRY(uint64_t my_q, k.ReadField(rt_se, "sched_rt_entity", "my_q"));
          if (my_q) {
            CORONER_TRY(uint64_t active, k.FieldAddress(my_q, "rt_rq", "active"));
            CORONER_TRY_VOID(Rt(active, out, depth + 1));
            continue;
          }
        }
        Add(out, rt_se - rt_f.offset, static_cast<int>(i));
      }
    }
    return Ok();
  }

  Result<void> Dl(uint64_t root, std::vector<QueuedTask>& out) {
    CORONER_TRY(Field dl_f, k.FieldOf("task_struct", "dl"));
    CORONER_TRY(Field node_f, k.FieldOf("sched_dl_entity", "rb_node"));
    CORONER_TRY(std::vector<uint64_t> nodes, RbTreeNodes(k, root, 1 << 16));
    for (uint64_t n : nodes) {
      uint64_t task = n - node_f.offset - dl_f.offset;
      CORONER_TRY(int prio, TaskPrio(task));
      Add(out, task, prio);
    }
    return Ok();
  }
};

}  // namespace

Result<RunqResult> RunRunq(const Session& s, const std::vector<std::string>& args) {
  RunqResult r;
  for (const std::string& a : args) {
    if (a == "-t") {
      r.timestamps = true;
    } else {
      return Error(ErrorCode::kUnsupported, fmt::format("runq {}: only -t is supported yet", a));
    }
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(const TaskList* tl, s.Tasks());
  CORONER_TRY(int cpus, k->PossibleCpus());
  Walker w{*k, *tl, r};
  for (int cpu = 0; cpu < cpus; ++cpu) {
    CpuRunqueue q;
    q.cpu = cpu;
    CORONER_TRY(q.rq, k->PerCpuAddress("runqueues", cpu));
    CORONER_TRY(q.current, k->ReadField(q.rq, "rq", "curr"));
    q.current_task = tl->FindTask(q.current);
    CORONER_TRY(q.clock, k->ReadField(q.rq, "rq", "clock"));
    if (q.current) {
      CORONER_TRY(q.current_arrival, k->ReadField(q.current, "task_struct", "sched_info.last_arrival"));
    }
    CORONER_TRY(uint64_t rt_rq, k->FieldAddress(q.rq, "rq", "rt"));
    CORONER_TRY(q.rt_prio_array, k->FieldAddress(rt_rq, "rt_rq", "active"));
    CORONER_TRY(uint64_t cfs_rq, k->FieldAddress(q.rq, "rq", "cfs"));
    CORONER_TRY(q.cfs_root, k->FieldAddress(cfs_rq, "cfs_rq", "tasks_timeline"));
    CORONER_TRY(uint64_t dl_rq, k->FieldAddress(q.rq, "rq", "dl"));
    CORONER_TRY(q.dl_root, k->FieldAddress(dl_rq, "dl_rq", "root"));
    auto ctx = [&](const char* what) { return fmt::format("CPU {} {}", cpu, what); };
    if (auto v = w.Rt(q.rt_prio_array, q.rt, 0); !v) return std::move(v).error().WithContext(ctx("RT queue"));
    if (auto v = w.Cfs(cfs_rq, q.cfs, 0); !v) return std::move(v).error().WithContext(ctx("CFS queue"));
    if (auto v = w.Dl(q.dl_root, q.dl); !v) return std::move(v).error().WithContext(ctx("deadline queue"));
    r.cpus.push_back(std::move(q));
  }
  return r;
}

}  // namespace coroner
