// Text (makedumpfile --dump-dmesg / crash `log` layout) and JSON for `log`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/log.h"

namespace coroner {

std::string RenderLogText(const LogResult& r);
nlohmann::ordered_json RenderLogJson(const LogResult& r);

}  // namespace coroner
