#include "lib/render/task_render.h"

#include "lib/render/log_render.h"

#include <fmt/format.h>

#include <map>

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

// The non-empty strings of a NUL-separated buffer (argv/envp as the kernel keeps them).
std::vector<std::string> SplitNul(const std::string& raw) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < raw.size()) {
    size_t end = raw.find('\0', at);
    if (end == std::string::npos) end = raw.size();
    if (end > at) out.push_back(raw.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::string FormatUptime(uint64_t secs) {
  uint64_t days = secs / 86400;
  std::string hms = fmt::format("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
  return days ? fmt::format("{} days, {}", days, hms) : hms;
}

}  // namespace

std::string RenderSysText(const SysResult& r) {
  std::string out;
  if (r.syscall_table) {
    if (!r.line_numbers) out += "sys: line numbers are not available (they need a vmlinux with DWARF)\n";
    out += "NUM  SYSTEM CALL                FILE AND LINE NUMBER\n";
    for (const SysCall& c : r.syscalls) {
      if (c.name.empty()) {
        out += fmt::format("{:>3}  invalid sys_call_table entry: {:x} \n", c.nr, c.handler);
        continue;
      }
      out += fmt::format("{:>3}  {:<26} {}\n", c.nr, c.name, c.source);
    }
    return out;
  }
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
    row("DATE", r.crash_time ? CrashDate(*r.crash_time) : "(unknown)");
    row("UPTIME", r.uptime_seconds ? FormatUptime(*r.uptime_seconds) : "(unknown)");
    row("LOAD AVERAGE", r.load_average);
    row("TASKS", r.tasks ? fmt::format("{}", *r.tasks) : "(unknown)");
    row("NODENAME", r.nodename);
    row("RELEASE", r.release);
    row("VERSION", r.version);
    row("MACHINE", r.mhz ? fmt::format("{}  ({} Mhz)", r.machine, r.mhz) : r.machine);
    row("MEMORY", r.memory_bytes ? FormatMemorySize(*r.memory_bytes) : "(unknown)");
    if (!r.panic.empty()) row("PANIC", "\"" + r.panic + (r.panic.back() == ')' ? "" : "\""));
  }
  for (const auto& w : r.warnings) out += fmt::format("sys: warning: {}\n", w);
  return out;
}

nlohmann::ordered_json RenderSysJson(const SysResult& r) {
  nlohmann::ordered_json j;
  if (r.syscall_table) {
    nlohmann::ordered_json calls = nlohmann::ordered_json::array();
    for (const SysCall& c : r.syscalls) {
      calls.push_back({{"nr", c.nr}, {"handler", fmt::format("{:#x}", c.handler)},
                       {"name", c.name.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.name)},
                       {"source", c.source.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.source)}});
    }
    j["count_confirmed"] = r.syscall_count_confirmed;
    j["syscalls"] = calls;
    return j;
  }
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
    j["tasks"] = r.tasks ? nlohmann::ordered_json(*r.tasks) : nlohmann::ordered_json(nullptr);
    j["nodename"] = r.nodename;
    j["release"] = r.release;
    j["version"] = r.version;
    j["machine"] = r.machine;
    j["mhz"] = r.mhz;
    j["memory_bytes"] = r.memory_bytes ? nlohmann::ordered_json(*r.memory_bytes) : nlohmann::ordered_json(nullptr);
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
  if (r.mode == PsResult::Mode::kTimes) {
    for (const PsTimes& pt : r.times) {
      const TaskInfo& t = pt.task;
      out += fmt::format("PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n", t.pid, t.task, t.cpu, t.comm);
      out += fmt::format("    RUN TIME: {}\n  START TIME: {}\n       UTIME: {}\n       STIME: {}\n\n",
                         FormatUptime(pt.run_seconds), pt.start_time, pt.utime, pt.stime);
    }
  } else if (r.mode == PsResult::Mode::kArgs) {
    for (const PsArgs& pa : r.args) {
      const TaskInfo& t = pa.task;
      out += fmt::format("PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n", t.pid, t.task, t.cpu, t.comm);
      if (!pa.user_stack) {
        out += "ps: no user stack\n\n";
        continue;
      }
      if (!pa.error.empty() && pa.env.empty() && pa.args.empty()) {
        out += fmt::format("ps: cannot access user stack address: {:x}\n\n", pa.error_address);
        continue;
      }
      // crash's layout: the arguments joined by spaces (each followed by one), then one
      // environment string a line.
      out += "ARG: ";
      for (const std::string& a : SplitNul(pa.args)) out += a + " ";
      if (!pa.error.empty() && pa.env.empty()) {
        out += fmt::format("\nps: cannot access user stack address: {:x}\n\n", pa.error_address);
        continue;
      }
      out += "\nENV: ";
      std::vector<std::string> env = SplitNul(pa.env);
      for (size_t i = 0; i < env.size(); ++i) out += (i ? "     " : "") + env[i] + "\n";
      out += env.empty() ? "\n\n" : "\n";
    }
  } else if (r.mode == PsResult::Mode::kList) {
    out += "      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM\n";
    for (const PsRow& row : r.rows) {
      const TaskInfo& t = row.task;
      std::string comm = t.IsKernelThread() ? "[" + t.comm + "]" : t.comm;
      out += fmt::format("{}{:>8} {:>7} {:>3}  {:016x}  {}  {:>4.1f} {:>8} {:>8}  {}\n",
                         t.active ? '>' : ' ', t.pid, t.ppid, t.cpu, t.task, t.StateName(),
                         row.mem_percent, t.total_vm * 4, t.rss * 4, comm);
    }
  } else {
    for (const PsTree& tree : r.trees) {
      for (const auto& [depth, t] : tree.lines) {
        // crash indents ancestors one column per generation and children two.
        size_t indent = static_cast<size_t>(r.mode == PsResult::Mode::kChildren ? 2 * depth : depth);
        out += fmt::format("{}PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n",
                           std::string(indent, ' '), t.pid, t.task, t.cpu, t.comm);
      }
      out += "\n";  // crash ends each tree with a blank line
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
  if (r.mode == PsResult::Mode::kParents || r.mode == PsResult::Mode::kChildren) j["trees"] = trees;
  if (r.mode == PsResult::Mode::kArgs) {
    auto args = nlohmann::ordered_json::array();
    for (const PsArgs& pa : r.args) {
      auto x = TaskJson(pa.task);
      x["user_stack"] = pa.user_stack;
      x["args"] = SplitNul(pa.args);
      x["env"] = SplitNul(pa.env);
      if (!pa.error.empty()) {
        x["error"] = pa.error;
        x["error_address"] = fmt::format("{:#x}", pa.error_address);
      }
      args.push_back(x);
    }
    j["args"] = args;
  }
  if (r.mode == PsResult::Mode::kTimes) {
    auto times = nlohmann::ordered_json::array();
    for (const PsTimes& pt : r.times) {
      auto x = TaskJson(pt.task);
      x["run_seconds"] = pt.run_seconds;
      x["start_time_ns"] = pt.start_time;
      x["utime_ns"] = pt.utime;
      x["stime_ns"] = pt.stime;
      times.push_back(x);
    }
    j["times"] = times;
  }
  j["warnings"] = r.warnings;
  return j;
}

std::string RenderRegisterBlock(const PtRegs& r) {
  return fmt::format(
      "    RIP: {:016x}  RSP: {:016x}  RFLAGS: {:08x}\n"
      "    RAX: {:016x}  RBX: {:016x}  RCX: {:016x}\n"
      "    RDX: {:016x}  RSI: {:016x}  RDI: {:016x}\n"
      "    RBP: {:016x}   R8: {:016x}   R9: {:016x}\n"
      "    R10: {:016x}  R11: {:016x}  R12: {:016x}\n"
      "    R13: {:016x}  R14: {:016x}  R15: {:016x}\n"
      "    ORIG_RAX: {:016x}  CS: {:04x}  SS: {:04x}\n",
      r[kIp], r[kSp], r[kFlags], r[kAx], r[kBx], r[kCx], r[kDx], r[kSi], r[kDi], r[kBp], r[kR8],
      r[kR9], r[kR10], r[kR11], r[kR12], r[kR13], r[kR14], r[kR15], r[kOrigAx], r[kCs], r[kSs]);
}

namespace {

std::string SymOff(const BtFrame& f) {
  if (f.symbol.empty()) return "unknown or invalid address";
  return f.offset ? fmt::format("{}+{}", f.symbol, f.offset) : f.symbol;
}

}  // namespace

std::string RenderBtText(const BtResult& r) {
  std::string out;
  bool first = true;
  for (const BtTask& t : r.tasks) {
    if (!first) out += "\n";
    first = false;
    out += fmt::format("PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n", t.task.pid, t.task.task,
                       t.task.cpu, t.task.comm);
    if (!t.error.empty()) {
      out += fmt::format("bt: cannot start the backtrace: {}\n", t.error);
      continue;
    }
    if (r.text_scan) {
      if (!t.frames.empty()) {
        const BtFrame& f0 = t.frames[0];
        out += fmt::format("              START: {} at {:x}\n", f0.symbol.empty() ? "(unknown)" : f0.symbol, f0.frame.ip);
      }
      for (const StackTextHit& h : t.text) out += fmt::format("  [{:016x}] {} at {:x}\n", h.slot, h.symbol, h.value);
      if (t.user_regs) out += RenderRegisterBlock(*t.user_regs);
      continue;
    }
    for (size_t i = 0; i < t.frames.size(); ++i) {
      const BtFrame& f = t.frames[i];
      if (f.frame.exception) {
        out += fmt::format("    [exception RIP: {}]\n", SymOff(f));
        if (!f.bug.empty()) out += fmt::format("    {}\n", f.bug);
        out += RenderRegisterBlock(*f.frame.exception);
      }
      if (!f.frame.left_stack.empty()) out += fmt::format("--- <{} stack> ---\n", f.frame.left_stack);
      std::string name = f.symbol.empty() ? "(unknown)" : (r.offsets ? SymOff(f) : f.symbol);
      if (f.frame.scanned && !f.frame.verified) name = "? " + name;
      out += fmt::format("{:>3} [{:016x}] {} at {:016x}\n", fmt::format("#{}", i), f.frame.slot, name, f.frame.ip);
      if (!f.line.empty()) out += fmt::format("    {}\n", f.line);
      for (size_t w = 0; w < f.data.size(); w += 2) {
        out += fmt::format("    {:016x}: {:016x} ", f.data_start + 8 * w, f.data[w]);
        if (w + 1 < f.data.size()) out += fmt::format("{:016x} ", f.data[w + 1]);
        out += "\n";
      }
    }
    if (t.user_regs) out += RenderRegisterBlock(*t.user_regs);
    if (!t.stopped.empty()) out += fmt::format("bt: unwinding stopped: {}\n", t.stopped);
  }
  return out;
}

nlohmann::ordered_json RenderBtJson(const BtResult& r) {
  using json = nlohmann::ordered_json;
  auto regs_json = [](const PtRegs& p) {
    static constexpr const char* kNames[] = {"r15", "r14", "r13", "r12", "rbp", "rbx", "r11",
                                             "r10", "r9",  "r8",  "rax", "rcx", "rdx", "rsi",
                                             "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss"};
    json j;
    for (size_t i = 0; i < kNumPtRegs; ++i) j[kNames[i]] = fmt::format("{:#x}", p.r[i]);
    return j;
  };
  json tasks = json::array();
  for (const BtTask& t : r.tasks) {
    json jt = TaskJson(t.task);
    jt["start"] = t.start;
    json frames = json::array();
    for (const BtFrame& f : t.frames) {
      json jf;
      jf["ip"] = fmt::format("{:#x}", f.frame.ip);
      jf["stack"] = fmt::format("{:#x}", f.frame.slot);
      jf["symbol"] = f.symbol.empty() ? json(nullptr) : json(f.symbol);
      jf["offset"] = f.offset;
      if (f.frame.exception) jf["exception_regs"] = regs_json(*f.frame.exception);
      if (!f.bug.empty()) jf["bug"] = f.bug;
      if (r.lines) jf["line"] = f.line.empty() ? json(nullptr) : json(f.line);
      jf["exact_ip"] = f.frame.exact_ip;  // not a return address
      if (!f.data.empty()) {
        json words = json::array();
        for (uint64_t w : f.data) words.push_back(fmt::format("{:#x}", w));
        jf["data_start"] = fmt::format("{:#x}", f.data_start);
        jf["data"] = words;
      }
      if (!f.frame.left_stack.empty()) jf["left_stack"] = f.frame.left_stack;
      jf["scanned"] = f.frame.scanned;
      jf["reliable"] = !f.frame.scanned || f.frame.verified;
      frames.push_back(jf);
    }
    jt["frames"] = frames;
    if (r.text_scan) {
      json text = json::array();
      for (const StackTextHit& h : t.text) {
        text.push_back({{"stack", fmt::format("{:#x}", h.slot)}, {"value", fmt::format("{:#x}", h.value)},
                        {"symbol", h.symbol}});
      }
      jt["text"] = text;
    }
    jt["user_regs"] = t.user_regs ? regs_json(*t.user_regs) : json(nullptr);
    jt["stopped"] = t.stopped.empty() ? json(nullptr) : json(t.stopped);
    jt["error"] = t.error.empty() ? json(nullptr) : json(t.error);
    tasks.push_back(jt);
  }
  json j;
  j["tasks"] = tasks;
  return j;
}

std::string RenderModText(const ModResult& r) {
  size_t w = r.name_width;
  for (const ModRow& row : r.modules) w = std::max(w, row.module.name.size());
  std::string out;
  std::string header = fmt::format("     MODULE       {:<{}}        BASE         SIZE  OBJECT FILE\n", "NAME", w);
  bool headed = false;
  for (const ModRow& row : r.modules) {
    const ModuleInfo& m = row.module;
    if (!row.error.empty()) {
      out += row.not_found ? fmt::format("mod: cannot find or load object file for {} module\n", m.name)
                           : fmt::format("mod: {}\n", row.error);
      continue;
    }
    if (!headed) out += header;
    headed = true;
    out += fmt::format("{:016x}  {:<{}}  {:016x}  {:>5}  {}\n", m.module, m.name, w, m.base, m.size,
                       row.object_file.empty() ? "(not loaded)  [CONFIG_KALLSYMS]" : row.object_file + " ");
  }
  if (r.modules.empty()) out += header;
  return out;
}

nlohmann::ordered_json RenderModJson(const ModResult& r) {
  nlohmann::ordered_json mods = nlohmann::ordered_json::array();
  for (const ModRow& row : r.modules) {
    const ModuleInfo& m = row.module;
    nlohmann::ordered_json j;
    j["module"] = fmt::format("{:#x}", m.module);
    j["name"] = m.name;
    j["base"] = fmt::format("{:#x}", m.base);
    j["size"] = m.size;
    j["state"] = m.state;
    j["taints"] = m.taints;
    j["object_file"] = row.object_file.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(row.object_file);
    if (!row.checked.empty()) j["checked"] = row.checked;
    if (!row.error.empty()) j["error"] = row.error;
    mods.push_back(j);
  }
  nlohmann::ordered_json j;
  j["modules"] = mods;
  return j;
}

namespace {

// crash's TOTAL column: "534.2 MB", "4 KB", "0".
std::string PagesSize(uint64_t pages) { return pages ? FormatMemorySize(pages * 4096) : "0"; }

}  // namespace

std::string RenderPageLine(const PageLine& p) {
  return "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n" +
         fmt::format("{:x} {:8x} {:16x} {:8x} {:2} {:x}{}\n", p.page, p.phys, p.mapping, p.index, p.count, p.flags,
                     p.names.empty() ? "" : " " + p.names);
}

std::string TaskStateLongName(const TaskInfo& t) {
  static const std::map<std::string, std::string> kStates = {
      {"RU", "TASK_RUNNING"}, {"IN", "TASK_INTERRUPTIBLE"}, {"UN", "TASK_UNINTERRUPTIBLE"}, {"ID", "TASK_IDLE"},
      {"ZO", "EXIT_ZOMBIE"},  {"ST", "TASK_STOPPED"},       {"TR", "TASK_TRACED"},          {"DE", "EXIT_DEAD"},
      {"PA", "TASK_PARKED"},  {"WA", "TASK_WAKING"},        {"NE", "TASK_NEW"}};
  auto it = kStates.find(t.StateName());
  return it == kStates.end() ? t.StateName() : it->second;
}

std::string RenderTaskHeader(const TaskInfo& t, int panic_cpu, int nth, int of) {
  std::string mark = t.active ? (t.cpu == panic_cpu ? "(PANIC)" : "(ACTIVE)") : "";
  std::string which = of > 1 ? fmt::format("  ({} of {})", nth, of) : "";
  return fmt::format("    PID: {}\nCOMMAND: \"{}\"\n   TASK: {:x}{}  [THREAD_INFO: {:x}]\n    CPU: {}\n  STATE: {} {}\n",
                     t.pid, t.comm, t.task, which, t.task, t.cpu, TaskStateLongName(t), mark);
}

namespace {

std::string RenderKmemAddressText(const KmemResult& r) {
  std::string out;
  for (const KmemAddress& a : r.addresses) {
    if (!a.symbol.empty()) out += fmt::format("{:x} ({}) {}\n\n", a.address, a.symbol_type, a.symbol);
    if (a.cache) {
      const SlabCacheInfo& c = *a.cache;
      out += "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME\n";
      out += fmt::format("{:016x} {:>8} {:>10} {:>9} {:>6} {:>5}k  {}\n", c.cache, c.object_size, c.allocated(), c.total,
                         c.slabs, c.slab_size / 1024, c.name);
      out += "  SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE\n";
      out += fmt::format("  {:016x}  {:016x}  {:4}  {:5}  {:9}  {:4}\n", a.slab, a.slab_memory, a.node, a.slab_total,
                         a.slab_total - std::min(a.slab_total, a.slab_free), a.slab_free);
      out += "  FREE / [ALLOCATED]\n";
      if (a.object) out += a.object_free ? fmt::format("   {:x}  \n", a.object) : fmt::format("  [{:x}]\n", a.object);
      if (!a.slab_note.empty()) out += fmt::format("  ({})\n", a.slab_note);
      out += "\n";
    }
    if (a.task) out += RenderTaskHeader(*a.task, r.panic_cpu, a.task->pid == 0 ? a.task->cpu + 1 : 0,
                                        a.task->pid == 0 ? static_cast<int>(a.idle_tasks) : 0) + "\n";
    if (a.vmap) {
      out += "   VMAP_AREA         VM_STRUCT                 ADDRESS RANGE                SIZE\n";
      out += fmt::format("{:016x}  {:016x}  {:016x} - {:016x}  {:7}\n\n", a.vmap->area, a.vmap->vm, a.vmap->start,
                         a.vmap->end, a.vmap->end - a.vmap->start);
    }
    if (!a.error.empty()) out += fmt::format("kmem: {:x}: {}\n", a.address, a.error);
    if (a.page) out += RenderPageLine(*a.page);
  }
  return out;
}

nlohmann::ordered_json RenderKmemAddressJson(const KmemResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const KmemAddress& a : r.addresses) {
    nlohmann::ordered_json x;
    x["address"] = fmt::format("{:#x}", a.address);
    if (!a.symbol.empty()) x["symbol"] = a.symbol;
    if (a.cache) {
      x["cache"] = a.cache->name;
      x["cache_address"] = fmt::format("{:#x}", a.cache->cache);
      x["slab"] = fmt::format("{:#x}", a.slab);
      x["slab_memory"] = fmt::format("{:#x}", a.slab_memory);
      x["slab_total"] = a.slab_total;
      x["slab_free"] = a.slab_free;
      if (a.object) {
        x["object"] = fmt::format("{:#x}", a.object);
        x["allocated"] = !a.object_free;
      }
    }
    if (a.task) x["task"] = TaskJson(*a.task);
    if (a.vmap) {
      x["vmap_area"] = fmt::format("{:#x}", a.vmap->area);
      x["vmap_start"] = fmt::format("{:#x}", a.vmap->start);
      x["vmap_end"] = fmt::format("{:#x}", a.vmap->end);
    }
    if (a.page) {
      x["page"] = fmt::format("{:#x}", a.page->page);
      x["physical"] = fmt::format("{:#x}", a.page->phys);
      x["page_flags"] = fmt::format("{:#x}", a.page->flags);
      x["page_flag_names"] = a.page->names;
      x["page_count"] = a.page->count;
    }
    if (!a.error.empty()) x["error"] = a.error;
    arr.push_back(x);
  }
  return arr;
}

}  // namespace

