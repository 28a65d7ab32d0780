// Text (crash's layout) and JSON for the task commands: ps, sys.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/bt.h"
#include "lib/commands/kmem.h"
#include "lib/commands/mod.h"
#include "lib/commands/ps.h"
#include "lib/commands/sys.h"

namespace coroner {

std::string RenderPsText(const PsResult& r);
nlohmann::ordered_json RenderPsJson(const PsResult& r);
std::string RenderSysText(const SysResult& r);
nlohmann::ordered_json RenderSysJson(const SysResult& r);
// crash's size format: "767.5 MB", "2 GB".
std::string FormatMemorySize(uint64_t bytes);
std::string RenderBtText(const BtResult& r);
nlohmann::ordered_json RenderBtJson(const BtResult& r);
// crash's register block (RIP RSP RFLAGS / RAX RBX RCX / ... / ORIG_RAX CS SS), 4 spaces in.
std::string RenderRegisterBlock(const PtRegs& r);
std::string RenderModText(const ModResult& r);
nlohmann::ordered_json RenderModJson(const ModResult& r);
std::string RenderKmemText(const KmemResult& r);
nlohmann::ordered_json RenderKmemJson(const KmemResult& r);
nlohmann::ordered_json TaskJson(const TaskInfo& t);
// crash's task header (set, kmem ADDR): PID, COMMAND, TASK [THREAD_INFO], CPU, STATE (PANIC).
// `nth`/`of`: for PID 0, which of the per-CPU idle tasks this is ("(1 of 2)"), else 0.
std::string RenderTaskHeader(const TaskInfo& t, int panic_cpu, int nth = 0, int of = 0);
// crash's struct page line (PAGE PHYSICAL MAPPING INDEX CNT FLAGS), for kmem ADDR and vtop.
std::string RenderPageLine(const PageLine& p);
// TASK_RUNNING, TASK_INTERRUPTIBLE, ... for a task's state.
std::string TaskStateLongName(const TaskInfo& t);

}  // namespace coroner
