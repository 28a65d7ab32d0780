#include "lib/render/dispatch.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/commands/info.h"
#include "lib/render/info_render.h"
#include "lib/render/log_render.h"
#include "lib/render/symbol_render.h"
#include "lib/commands/print.h"
#include "lib/render/memory_render.h"
#include "lib/render/task_render.h"
#include "lib/commands/eval.h"
#include "lib/render/system_render.h"
#include "lib/kernel/value_format.h"
#include "lib/render/dis_render.h"

namespace coroner {
namespace {

using Args = std::vector<std::string>;
using Handler = std::function<Result<std::string>(const Session&, const Args&, bool json)>;

template <typename RunFn, typename TextFn, typename JsonFn>
Handler Make(RunFn run, TextFn text, JsonFn js) {
  return [=](const Session& s, const Args& a, bool json) -> Result<std::string> {
    CORONER_TRY(auto r, run(s, a));
    if (json) return js(r).dump(2) + "\n";
    return text(r);
  };
}

// `task [PID|TASK]...`: the task_struct (and thread_info) of tasks, in gdb's layout as crash
// prints it; the panic task by default.
Result<std::string> RunTaskCommand(const Session& s, const Args& args, bool json) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(TypeId task_type, k->StructType("task_struct"));
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, args));
  ValueFormatter f(k->types(), k->memory(), &k->symbols());
  std::string out;
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const TaskInfo* t : tasks) {
    CORONER_TRY(std::string body, f.Format(task_type, t->task, false));
    if (json) {
      nlohmann::ordered_json j = TaskJson(*t);
      j["task_struct"] = body;
      arr.push_back(j);
      continue;
    }
    out += fmt::format("PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n", t->pid, t->task, t->cpu, t->comm);
    out += "struct task_struct " + body + "\n\n";
    // With THREAD_INFO_IN_TASK the thread_info is the task's first member; crash prints it too.
    if (auto ti = k->FieldOf("task_struct", "thread_info"); ti && ti->offset == 0) {
      if (auto tit = k->StructType("thread_info")) {
        CORONER_TRY(std::string tbody, f.Format(*tit, t->task, false));
        out += "struct thread_info " + tbody + "\n\n";
      }
    }
  }
  if (json) return arr.dump(2) + "\n";
  return out;
}

// `foreach [PID|TASK|NAME|STATE|-k|-u]... COMMAND [FLAGS]`: runs bt, ps or task for each
// selected task.
Result<std::string> RunForeach(const Session& s, const Args& args, bool json) {
  static const std::vector<std::string> kCommands = {"bt", "ps", "task"};
  static const std::vector<std::string> kStates = {"RU", "IN", "UN", "ZO", "ST", "TR", "DE", "PA", "WA", "ID", "NE"};
  CORONER_TRY(const TaskList* tl, s.Tasks());
  size_t i = 0;
  std::vector<std::string> selectors;
  bool kernel = false, user = false;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (std::find(kCommands.begin(), kCommands.end(), a) != kCommands.end()) break;
    if (a == "-k") kernel = true;
    else if (a == "-u") user = true;
    else selectors.push_back(a);
  }
  if (i == args.size()) {
    return Error(ErrorCode::kInvalidArgument, "no command given (foreach supports bt, ps and task)");
  }
  std::string command = args[i];
  Args flags(args.begin() + static_cast<long>(i) + 1, args.end());
  std::vector<const TaskInfo*> chosen;
  for (const TaskInfo& t : tl->tasks) {
    if (kernel && !t.IsKernelThread()) continue;
    if (user && t.IsKernelThread()) continue;
    bool match = selectors.empty();
    for (const std::string& sel : selectors) {
      if (std::find(kStates.begin(), kStates.end(), sel) != kStates.end()) {
        match |= t.StateName() == sel;
      } else if (sel == std::to_string(t.pid) || sel == fmt::format("{:x}", t.task) ||
                 sel == fmt::format("{:#x}", t.task) || sel == t.comm) {
        match = true;
      }
    }
    if (match) chosen.push_back(&t);
  }
  for (const std::string& sel : selectors) {
    bool known = std::find(kStates.begin(), kStates.end(), sel) != kStates.end();
    for (const TaskInfo& t : tl->tasks) {
      known |= sel == std::to_string(t.pid) || sel == fmt::format("{:x}", t.task) ||
               sel == fmt::format("{:#x}", t.task) || sel == t.comm;
    }
    if (!known) return Error(ErrorCode::kInvalidArgument, fmt::format("unknown argument: \"{}\"", sel));
  }
  if (chosen.empty()) return std::string();
  std::string line = command;
  for (const std::string& f : flags) line += " " + f;
  for (const TaskInfo* t : chosen) line += fmt::format(" {:x}", t->task);
  return ExecuteCommand(s, line, json);
}

