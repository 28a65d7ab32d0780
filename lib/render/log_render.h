// Text (makedumpfile --dump-dmesg / crash `log` layout) and JSON for `log`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/log.h"

namespace coroner {

// crash's ctime_tz(): "Wed Dec  2 16:12:44 UTC 2026" (the dump's times are UTC); log -T and
// sys's DATE.
std::string CrashDate(int64_t t);

std::string RenderLogText(const LogResult& r);
nlohmann::ordered_json RenderLogJson(const LogResult& r);

}  // namespace coroner
