// `eval EXPR`: 64-bit integer arithmetic as crash evaluates it (+ - * / % << >> & | ^ ~,
// parentheses, unary minus; decimal or 0x hex numbers with an optional k/m/g suffix; symbols
// stand for their addresses), shown in hexadecimal, decimal, octal and binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct EvalResult {
  std::string expression;
  uint64_t value = 0;
};

Result<EvalResult> RunEval(const Session& s, const std::vector<std::string>& args);
// Evaluates without a session (symbols unknown).
Result<uint64_t> EvaluateExpression(std::string_view expr, const SymbolTable* symbols);

}  // namespace coroner
