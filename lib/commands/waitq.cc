#include "lib/commands/waitq.h"

#include <fmt/format.h>

#include <cstdlib>

namespace coroner {

Result<WaitqResult> RunWaitq(const Session& s, const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2) {
    return Error(ErrorCode::kInvalidArgument, "usage: waitq SYMBOL | STRUCT.MEMBER ADDRESS | ADDRESS");
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(const TaskList* tl, s.Tasks());
  WaitqResult r;
  auto parse_hex = [](const std::string& a, uint64_t& v) {
    std::string hex = a.rfind("0x", 0) == 0 ? a.substr(2) : a;
    char* end = nullptr;
    v = std::strtoull(hex.c_str(), &end, 16);
    return !hex.empty() && end && !*end;
  };
  const std::string& a = args[0];
  size_t dot = a.find('.');
  if (args.size() == 1 && parse_hex(a, r.head)) {
  } else if (dot != std::string::npos) {
    if (args.size() != 2) return Error(ErrorCode::kInvalidArgument, fmt::format("must supply an address for {}", a.substr(0, dot)));
    uint64_t base = 0;
    if (!parse_hex(args[1], base)) return Error(ErrorCode::kInvalidArgument, fmt::format("invalid address: {}", args[1]));
    CORONER_TRY(r.head, k->FieldAddress(base, a.substr(0, dot), a.substr(dot + 1)));
  } else {
    CORONER_TRY(r.head, k->SymbolAddress(a));
    r.name = a;
  }
  CORONER_TRY(uint64_t list, k->FieldAddress(r.head, "wait_queue_head", "head"));
  CORONER_TRY(r.entries, k->ListEntries(list, "wait_queue_entry", "entry", 1 << 16));
  for (uint64_t e : r.entries) {
    CORONER_TRY(uint64_t priv, k->ReadField(e, "wait_queue_entry", "private"));
    r.privates.push_back(priv);
    if (const TaskInfo* t = tl->FindTask(priv)) r.tasks.push_back(*t);
  }
  return r;
}

}  // namespace coroner
