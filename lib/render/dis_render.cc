#include "lib/render/dis_render.h"

#include <fmt/format.h>

namespace coroner {

std::string RenderDisText(const DisResult& r) {
  std::string out;
  for (const std::string& n : r.notes) out += n + "\n";
  std::string last_source;
  for (const DisLine& l : r.lines) {
    // crash prints the line when it differs from the previous instruction's.
    if (r.line_numbers && l.source && *l.source != last_source) {
      out += *l.source + "\n";
      last_source = *l.source;
    }
    out += l.location.empty() ? fmt::format("{:#x}:\t{}\n", l.address, l.instruction)
                              : fmt::format("{:#x} <{}>:\t{}\n", l.address, l.location, l.instruction);
  }
  return out;
}

nlohmann::ordered_json RenderDisJson(const DisResult& r) {
  nlohmann::ordered_json j;
  j["notes"] = r.notes;
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const DisLine& l : r.lines) {
    nlohmann::ordered_json e;
    e["address"] = fmt::format("{:#x}", l.address);
    e["location"] = l.location;
    e["bytes"] = l.bytes;
    e["instruction"] = l.instruction;
    if (l.source) e["source"] = *l.source;
    arr.push_back(e);
  }
  j["instructions"] = arr;
  return j;
}

}  // namespace coroner
