// Text and JSON renderings of `info`, both from the same InfoResult.
//
//   std::cout << RenderInfoText(result);
//   std::cout << RenderInfoJson(result).dump(2);
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/info.h"

namespace coroner {

std::string RenderInfoText(const InfoResult& info);
nlohmann::ordered_json RenderInfoJson(const InfoResult& info);

}  // namespace coroner