// `bug [ADDR]...`: the BUG()/WARN() table entry of each ud2 address, or every entry. A coroner
// extension: `bt` uses it on exception frames.
Result<std::string> RunBugCommand(const Session& s, const Args& args, bool json) {
  CORONER_TRY(const BugTable* bugs, s.Bugs());
  std::vector<BugEntry> entries;
  if (args.empty()) {
    entries = bugs->All();
  } else {
    for (const std::string& a : args) {
      char* end = nullptr;
      uint64_t addr = std::strtoull(a.c_str(), &end, 16);
      if (!end || *end) return Error(ErrorCode::kInvalidArgument, fmt::format("not an address: {}", a));
      auto e = bugs->Find(addr);
      if (!e) return Error(ErrorCode::kNotFound, fmt::format("{:#x} is not a BUG()/WARN() site", addr));
      entries.push_back(*e);
    }
  }
  if (json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const BugEntry& e : entries) {
      nlohmann::ordered_json j;
      j["address"] = fmt::format("{:#x}", e.addr);
      j["file"] = e.file;
      j["line"] = e.line;
      j["flags"] = e.flags;
      j["warning"] = e.Warning();
      j["format"] = e.format;
      arr.push_back(j);
    }
    return arr.dump(2) + "\n";
  }
  std::string out;
  for (const BugEntry& e : entries) out += fmt::format("{:016x}  {}\n", e.addr, e.Describe());
  return out;
}

std::string RenderEvalText(const EvalResult& r) {
  uint64_t v = r.value;
  std::string unit;
  if (v && v % (1ull << 30) == 0) unit = fmt::format("({}GB)", v >> 30);
  else if (v && v % (1ull << 20) == 0) unit = fmt::format("({}MB)", v >> 20);
  else if (v && v % (1ull << 10) == 0) unit = fmt::format("({}KB)", v >> 10);
  std::string neg = static_cast<int64_t>(v) < 0 ? fmt::format("({})", static_cast<int64_t>(v)) : "";
  return fmt::format("hexadecimal: {:x}  {}\n    decimal: {}  {}\n      octal: {:o}\n     binary: {:064b}\n", v, unit, v,
                     neg, v, v);
}

nlohmann::ordered_json RenderEvalJson(const EvalResult& r) {
  return {{"expression", r.expression}, {"value", r.value}, {"signed", static_cast<int64_t>(r.value)},
          {"hex", fmt::format("{:#x}", r.value)}};
}

// `set [PID|TASK]`: shows, or changes, the task that bt and task use by default.
Result<std::string> RunSetCommand(const Session& s, const Args& args, bool json) {
  if (args.size() > 1) return Error(ErrorCode::kUnsupported, "set takes one PID or task address");
  CORONER_TRY(const TaskList* tl, s.Tasks());
  if (args.size() == 1) {
    const std::string& a = args[0];
    auto hits = tl->Match(a, false);
    if (hits.size() > 1) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("PID {} has {} tasks (one per CPU): give a task address", a, hits.size()));
    }
    const TaskInfo* t = hits.empty() ? nullptr : hits[0];
    if (!t) return Error(ErrorCode::kNotFound, fmt::format("invalid task or pid value: {}", a));
    CORONER_TRY_VOID(s.SetContext(t->task));
  }
  CORONER_TRY(const TaskInfo* t, s.ContextTask());
  int panic_cpu = s.PanicCpu();
  if (json) {
    auto j = TaskJson(*t);
    j["state_name"] = TaskStateLongName(*t);
    j["panic"] = t->active && t->cpu == panic_cpu;
    return j.dump(2) + "\n";
  }
  return RenderTaskHeader(*t, panic_cpu);
}

