// Text (crash's layout) and JSON for sym, struct/union and whatis.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lib/commands/print.h"
#include "lib/commands/symbol_commands.h"
#include "lib/commands/walk.h"

namespace coroner {

std::string RenderSymText(const SymResult& r);
nlohmann::ordered_json RenderSymJson(const SymResult& r);
std::string RenderStructText(const StructResult& r);
nlohmann::ordered_json RenderStructJson(const StructResult& r);
std::string RenderPrintText(const PrintOutput& r);
// list and tree: an entry a line, then its position (-p) and structure (-s).
std::string RenderWalkText(const WalkResult& r);
nlohmann::ordered_json RenderWalkJson(const WalkResult& r);
nlohmann::ordered_json RenderPrintJson(const PrintOutput& r);

}  // namespace coroner
