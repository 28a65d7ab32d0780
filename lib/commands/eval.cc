#include "lib/commands/eval.h"

#include <fmt/format.h>

#include <cctype>

namespace coroner {
namespace {

class Parser {
 public:
  Parser(std::string_view text, const SymbolTable* syms) : s_(text), syms_(syms) {}

  Result<uint64_t> Parse() {
    CORONER_TRY(uint64_t v, Or());
    Skip();
    if (pos_ != s_.size()) return Fail(fmt::format("unexpected \"{}\"", s_.substr(pos_)));
    return v;
  }

 private:
  Error Fail(std::string what) const {
    return Error(ErrorCode::kInvalidArgument, fmt::format("invalid expression: {}", what));
  }
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Eat(std::string_view op) {
    Skip();
    if (s_.substr(pos_, op.size()) == op) {
      // "<" must not match the start of "<<" and so on.
      if (op.size() == 1 && pos_ + 1 < s_.size() && (op == "<" || op == ">") && s_[pos_ + 1] == op[0]) return false;
      pos_ += op.size();
      return true;
    }
    return false;
  }
  Result<uint64_t> Or() {
    CORONER_TRY(uint64_t v, Xor());
    while (Eat("|")) {
      CORONER_TRY(uint64_t r, Xor());
      v |= r;
    }
    return v;
  }
  Result<uint64_t> Xor() {
    CORONER_TRY(uint64_t v, And());
    while (Eat("^")) {
      CORONER_TRY(uint64_t r, And());
      v ^= r;
    }
    return v;
  }
  Result<uint64_t> And() {
    CORONER_TRY(uint64_t v, Shift());
    while (Eat("&")) {
      CORONER_TRY(uint64_t r, Shift());
      v &= r;
    }
    return v;
  }
  Result<uint64_t> Shift() {
    CORONER_TRY(uint64_t v, Sum());
    for (;;) {
      if (Eat("<<")) {
        CORONER_TRY(uint64_t r, Sum());
        v = r >= 64 ? 0 : v << r;
      } else if (Eat(">>")) {
        CORONER_TRY(uint64_t r, Sum());
        v = r >= 64 ? 0 : v >> r;
      } else {
        return v;
      }
    }
  }
  Result<uint64_t> Sum() {
    CORONER_TRY(uint64_t v, Product());
    for (;;) {
      if (Eat("+")) {
        CORONER_TRY(uint64_t r, Product());
        v += r;
      } else if (Eat("-")) {
        CORONER_TRY(uint64_t r, Product());
        v -= r;
      } else {
        return v;
      }
    }
  }
  Result<uint64_t> Product() {
    CORONER_TRY(uint64_t v, Unary());
    for (;;) {
      char op = 0;
      if (Eat("*")) op = '*';
      else if (Eat("/")) op = '/';
      else if (Eat("%")) op = '%';
      else return v;
      CORONER_TRY(uint64_t r, Unary());
      if (op != '*' && r == 0) return Fail("division by zero");
      v = op == '*' ? v * r : op == '/' ? v / r : v % r;
    }
  }
  Result<uint64_t> Unary() {
    if (Eat("-")) {
      CORONER_TRY(uint64_t v, Unary());
      return ~v + 1;
    }
    if (Eat("~")) {
      CORONER_TRY(uint64_t v, Unary());
      return ~v;
    }
    if (Eat("(")) {
      if (++depth_ > 64) return Fail("too deeply nested");
      CORONER_TRY(uint64_t v, Or());
      --depth_;
      if (!Eat(")")) return Fail("missing )");
      return v;
    }
    return Atom();
  }
  Result<uint64_t> Atom() {
    Skip();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' || s_[pos_] == '.')) ++pos_;
    std::string_view tok = s_.substr(start, pos_ - start);
    if (tok.empty()) return Fail(pos_ < s_.size() ? fmt::format("unexpected \"{}\"", s_.substr(pos_)) : "missing operand");
    if (std::isdigit(static_cast<unsigned char>(tok[0]))) {
      int base = 10;
      std::string_view digits = tok;
      uint64_t scale = 1;
      if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        base = 16;
        digits.remove_prefix(2);
      } else {
        char last = static_cast<char>(std::tolower(static_cast<unsigned char>(digits.back())));
        if (last == 'k' || last == 'm' || last == 'g') {
          scale = last == 'k' ? 1ull << 10 : last == 'm' ? 1ull << 20 : 1ull << 30;
          digits.remove_suffix(1);
        }
      }
      uint64_t v = 0;
      for (char c : digits) {
        int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                                                               : 99;
        if (d >= base) return Fail(fmt::format("bad number \"{}\"", tok));
        v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
      }
      return v * scale;
    }
    if (syms_) {
      if (const Symbol* sym = syms_->Find(tok)) return sym->address;
    }
    return Fail(fmt::format("unknown symbol \"{}\"", tok));
  }

  std::string_view s_;
  const SymbolTable* syms_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<uint64_t> EvaluateExpression(std::string_view expr, const SymbolTable* symbols) {
  return Parser(expr, symbols).Parse();
}

Result<EvalResult> RunEval(const Session& s, const std::vector<std::string>& args) {
  EvalResult r;
  for (const std::string& a : args) r.expression += (r.expression.empty() ? "" : " ") + a;
  if (r.expression.empty()) return Error(ErrorCode::kInvalidArgument, "an expression is required");
  const SymbolTable* syms = nullptr;
  if (auto t = s.AllSymbols()) syms = *t;
  CORONER_TRY(r.value, EvaluateExpression(r.expression, syms));
  return r;
}

}  // namespace coroner