const std::map<std::string, std::pair<Handler, const char*>>& Commands() {
  static const auto* table = new std::map<std::string, std::pair<Handler, const char*>>{
      {"vtop", {[](const Session& s, const Args& a, bool json) -> Result<std::string> {
                  // -u, -c or a user-half address: the task's page tables (crash's UVADDR).
                  bool user = false;
                  for (const std::string& w : a) {
                    if (w == "-u" || w == "-c") user = true;
                    if (!w.empty() && w[0] != '-') {
                      auto v = ParseHexArg(w);
                      if (v && *v < 0x0000800000000000ull) user = true;
                    }
                  }
                  if (user) return Make(RunUserVtop, RenderUserVtopText, RenderUserVtopJson)(s, a, json);
                  return Make(RunVtop, RenderVtopText, RenderVtopJson)(s, a, json);
                },
                "virtual to physical with the page-table walk: vtop [-c PID|TASK] [-u] ADDRESS..."}},
      {"ptov", {Make(RunPtov, RenderPtovText, RenderPtovJson), "physical to direct-map virtual"}},
      {"ptob", {Make(RunPtob, RenderPageConvText,
                     [](const auto& r) { return RenderPageConvJson(r, "pfn", "physical"); }),
                "page frame number to physical address"}},
      {"btop", {Make(RunBtop, RenderPageConvText,
                     [](const auto& r) { return RenderPageConvJson(r, "physical", "pfn"); }),
                "physical address to page frame number"}},
      {"log", {Make(RunLog, RenderLogText, RenderLogJson), "the kernel log: log [-t] [-m]"}},
      {"sym", {Make(RunSym, RenderSymText, RenderSymJson), "symbols: sym NAME|ADDR..., sym -l, sym -q STRING"}},
      {"struct", {Make([](const Session& s, const Args& a) { return RunStruct(s, a, "struct"); },
                       RenderStructText, RenderStructJson),
                  "a structure's layout, or its contents at an address: struct NAME[.member,...] [-o] [-x|-d] "
                  "[-l OFFSET|s.m] [ADDR|SYMBOL[:cpuspec]] [COUNT|-c COUNT]; also *NAME ADDR and NAME ADDR"}},
      {"union", {Make([](const Session& s, const Args& a) { return RunStruct(s, a, "union"); },
                      RenderStructText, RenderStructJson),
                 "a union's layout or contents: as struct"}},
      {"whatis", {Make(RunWhatis, RenderStructText, RenderStructJson), "a type's definition: whatis TYPE"}},
      {"p", {Make(RunPrint, RenderPrintText, RenderPrintJson),
              "print a global: p [&]GLOBAL[:CPUSPEC][.member|->member|[i]]..."}},
      {"rd", {Make(RunRd, RenderRdText, RenderRdJson), "read memory: rd [-8|-16|-32|-64] [-p|-u] [-a] [-s] [-x] [-d] ADDR|SYMBOL[+OFF] [COUNT]"}},
      {"ps", {Make(RunPs, RenderPsText, RenderPsJson),
               "tasks: ps [-k|-u] [-G] [-p|-c|-t|-a] [PID|TASK|COMMAND]..."}},
      {"sys", {Make(RunSys, RenderSysText, RenderSysJson), "system summary: sys [-t] [-c [NAME|NUMBER]]"}},
      {"bt", {Make(RunBt, RenderBtText, RenderBtJson),
               "backtrace (ORC from the dump): bt [-a] [-c CPU] [-s] [-f] [-t] [-l] [PID|TASK]..."}},
      {"mod", {Make(RunMod, RenderModText, RenderModJson),
               "loaded modules: mod; load a module's debug .ko: mod -s MODULE [FILE], every module's: mod -S [DIR]"}},
      {"kmem", {Make(RunKmem, RenderKmemText, RenderKmemJson), "memory: kmem -i (summary), -s (slab caches), -z (zones), -V (vm counters), -f (free lists), kmem ADDRESS... (what it belongs to)"}},
      {"task", {RunTaskCommand, "a task's task_struct and thread_info: task [PID|TASK]..."}},
      {"foreach", {RunForeach, "run bt, ps or task for tasks: foreach [PID|TASK|NAME|STATE|-k|-u]... bt|ps|task [flags]"}},
      {"bug", {RunBugCommand, "BUG()/WARN() sites from the kernel's bug table: bug [ADDR]..."}},
      {"eval", {Make(RunEval, RenderEvalText, RenderEvalJson), "evaluate an expression: eval EXPR"}},
      {"set", {RunSetCommand, "show or set the current task context: set [PID|TASK]"}},
      {"list", {Make(RunList, RenderWalkText, RenderWalkJson),
                "walk a linked list: list [-o OFFSET|struct.member] [-s struct[.member,...]] [-H|-h] START"}},
      {"tree", {Make(RunTree, RenderWalkText, RenderWalkJson),
                "walk a tree: tree [-t rbtree|radix|xarray|maple] [-r OFF|s.m] [-o OFF|s.m] [-s struct[.m,...]] "
                "[-l] [-p] [-N] START"}},
      {"dis", {Make(RunDis, RenderDisText, RenderDisJson),
               "disassemble: dis [-r|-f] [-l] SYMBOL|ADDR|SYMBOL+OFF [COUNT]"}},
      {"mount", {Make(RunMount, RenderMountText, RenderMountJson), "mounted filesystems: mount"}},
      {"dev", {Make(RunDev, RenderDevText, RenderDevJson), "devices: dev (character and block devices), dev -i (I/O port and memory resources), dev -d/-D (disk I/O in flight)"}},
      {"swap", {Make(RunSwap, RenderSwapText, RenderSwapJson), "swap devices: swap"}},
      {"files", {[](const Session& s, const Args& a, bool json) -> Result<std::string> {
                   if (!a.empty() && a[0] == "-d") {
                     if (a.size() != 2) return Error(ErrorCode::kInvalidArgument, "files -d takes one dentry address");
                     CORONER_TRY(uint64_t dentry, ParseHexArg(a[1]));
                     return Make([dentry](const Session& ss, const Args&) { return RunFilesDentry(ss, dentry); },
                                 RenderFilesDentryText, RenderFilesDentryJson)(s, a, json);
                   }
                   return Make(RunFiles, RenderFilesText, RenderFilesJson)(s, a, json);
                 },
                 "open files of tasks: files [PID|TASK]...; one dentry: files -d DENTRY"}},
      {"fuser", {Make(RunFuser, RenderFuserText, RenderFuserJson), "tasks using a file: fuser PATH|ADDRESS..."}},
      {"vm", {[](const Session& s, const Args& a, bool json) -> Result<std::string> {
                if (std::find(a.begin(), a.end(), "-m") == a.end()) {
                  return Make(RunVm, RenderVmText, RenderVmJson)(s, a, json);
                }
                // vm -m: the task's mm_struct in gdb's layout, as crash prints it.
                Args rest;
                for (const std::string& w : a) {
                  if (w != "-m") rest.push_back(w);
                }
                CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, rest));
                CORONER_TRY(const Kernel* k, s.GetKernel());
                CORONER_TRY(TypeId mm_type, k->StructType("mm_struct"));
                ValueFormatter f(k->types(), k->memory(), &k->symbols());
                std::string out;
                nlohmann::ordered_json arr = nlohmann::ordered_json::array();
                for (const TaskInfo* t : tasks) {
                  std::string body = "(no mm_struct: a kernel thread)";
                  if (t->mm) {
                    CORONER_TRY(body, f.Format(mm_type, t->mm, false));
                  }
                  if (json) {
                    nlohmann::ordered_json j = TaskJson(*t);
                    j["mm"] = fmt::format("{:#x}", t->mm);
                    j["mm_struct"] = t->mm ? nlohmann::ordered_json(body) : nlohmann::ordered_json(nullptr);
                    arr.push_back(j);
                    continue;
                  }
                  out += TaskHeaderLine(*t);
                  out += t->mm ? "struct mm_struct " + body + "\n" : body + "\n";
                }
                if (json) return arr.dump(2) + "\n";
                return out;
              },
              "a task's address space (VMAs): vm [-p|-m] [PID|TASK]..."}},
      {"ipcs", {Make(RunIpcs, RenderIpcsText, RenderIpcsJson), "System V IPC objects: ipcs [-m] [-s] [-q]"}},
      {"net", {Make(RunNet, RenderNetText, RenderNetJson),
                "network devices and their IPv4/IPv6 addresses: net; a task's sockets: net -s [PID|TASK]...; the ARP cache: net -a"}},
      {"irq", {Make(RunIrq, RenderIrqText, RenderIrqJson), "IRQ descriptors and actions: irq; per-CPU counts: irq -s; softirq vectors: irq -b"}},
      {"runq", {Make(RunRunq, RenderRunqText, RenderRunqJson), "per-CPU run queues (RT, CFS): runq [-t]"}},
      {"waitq", {Make(RunWaitq, RenderWaitqText, RenderWaitqJson),
                 "tasks on a wait queue: waitq SYMBOL | STRUCT.MEMBER ADDRESS | ADDRESS"}},
      {"sig", {Make(RunSig, RenderSigText, RenderSigJson), "signal handlers, blocked and pending signals: sig [PID|TASK]..."}},
      {"timer", {Make(RunTimer, RenderTimerText, RenderTimerJson), "pending timers: timer (the timer wheel), timer -r (hrtimers)"}},
      {"info", {[](const Session& s, const Args&, bool json) -> Result<std::string> {
                  InfoResult r = CollectInfo(s.dump());
                  return json ? RenderInfoJson(r).dump(2) + "\n" : RenderInfoText(r);
                },
                "what the dump file says about itself"}},
      {"help", {[](const Session&, const Args&, bool) -> Result<std::string> {
                  std::string out;
                  for (const auto& [name, h] : Commands()) out += fmt::format("{:<8} {}\n", name, h.second);
                  return out;
                },
                "list the commands"}},
  };
  return *table;
}

}  // namespace

