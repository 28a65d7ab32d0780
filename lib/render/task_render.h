// Text (crash's layout) and JSON for the task commands: ps, sys.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/ps.h"

namespace coroner {

std::string RenderPsText(const PsResult& r);
nlohmann::ordered_json RenderPsJson(const PsResult& r);
nlohmann::ordered_json TaskJson(const TaskInfo& t);

}  // namespace coroner
