// `coroner info DUMP...`: what a dump file says about itself. Builds a structured result;
// lib/render turns it into text or JSON.
//
//   CORONER_TRY(auto dump, OpenDump(paths));
//   InfoResult info = CollectInfo(*dump);
//   std::cout << RenderInfoText(info);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/arch/x86_64.h"
#include "lib/dump/dump.h"

namespace coroner {

struct InfoResult {
  DumpInfo dump;  // format, files, headers, vmcoreinfo, notes
  PageCounts pages;
  std::optional<std::string> kernel_release;
  std::optional<int64_t> crash_time;  // seconds since the epoch
  std::string crash_time_source;      // "VMCOREINFO CRASHTIME" or "kdump header timestamp"
  std::vector<CpuRegisters> cpus;
  std::vector<std::string> warnings;
};

InfoResult CollectInfo(const Dump& dump);

}  // namespace coroner
