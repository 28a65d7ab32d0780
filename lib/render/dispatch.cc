#include "lib/render/dispatch.h"

#include <algorithm>
#include <functional>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/commands/info.h"
#include "lib/render/info_render.h"
#include "lib/render/log_render.h"
#include "lib/render/symbol_render.h"
#include "lib/commands/print.h"
#include "lib/render/memory_render.h"
#include "lib/render/dis_render.h"

namespace coroner {
namespace {

using Args = std::vector<std::string>;
using Handler = std::function<Result<std::string>(const Session&, const Args&, bool json)>;

template <typename RunFn, typename TextFn, typename JsonFn>
Handler Make(RunFn run, TextFn text, JsonFn js) {
  return [=](const Session& s, const Args& a, bool json) -> Result<std::string> {
    CORONER_TRY(auto r, run(s, a));
    if (json) return js(r).dump(2) + "\n";
    return text(r);
  };
}

const std::map<std::string, std::pair<Handler, const char*>>& Commands() {
  static const auto* table = new std::map<std::string, std::pair<Handler, const char*>>{
      {"vtop", {Make(RunVtop, RenderVtopText, RenderVtopJson), "kernel virtual to physical, with the page-table walk"}},
      {"ptov", {Make(RunPtov, RenderPtovText, RenderPtovJson), "physical to direct-map virtual"}},
      {"ptob", {Make(RunPtob, RenderPageConvText,
                     [](const auto& r) { return RenderPageConvJson(r, "pfn", "physical"); }),
                "page frame number to physical address"}},
      {"btop", {Make(RunBtop, RenderPageConvText,
                     [](const auto& r) { return RenderPageConvJson(r, "physical", "pfn"); }),
                "physical address to page frame number"}},
      {"log", {Make(RunLog, RenderLogText, RenderLogJson), "the kernel log: log [-t] [-m]"}},
      {"sym", {Make(RunSym, RenderSymText, RenderSymJson), "symbols: sym NAME|ADDR..., sym -l, sym -q STRING"}},
      {"struct", {Make([](const Session& s, const Args& a) { return RunStruct(s, a, "struct"); },
                       RenderStructText, RenderStructJson),
                  "a structure's layout: struct [-o] NAME"}},
      {"union", {Make([](const Session& s, const Args& a) { return RunStruct(s, a, "union"); },
                      RenderStructText, RenderStructJson),
                 "a union's layout: union [-o] NAME"}},
      {"whatis", {Make(RunWhatis, RenderStructText, RenderStructJson), "a type's definition: whatis TYPE"}},
      {"p", {Make(RunPrint,
                  [](const PrintResult& r) {
                    // crash names a bare global before gdb's "$N = ", and (its quirk) starts an
                    // array's value on the next line.
                    std::string lead = r.bare_symbol ? r.expression + " = " : std::string();
                    bool array = r.bare_symbol && !r.text.empty() && r.text[0] == '{' &&
                                 r.type.find('[') != std::string::npos;
                    return lead + fmt::format("${} = {}{}\n", r.number, array ? "\n " : "", r.text);
                  },
                  [](const PrintResult& r) {
                    nlohmann::ordered_json j;
                    j["expression"] = r.expression;
                    j["type"] = r.type;
                    j["address"] = r.address ? nlohmann::ordered_json(fmt::format("{:#x}", *r.address))
                                             : nlohmann::ordered_json(nullptr);
                    j["value"] = r.text;
                    return j;
                  }),
              "print a global: p [&]GLOBAL[.member|->member|[i]]..."}},
      {"rd", {Make(RunRd, RenderRdText, RenderRdJson), "read memory: rd [-8|-16|-32|-64] [-p] [-a] [-x] [-d] ADDR [COUNT]"}},
      {"dis", {Make(RunDis, RenderDisText, RenderDisJson),
               "disassemble: dis [-r|-f] [-l] SYMBOL|ADDR|SYMBOL+OFF [COUNT]"}},
      {"info", {[](const Session& s, const Args&, bool json) -> Result<std::string> {
                  InfoResult r = CollectInfo(s.dump());
                  return json ? RenderInfoJson(r).dump(2) + "\n" : RenderInfoText(r);
                },
                "what the dump file says about itself"}},
      {"help", {[](const Session&, const Args&, bool) -> Result<std::string> {
                  std::string out;
                  for (const auto& [name, h] : Commands()) out += fmt::format("{:<8} {}\n", name, h.second);
                  return out;
                },
                "list the commands"}},
  };
  return *table;
}

}  // namespace

std::vector<std::string> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) quote = 0; else cur.push_back(c);
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const auto& [name, _] : Commands()) names.push_back(name);
  return names;
}

Result<std::string> ExecuteCommand(const Session& session, std::string_view line, bool json) {
  Args words = SplitCommandLine(line);
  if (words.empty()) return std::string();
  auto it = Commands().find(words[0]);
  if (it == Commands().end()) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: command not supported yet (\"help\" lists the commands)", words[0]));
  }
  Args args(words.begin() + 1, words.end());
  auto r = it->second.first(session, args, json);
  if (!r) {
    std::string msg = r.error().message();
    if (msg.rfind(words[0] + ":", 0) == 0) return std::move(r).error();
    return std::move(r).error().WithContext(words[0]);
  }
  return r;
}

}  // namespace coroner
