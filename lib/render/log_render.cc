#include "lib/render/log_render.h"

#include <fmt/format.h>

#include <ctime>

namespace coroner {

std::string CrashDate(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %T UTC %Y", &tm);
  return buf;
}

std::string RenderLogText(const LogResult& r) {
  const LogOptions& o = r.options;
  std::string out;
  for (const PrintkRecord& rec : r.log.records) {
    // As crash lays a record out: timestamp, caller, level, then the text, its continuation
    // lines (and -d's dictionary lines) indented to the text.
    std::string prefix;
    if (o.timestamps) {
      uint64_t sec = rec.ts_nsec / 1000000000;
      prefix = o.human_time && r.boot_time
                   ? fmt::format("[{}] ", CrashDate(*r.boot_time + static_cast<int64_t>(sec)))
                   : fmt::format("[{:5}.{:06}] ", sec, (rec.ts_nsec % 1000000000) / 1000);
    }
    if (o.caller && rec.caller_id) {
      uint32_t id = *rec.caller_id;
      std::string c = fmt::format("{}{}", (id & 0x80000000u) ? 'C' : 'T', id & ~0x80000000u);
      prefix += fmt::format("[{:>{}}] ", c, r.caller_width);
    }
    if (o.levels && rec.level) prefix += fmt::format("<{:x}>", *rec.level);
    PrintkRecord body = rec;
    if (o.dictionary) {
      if (!rec.subsystem.empty()) body.text += "\nSUBSYSTEM=" + rec.subsystem;
      if (!rec.device.empty()) body.text += "\nDEVICE=" + rec.device;
    }
    out += FormatDmesgRecord(body, prefix);
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
    if (!rec.subsystem.empty()) x["subsystem"] = rec.subsystem;
    if (!rec.device.empty()) x["device"] = rec.device;
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