std::string RenderKmemText(const KmemResult& r) {
  if (r.mode == KmemResult::Mode::kAddress) return RenderKmemAddressText(r);
  // crash's counter blocks: names right-aligned to the longest name in the block.
  auto width_of = [](const StatBlock& b) {
    size_t width = 0;
    for (const auto& [name, v] : b.items) width = std::max(width, name.size());
    return width;
  };
  auto block = [](const StatBlock& b, size_t width, std::string& out) {
    for (const auto& [name, v] : b.items) out += fmt::format("{:>{}}: {}\n", name, width, v);
  };
  if (r.mode == KmemResult::Mode::kVmStat) {
    // crash aligns the zone, node and NUMA counters together, the events apart.
    size_t width = 0;
    for (const StatBlock& b : r.stats) {
      if (b.title != "VM_EVENT_STATES") width = std::max(width, width_of(b));
    }
    std::string out;
    for (size_t i = 0; i < r.stats.size(); ++i) {
      out += fmt::format("{}  {}:\n", i ? "\n" : "", r.stats[i].title);
      block(r.stats[i], r.stats[i].title == "VM_EVENT_STATES" ? width_of(r.stats[i]) : width, out);
    }
    return out;
  }
  if (r.mode == KmemResult::Mode::kFree) {
    // crash's mkstring(CENTER): the odd space goes right, with RJUST left.
    auto center = [](const std::string& v, size_t w, bool odd_left) {
      size_t extra = v.size() < w ? w - v.size() : 0;
      size_t left = odd_left ? extra - extra / 2 : extra / 2;
      return std::string(left, ' ') + v + std::string(extra - left, ' ');
    };
    std::string out;
    uint64_t found = 0;
    for (size_t zi = 0; zi < r.free_areas.size(); ++zi) {
      const ZoneFreeArea& z = r.free_areas[zi];
      if (r.nodes > 1 && z.index == 0) out += fmt::format("{}NODE\n {:2}\n", z.node ? "\n" : "", z.node);
      out += fmt::format("{}ZONE  NAME        SIZE    FREE      MEM_MAP       START_PADDR  START_MAPNR\n",
                         z.index > 0 ? "\n" : "");
      out += fmt::format("{:3}   {:<9} {:6}  {:6}  {}  {}  {}\n", z.index, z.name, z.spanned, z.free,
                         center(fmt::format("{:x}", z.mem_map), 16, false),
                         center(fmt::format("{:x}", z.spanned ? z.start_pfn * 4096 : 0), 11, true),
                         center(fmt::format("{}", z.start_mapnr), 11, true));
      if (!z.free) continue;
      out += "AREA    SIZE  FREE_AREA_STRUCT  BLOCKS  PAGES\n";
      for (const FreeList& f : z.lists) {
        uint64_t pages = f.blocks << f.order;
        found += pages;
        out += fmt::format("{:3}  {:>7}  {:016x}  {:6} {:6}\n", f.order, fmt::format("{}k", 4u << f.order), f.list,
                           f.blocks, pages);
      }
    }
    out += fmt::format("\nnr_free_pages: {}  ", r.nr_free_pages);
    out += found == r.nr_free_pages ? "(verified)\n" : fmt::format("(found {})\n", found);
    return out;
  }
  if (r.mode == KmemResult::Mode::kZones) {
    std::string out;
    for (const ZoneStats& z : r.zones) {
      out += fmt::format("NODE: {}  ZONE: {}  ADDR: {:x}  NAME: \"{}\"\n", z.node, z.index, z.zone, z.name);
      if (!z.spanned) {
        out += "  [unpopulated]\n\n";
        continue;
      }
      out += fmt::format("  SIZE: {}", z.spanned);
      if (z.present < z.spanned) out += fmt::format("  PRESENT: {}", z.present);
      out += fmt::format("  MIN/LOW/HIGH: {}/{}/{}\n  VM_STAT:\n", z.min, z.low, z.high);
      block(z.vm_stat, width_of(z.vm_stat), out);
      out += "\n\n";
    }
    return out;
  }
  if (r.mode == KmemResult::Mode::kSlabs) {
    std::string out = "CACHE             OBJSIZE  ALLOCATED     TOTAL  SLABS  SSIZE  NAME\n";
    for (const SlabCacheInfo& c : r.caches) {
      out += fmt::format("{:016x} {:>8} {:>10} {:>9} {:>6} {:>5}k  {}\n", c.cache, c.object_size, c.allocated(), c.total,
                         c.slabs, c.slab_size / 1024, c.name);
      if (!c.error.empty()) out += fmt::format("kmem: {}: counting stopped: {}\n", c.name, c.error);
    }
    return out;
  }
  const KmemInfo& m = r.info;
  std::string out = "                 PAGES        TOTAL      PERCENTAGE\n";
  auto row = [&](std::string_view label, uint64_t pages, std::optional<uint64_t> of, std::string_view of_name) {
    std::string pct = of ? fmt::format("{:>3}% of {}", *of ? pages * 100 / *of : 0, of_name) : "       ----";
    out += fmt::format("{:>13}  {:>7}  {:>11}  {}\n", label, pages, PagesSize(pages), pct);
  };
  row("TOTAL MEM", m.total, std::nullopt, "");
  row("FREE", m.free, m.total, "TOTAL MEM");
  row("USED", m.total > m.free ? m.total - m.free : 0, m.total, "TOTAL MEM");
  row("SHARED", m.shared, m.total, "TOTAL MEM");
  row("BUFFERS", m.buffers, m.total, "TOTAL MEM");
  row("CACHED", m.cached, m.total, "TOTAL MEM");
  row("SLAB", m.slab, m.total, "TOTAL MEM");
  out += "\n";
  row("TOTAL HUGE", m.huge_total, std::nullopt, "");
  row("HUGE FREE", m.huge_free, m.huge_total, "TOTAL HUGE");
  out += "\n";
  row("TOTAL SWAP", m.swap_total, std::nullopt, "");
  row("SWAP USED", m.swap_total > m.swap_free ? m.swap_total - m.swap_free : 0, m.swap_total, "TOTAL SWAP");
  row("SWAP FREE", m.swap_free, m.swap_total, "TOTAL SWAP");
  out += "\n";
  row("COMMIT LIMIT", m.commit_limit, std::nullopt, "");
  row("COMMITTED", m.committed, m.commit_limit, "TOTAL LIMIT");
  for (const auto& w : m.warnings) out += fmt::format("kmem: warning: {}\n", w);
  return out;
}

