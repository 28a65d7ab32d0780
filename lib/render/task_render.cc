#include "lib/render/task_render.h"

#include <fmt/format.h>

namespace coroner {

nlohmann::ordered_json TaskJson(const TaskInfo& t) {
  nlohmann::ordered_json j;
  j["pid"] = t.pid;
  j["tgid"] = t.tgid;
  j["ppid"] = t.ppid;
  j["cpu"] = t.cpu;
  j["task"] = fmt::format("{:#x}", t.task);
  j["state"] = t.StateName();
  j["comm"] = t.comm;
  j["kernel_thread"] = t.IsKernelThread();
  j["active"] = t.active;
  j["vsz_kb"] = t.total_vm * 4;
  j["rss_kb"] = t.rss * 4;
  return j;
}

std::string RenderPsText(const PsResult& r) {
  std::string out;
  if (r.mode == PsResult::Mode::kList) {
    out += "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM\n";
    for (const PsRow& row : r.rows) {
      const TaskInfo& t = row.task;
      std::string comm = t.IsKernelThread() ? "[" + t.comm + "]" : t.comm;
      out += fmt::format("{}{:>8} {:>7} {:>3}  {:016x}  {}  {:>4.1f} {:>8} {:>8}  {}\n",
                         t.active ? '>' : ' ', t.pid, t.ppid, t.cpu, t.task, t.StateName(),
                         row.mem_percent, t.total_vm * 4, t.rss * 4, comm);
    }
  } else {
    bool first = true;
    for (const PsTree& tree : r.trees) {
      if (!first) out += "\n";
      first = false;
      for (const auto& [depth, t] : tree.lines) {
        // crash indents ancestors one column per generation and children two.
        size_t indent = static_cast<size_t>(r.mode == PsResult::Mode::kChildren ? 2 * depth : depth);
        out += fmt::format("{}PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n",
                           std::string(indent, ' '), t.pid, t.task, t.cpu, t.comm);
      }
    }
  }
  for (const std::string& w : r.warnings) out += fmt::format("ps: {}\n", w);
  return out;
}

nlohmann::ordered_json RenderPsJson(const PsResult& r) {
  nlohmann::ordered_json j;
  auto tasks = nlohmann::ordered_json::array();
  for (const PsRow& row : r.rows) {
    auto t = TaskJson(row.task);
    t["mem_percent"] = row.mem_percent;
    tasks.push_back(t);
  }
  j["tasks"] = tasks;
  auto trees = nlohmann::ordered_json::array();
  for (const PsTree& tree : r.trees) {
    auto lines = nlohmann::ordered_json::array();
    for (const auto& [depth, t] : tree.lines) {
      auto x = TaskJson(t);
      x["depth"] = depth;
      lines.push_back(x);
    }
    trees.push_back(lines);
  }
  if (r.mode != PsResult::Mode::kList) j["trees"] = trees;
  j["warnings"] = r.warnings;
  return j;
}

}  // namespace coroner