std::vector<std::string> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0; else cur.push_back(c);
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const auto& [name, _] : Commands()) names.push_back(name);
  return names;
}

Result<std::string> ExecuteCommand(const Session& session, std::string_view line, bool json) {
  Args words = SplitCommandLine(line);
  if (words.empty()) return std::string();
  // crash's "*" pointer-to command (`*page ADDR`, `* page ADDR`), and its short form that drops
  // the command name when the first word names a struct or union (`task_struct.pid ADDR`).
  if (words[0][0] == '*') {
    Args rest(words.begin() + 1, words.end());
    std::string name = words[0].substr(1);
    if (name.empty()) {
      if (rest.empty()) return Error(ErrorCode::kInvalidArgument, "*: a struct or union name is required");
      name = rest[0];
      rest.erase(rest.begin());
    }
    return Make([&](const Session& s, const Args& a) { return RunPointerTo(s, name, a); }, RenderStructText,
                RenderStructJson)(session, rest, json);
  }
  auto it = Commands().find(words[0]);
  if (it == Commands().end() && NamesAggregate(session, words[0])) {
    return Make([](const Session& s, const Args& a) { return RunPointerTo(s, a[0], Args(a.begin() + 1, a.end())); },
                RenderStructText, RenderStructJson)(session, words, json);
  }
  if (it == Commands().end()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: command not supported yet (\"help\" lists the commands)", words[0]));
  }
  // --minimal: what reads only memory, symbols and types, never a kernel list.
  static const std::vector<std::string> kMinimal = {"log", "rd", "sym", "dis", "vtop", "ptov", "ptob", "btop",
                                                    "struct", "union", "whatis", "p", "eval", "info", "help"};
  if (session.minimal() && std::find(kMinimal.begin(), kMinimal.end(), words[0]) == kMinimal.end()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: not available in --minimal mode (available: log rd sym dis vtop ptov ptob "
                             "btop struct union whatis p eval info help)", words[0]));
  }
  Args args(words.begin() + 1, words.end());
  auto r = it->second.first(session, args, json);
  if (!r) {
    std::string msg = r.error().message();
    if (msg.rfind(words[0] + ":", 0) == 0) return std::move(r).error();
    return std::move(r).error().WithContext(words[0]);
  }
  return r;
}

}  // namespace coroner
