#include "lib/commands/info.h"

#include <fmt/format.h>

namespace coroner {

InfoResult CollectInfo(const Dump& dump) {
  InfoResult r;
  r.dump = dump.info;
  r.pages = dump.memory->CountPages();
  const auto& vi = dump.info.vmcoreinfo;
  if (vi && vi->osrelease) r.kernel_release = vi->osrelease;
  if (vi && vi->crash_time) {
    r.crash_time = vi->crash_time;
    r.crash_time_source = "VMCOREINFO CRASHTIME";
  }
  for (const HeaderSection& s : dump.info.headers) {
    for (const HeaderField& f : s.fields) {
      if (!r.kernel_release && f.name == "utsname.release") {
        if (auto* v = std::get_if<std::string>(&f.value); v && !v->empty()) r.kernel_release = *v;
      }
      if (!r.crash_time && f.name == "timestamp.tv_sec") {
        if (auto* v = std::get_if<int64_t>(&f.value); v && *v > 0) {
          r.crash_time = *v;
          r.crash_time_source = "kdump header timestamp";
        }
      }
    }
  }
  for (const ElfNote& n : dump.info.notes) {
    if (auto regs = DecodeX86_64Prstatus(n)) r.cpus.push_back(std::move(*regs));
  }
  if (r.cpus.empty()) {
    for (const ElfNote& n : dump.info.notes) {
      if (auto regs = DecodeX86_64QemuCpuState(n)) r.cpus.push_back(std::move(*regs));
    }
  }
  for (const auto& w : dump.diagnostics.warnings()) {
    r.warnings.push_back(w.count > 1 ? fmt::format("{} (x{})", w.message, w.count) : w.message);
  }
  return r;
}

}  // namespace coroner
