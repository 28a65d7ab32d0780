#include "lib/commands/ps.h"
#include "lib/commands/kmem.h"
#include "lib/commands/sys.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace coroner {

Result<uint64_t> TotalPhysicalPages(const Session& s) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(std::vector<uint64_t> nodes, NodePgdats(*k));
  uint64_t total = 0;
  for (uint64_t n : nodes) {
    CORONER_TRY(uint64_t present, k->ReadField(n, "pglist_data", "node_present_pages"));
    total += present;
  }
  return total;
}

Result<PsResult> RunPs(const Session& s, const std::vector<std::string>& args) {
  PsResult r;
  bool kernel_only = false, user_only = false, leaders = false;
  std::vector<std::string> selectors;
  for (const std::string& a : args) {
    if (a.size() > 1 && a[0] == '-') {
      for (char c : a.substr(1)) {
        switch (c) {
          case 'k': kernel_only = true; break;
          case 'u': user_only = true; break;
          case 'G': leaders = true; break;
          case 'p': r.mode = PsResult::Mode::kParents; break;
          case 'c': r.mode = PsResult::Mode::kChildren; break;
          case 't': r.mode = PsResult::Mode::kTimes; break;
          case 'a': r.mode = PsResult::Mode::kArgs; break;
          default:
            return Error(ErrorCode::kUnsupported, fmt::format("option -{} is not supported yet", c));
        }
      }
    } else {
      selectors.push_back(a);
    }
  }
  if (kernel_only && user_only) {
    return Error(ErrorCode::kInvalidArgument, "-k and -u exclude each other");
  }
  CORONER_TRY(const TaskList* tl, s.Tasks());
  r.warnings = tl->warnings;
  uint64_t total_pages = TotalPhysicalPages(s).value_or(0);

  // Which tasks the arguments select: a PID (decimal), a task address (hex), or a command.
  std::vector<const TaskInfo*> chosen;
  if (selectors.empty()) {
    for (const TaskInfo& t : tl->tasks) chosen.push_back(&t);
  } else {
    std::set<uint64_t> picked;
    for (const std::string& sel : selectors) {
      std::vector<const TaskInfo*> hits = tl->Match(sel, true);
      if (hits.empty()) {
        r.warnings.push_back(fmt::format("invalid task or pid value: {}", sel));
      }
      for (const TaskInfo* t : hits) {
        if (picked.insert(t->task).second) chosen.push_back(t);
      }
    }
    // crash lists the selected tasks in its task order (by PID), not the arguments' order.
    std::sort(chosen.begin(), chosen.end(), [&](const TaskInfo* a, const TaskInfo* b) {
      return a - tl->tasks.data() < b - tl->tasks.data();
    });
  }
  std::vector<const TaskInfo*> filtered;
  for (const TaskInfo* t : chosen) {
    if (kernel_only && !t->IsKernelThread()) continue;
    if (user_only && t->IsKernelThread()) continue;
    if (leaders && t->pid != t->tgid) continue;
    filtered.push_back(t);
  }

  if (r.mode == PsResult::Mode::kList) {
    for (const TaskInfo* t : filtered) {
      PsRow row;
      row.task = *t;
      if (total_pages) row.mem_percent = 100.0 * static_cast<double>(t->rss) / static_cast<double>(total_pages);
      r.rows.push_back(std::move(row));
    }
    return r;
  }
  if (r.mode == PsResult::Mode::kTimes) {
    CORONER_TRY(const Kernel* k, s.GetKernel());
    CORONER_TRY(KernelClock clock, ReadKernelClock(s));
    for (const TaskInfo* t : filtered) {
      PsTimes pt;
      pt.task = *t;
      CORONER_TRY(pt.start_time, k->ReadField(t->task, "task_struct", "start_time"));
      CORONER_TRY(pt.utime, k->ReadField(t->task, "task_struct", "utime"));
      CORONER_TRY(pt.stime, k->ReadField(t->task, "task_struct", "stime"));
      uint64_t start_j = pt.start_time / 1000000000ull * static_cast<uint64_t>(clock.hz);
      uint64_t run_j = clock.uptime_jiffies > start_j ? clock.uptime_jiffies - start_j : 0;
      pt.run_seconds = run_j / static_cast<uint64_t>(clock.hz);
      r.times.push_back(std::move(pt));
    }
    std::stable_sort(r.times.begin(), r.times.end(),
                     [](const PsTimes& a, const PsTimes& b) { return a.start_time < b.start_time; });
    return r;
  }
  if (r.mode == PsResult::Mode::kArgs) {
    CORONER_TRY(const Kernel* k, s.GetKernel());
    for (const TaskInfo* t : filtered) {
      PsArgs pa;
      pa.task = *t;
      pa.user_stack = t->mm != 0;
      if (pa.user_stack) {
        CORONER_TRY(UserMemory um, s.UserMemoryOf(*t));
        // Page by page, so a failure names the page's address as crash does.
        auto read_range = [&](std::string_view from, std::string_view to, std::string& out) -> Result<bool> {
          CORONER_TRY(uint64_t start, k->ReadField(t->mm, "mm_struct", from));
          CORONER_TRY(uint64_t end, k->ReadField(t->mm, "mm_struct", to));
          if (end < start || end - start > (1u << 21)) {
            return Error(ErrorCode::kBadData, fmt::format("PID {}: mm_struct.{} {:#x} .. {} {:#x} is not a range",
                                                          t->pid, from, start, to, end));
          }
          out.resize(end - start);
          for (uint64_t a = start; a < end;) {
            uint64_t n = std::min<uint64_t>(4096 - (a & 0xfff), end - a);
            auto rd = um.Read(a, std::as_writable_bytes(std::span(out.data() + (a - start), n)));
            if (!rd) {
              pa.error = rd.error().ToString();
              pa.error_address = a;
              out.resize(a - start);
              return false;
            }
            a += n;
          }
          return true;
        };
        CORONER_TRY(bool ok, read_range("arg_start", "arg_end", pa.args));
        if (ok) CORONER_TRY_VOID(read_range("env_start", "env_end", pa.env));
      }
      r.args.push_back(std::move(pa));
    }
    return r;
  }
  for (const TaskInfo* t : filtered) {
    PsTree tree;
    if (r.mode == PsResult::Mode::kParents) {
      std::vector<const TaskInfo*> chain{t};
      std::set<uint64_t> seen{t->task};
      while (chain.back()->parent && chain.back()->parent != chain.back()->task) {
        const TaskInfo* p = tl->FindTask(chain.back()->parent);
        if (!p || !seen.insert(p->task).second) break;
        chain.push_back(p);
      }
      int depth = 0;
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) tree.lines.emplace_back(depth++, **it);
    } else {
      tree.lines.emplace_back(0, *t);
      for (const TaskInfo& c : tl->tasks) {
        if (c.parent == t->task && c.task != t->task && c.pid != 0) tree.lines.emplace_back(1, c);
      }
    }
    r.trees.push_back(std::move(tree));
  }
  return r;
}

}  // namespace coroner
