#include "lib/render/log_render.h"

#include <fmt/format.h>

namespace coroner {

std::string RenderLogText(const LogResult& r) {
  std::string out;
  for (const PrintkRecord& rec : r.log.records) {
    if (r.options.levels && rec.level) {
      // crash puts the level after the timestamp: "[    0.000000] <6>Linux version ..."
      PrintkRecord copy = rec;
      copy.text = fmt::format("<{}>", *rec.level) + rec.text;
      out += FormatDmesgRecord(copy, r.options.timestamps);
    } else {
      out += FormatDmesgRecord(rec, r.options.timestamps);
    }
  }
  for (const auto& w : r.log.warnings) out += fmt::format("log: warning: {}\n", w);
  return out;
}

nlohmann::ordered_json RenderLogJson(const LogResult& r) {
  using json = nlohmann::ordered_json;
  json j;
  j["format"] = r.log.format;
  json recs = json::array();
  for (const PrintkRecord& rec : r.log.records) {
    json x;
    x["seq"] = rec.seq;
    x["ts_nsec"] = rec.ts_nsec;
    x["level"] = rec.level ? json(*rec.level) : json(nullptr);
    x["facility"] = rec.facility ? json(*rec.facility) : json(nullptr);
    x["caller_id"] = rec.caller_id ? json(*rec.caller_id) : json(nullptr);
    x["text"] = rec.text_missing ? json(nullptr) : json(rec.text);
    x["text_missing"] = rec.text_missing;
    recs.push_back(x);
  }
  j["records"] = recs;
  j["dropped"] = r.log.dropped;
  j["warnings"] = r.log.warnings;
  return j;
}

}  // namespace coroner