nlohmann::ordered_json RenderKmemJson(const KmemResult& r) {
  if (r.mode == KmemResult::Mode::kAddress) return RenderKmemAddressJson(r);
  nlohmann::ordered_json j;
  auto block = [](const StatBlock& b) {
    nlohmann::ordered_json o;
    for (const auto& [name, v] : b.items) o[name] = v;
    return o;
  };
  if (r.mode == KmemResult::Mode::kVmStat) {
    for (const StatBlock& b : r.stats) j[b.title] = block(b);
    return j;
  }
  if (r.mode == KmemResult::Mode::kFree) {
    auto zones = nlohmann::ordered_json::array();
    uint64_t found = 0;
    for (const ZoneFreeArea& z : r.free_areas) {
      nlohmann::ordered_json x;
      x["node"] = z.node;
      x["zone"] = z.index;
      x["name"] = z.name;
      x["size"] = z.spanned;
      x["free"] = z.free;
      x["mem_map"] = fmt::format("{:#x}", z.mem_map);
      x["start_pfn"] = z.start_pfn;
      auto lists = nlohmann::ordered_json::array();
      for (const FreeList& f : z.lists) {
        lists.push_back({{"order", f.order}, {"free_list", fmt::format("{:#x}", f.list)}, {"blocks", f.blocks}});
        found += f.blocks << f.order;
      }
      x["lists"] = lists;
      zones.push_back(x);
    }
    j["zones"] = zones;
    j["nr_free_pages"] = r.nr_free_pages;
    j["found"] = found;
    return j;
  }
  if (r.mode == KmemResult::Mode::kZones) {
    auto zones = nlohmann::ordered_json::array();
    for (const ZoneStats& z : r.zones) {
      nlohmann::ordered_json x;
      x["node"] = z.node;
      x["zone"] = z.index;
      x["address"] = fmt::format("{:#x}", z.zone);
      x["name"] = z.name;
      x["spanned"] = z.spanned;
      x["present"] = z.present;
      x["min"] = z.min;
      x["low"] = z.low;
      x["high"] = z.high;
      x["vm_stat"] = block(z.vm_stat);
      zones.push_back(x);
    }
    j["zones"] = zones;
    return j;
  }
  if (r.mode == KmemResult::Mode::kSlabs) {
    auto caches = nlohmann::ordered_json::array();
    for (const SlabCacheInfo& c : r.caches) {
      nlohmann::ordered_json x;
      x["cache"] = fmt::format("{:#x}", c.cache);
      x["name"] = c.name;
      x["object_size"] = c.object_size;
      x["size"] = c.size;
      x["objects_per_slab"] = c.objects_per_slab;
      x["slab_size"] = c.slab_size;
      x["allocated"] = c.allocated();
      x["total"] = c.total;
      x["slabs"] = c.slabs;
      x["error"] = c.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.error);
      caches.push_back(x);
    }
    j["caches"] = caches;
    return j;
  }
  const KmemInfo& m = r.info;
  j["page_size"] = 4096;
  j["total_pages"] = m.total;
  j["free_pages"] = m.free;
  j["used_pages"] = m.total > m.free ? m.total - m.free : 0;
  j["shared_pages"] = m.shared;
  j["buffers_pages"] = m.buffers;
  j["cached_pages"] = m.cached;
  j["slab_pages"] = m.slab;
  j["huge_total_pages"] = m.huge_total;
  j["huge_free_pages"] = m.huge_free;
  j["swap_total_pages"] = m.swap_total;
  j["swap_free_pages"] = m.swap_free;
  j["commit_limit_pages"] = m.commit_limit;
  j["committed_pages"] = m.committed;
  j["warnings"] = m.warnings;
  return j;
}

}  // namespace coroner
