#include "lib/render/task_render.h"

#include <fmt/format.h>

#include <ctime>

namespace coroner {

std::string FormatMemorySize(uint64_t bytes) {
  auto scaled = [](uint64_t b, double unit, const char* name) {
    std::string v = fmt::format("{:.1f}", static_cast<double>(b) / unit);
    if (v.size() > 2 && v.compare(v.size() - 2, 2, ".0") == 0) v.resize(v.size() - 2);
    return v + " " + name;
  };
  if (bytes >= (1ull << 30)) return scaled(bytes, 1024.0 * 1024 * 1024, "GB");
  if (bytes >= (1ull << 20)) return scaled(bytes, 1024.0 * 1024, "MB");
  return scaled(bytes, 1024.0, "KB");
}

namespace {

std::string FormatUptime(uint64_t secs) {
  uint64_t days = secs / 86400;
  std::string hms = fmt::format("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
  return days ? fmt::format("{} days, {}", days, hms) : hms;
}

std::string FormatDate(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %T UTC %Y", &tm);
  return buf;
}

}  // namespace

std::string RenderSysText(const SysResult& r) {
  std::string out;
  if (r.taint_only) {
    out += fmt::format("TAINTED_MASK: {:x}  {}\n", r.taint_mask, r.taint_letters);
  } else {
    auto row = [&](std::string_view label, std::string_view value) {
      out += fmt::format("{:>12}: {}\n", label, value);
    };
    row("KERNEL", r.kernel + (r.tainted ? "  [TAINTED]" : ""));
    std::string files;
    for (const auto& f : r.dumpfiles) files += (files.empty() ? "" : " ") + f;
    row("DUMPFILE", files + (r.partial ? "  [PARTIAL DUMP]" : ""));
    row("CPUS", r.offline_cpus > 0 ? fmt::format("{} [OFFLINE: {}]", r.cpus, r.offline_cpus)
                                   : fmt::format("{}", r.cpus));
    row("DATE", r.crash_time ? FormatDate(*r.crash_time) : "(unknown)");
    row("UPTIME", r.uptime_seconds ? FormatUptime(*r.uptime_seconds) : "(unknown)");
    row("LOAD AVERAGE", r.load_average);
    row("TASKS", fmt::format("{}", r.tasks));
    row("NODENAME", r.nodename);
    row("RELEASE", r.release);
    row("VERSION", r.version);
    row("MACHINE", r.mhz ? fmt::format("{}  ({} Mhz)", r.machine, r.mhz) : r.machine);
    row("MEMORY", FormatMemorySize(r.memory_bytes));
    if (!r.panic.empty()) row("PANIC", "\"" + r.panic + (r.panic.back() == ')' ? "" : "\""));
  }
  for (const auto& w : r.warnings) out += fmt::format("sys: warning: {}\n", w);
  return out;
}

nlohmann::ordered_json RenderSysJson(const SysResult& r) {
  nlohmann::ordered_json j;
  j["taint_mask"] = r.taint_mask;
  j["taint_flags"] = r.taint_letters;
  if (!r.taint_only) {
    j["kernel"] = r.kernel;
    j["dumpfiles"] = r.dumpfiles;
    j["partial_dump"] = r.partial;
    j["cpus"] = r.cpus;
    j["offline_cpus"] = r.offline_cpus;
    j["crash_time"] = r.crash_time ? nlohmann::ordered_json(*r.crash_time) : nlohmann::ordered_json(nullptr);
    j["uptime_seconds"] = r.uptime_seconds ? nlohmann::ordered_json(*r.uptime_seconds) : nlohmann::ordered_json(nullptr);
    j["hz"] = r.hz;
    j["hz_source"] = r.hz_source;
    j["load_average"] = r.load_average;
    j["tasks"] = r.tasks;
    j["nodename"] = r.nodename;
    j["release"] = r.release;
    j["version"] = r.version;
    j["machine"] = r.machine;
    j["mhz"] = r.mhz;
    j["memory_bytes"] = r.memory_bytes;
    j["panic"] = r.panic;
    j["panic_cpu"] = r.panic_cpu;
  }
  j["warnings"] = r.warnings;
  return j;
}

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
