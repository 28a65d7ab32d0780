// Text (crash 8.0.2's layout) and JSON for the inspection commands: mount, swap, files, fuser,
// vm, vtop -u, ipcs, net, irq, runq, waitq, sig, timer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/commands/dev.h"
#include "lib/commands/fs_commands.h"
#include "lib/commands/ipcs.h"
#include "lib/commands/irq.h"
#include "lib/commands/net.h"
#include "lib/commands/runq.h"
#include "lib/commands/sig.h"
#include "lib/commands/timer.h"
#include "lib/commands/vm.h"
#include "lib/commands/waitq.h"

namespace coroner {

// crash's mkstring(): `s` centred in `width` (the odd space goes right, or left with
// right_bias as CENTER|RJUST does); never truncated.
std::string CenterText(std::string_view s, size_t width, bool right_bias = false);

std::string RenderMountText(const MountResult& r);
nlohmann::ordered_json RenderMountJson(const MountResult& r);
std::string RenderSwapText(const SwapResult& r);
nlohmann::ordered_json RenderSwapJson(const SwapResult& r);
std::string RenderFilesText(const FilesResult& r);
nlohmann::ordered_json RenderFilesJson(const FilesResult& r);
// "PID: 107      TASK: ffff900dc2cfbe80  CPU: 0    COMMAND: \"helper\"\n"
std::string TaskHeaderLine(const TaskInfo& t);

std::string RenderVmText(const VmResult& r);
nlohmann::ordered_json RenderVmJson(const VmResult& r);

std::string RenderIpcsText(const IpcsResult& r);
nlohmann::ordered_json RenderIpcsJson(const IpcsResult& r);

std::string RenderNetText(const NetResult& r);
nlohmann::ordered_json RenderNetJson(const NetResult& r);

std::string RenderIrqText(const IrqResult& r);
std::string RenderDevText(const DevResult& r);
nlohmann::ordered_json RenderDevJson(const DevResult& r);
nlohmann::ordered_json RenderIrqJson(const IrqResult& r);

std::string RenderUserVtopText(const std::vector<UserVtopResult>& r);
nlohmann::ordered_json RenderUserVtopJson(const std::vector<UserVtopResult>& r);

std::string RenderRunqText(const RunqResult& r);
nlohmann::ordered_json RenderRunqJson(const RunqResult& r);

std::string RenderFilesDentryText(const DentryResult& r);
nlohmann::ordered_json RenderFilesDentryJson(const DentryResult& r);
std::string RenderFuserText(const std::vector<FuserResult>& r);
nlohmann::ordered_json RenderFuserJson(const std::vector<FuserResult>& r);

std::string RenderWaitqText(const WaitqResult& r);
nlohmann::ordered_json RenderWaitqJson(const WaitqResult& r);

std::string RenderSigText(const SigResult& r);
nlohmann::ordered_json RenderSigJson(const SigResult& r);

std::string RenderTimerText(const TimerResult& r);
nlohmann::ordered_json RenderTimerJson(const TimerResult& r);

}  // namespace coroner
