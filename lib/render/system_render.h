// Text (crash 8.0.2's layout) and JSON for the inspection commands: mount, swap, files, vm, ipcs.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lib/commands/fs_commands.h"

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

}  // namespace coroner

#include "lib/commands/vm.h"

namespace coroner {

std::string RenderVmText(const VmResult& r);
nlohmann::ordered_json RenderVmJson(const VmResult& r);

}  // namespace coroner

#include "lib/commands/ipcs.h"

namespace coroner {

std::string RenderIpcsText(const IpcsResult& r);
nlohmann::ordered_json RenderIpcsJson(const IpcsResult& r);

}  // namespace coroner

#include "lib/commands/net.h"

namespace coroner {

std::string RenderNetText(const NetResult& r);
nlohmann::ordered_json RenderNetJson(const NetResult& r);

}  // namespace coroner

#include "lib/commands/irq.h"

namespace coroner {

std::string RenderIrqText(const IrqResult& r);
nlohmann::ordered_json RenderIrqJson(const IrqResult& r);

}  // namespace coroner

namespace coroner {

std::string RenderUserVtopText(const std::vector<UserVtopResult>& r);
nlohmann::ordered_json RenderUserVtopJson(const std::vector<UserVtopResult>& r);

}  // namespace coroner

#include "lib/commands/runq.h"

namespace coroner {

std::string RenderRunqText(const RunqResult& r);
nlohmann::ordered_json RenderRunqJson(const RunqResult& r);

}  // namespace coroner

namespace coroner {

std::string RenderFilesDentryText(const DentryResult& r);
nlohmann::ordered_json RenderFilesDentryJson(const DentryResult& r);
std::string RenderFuserText(const std::vector<FuserResult>& r);
nlohmann::ordered_json RenderFuserJson(const std::vector<FuserResult>& r);

}  // namespace coroner

#include "lib/commands/waitq.h"

namespace coroner {

std::string RenderWaitqText(const WaitqResult& r);
nlohmann::ordered_json RenderWaitqJson(const WaitqResult& r);

}  // namespace coroner

#include "lib/commands/sig.h"

namespace coroner {

std::string RenderSigText(const SigResult& r);
nlohmann::ordered_json RenderSigJson(const SigResult& r);

}  // namespace coroner

#include "lib/commands/timer.h"

namespace coroner {

std::string RenderTimerText(const TimerResult& r);
nlohmann::ordered_json RenderTimerJson(const TimerResult& r);

}  // namespace coroner
