// `dis` output: crash's text layout ("0xADDR <sym+off>:\tinstruction", "file: line" lines with
// -l) and JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/dis.h"

namespace coroner {

std::string RenderDisText(const DisResult& r);
nlohmann::ordered_json RenderDisJson(const DisResult& r);

}  // namespace coroner
