#include "lib/render/info_render.h"

#include <ctime>

#include <fmt/format.h>

namespace coroner {
namespace {

std::string FormatTime(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (!gmtime_r(&tt, &tm)) return fmt::format("{}", t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S UTC %Y", &tm);
  return buf;
}

std::string FieldText(const HeaderField& f) {
  if (auto* s = std::get_if<std::string>(&f.value)) return fmt::format("\"{}\"", *s);
  if (auto* u = std::get_if<uint64_t>(&f.value)) return f.hex ? fmt::format("{:#x}", *u) : fmt::format("{}", *u);
  int64_t i = std::get<int64_t>(f.value);
  return f.hex ? fmt::format("{:#x}", i) : fmt::format("{}", i);
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

}  // namespace

std::string RenderInfoText(const InfoResult& info) {
  const DumpInfo& d = info.dump;
  std::string out;
  auto line = [&](std::string_view key, const std::string& value) {
    out += fmt::format("{:>12}: {}\n", key, value);
  };
  line("DUMPFILES", Join(d.files, " "));
  line("FORMAT", d.format);
  line("MACHINE", d.machine);
  line("PAGE SIZE", fmt::format("{}", d.page_size));
  line("COMPRESSION", d.compression.empty() ? "(no pages)" : Join(d.compression, ", "));
  line("DUMP LEVEL", d.dump_level ? fmt::format("{}", *d.dump_level) : "(not recorded)");
  const PageCounts& p = info.pages;
  line("PAGES", fmt::format("total {}  present {}  dumped {}  excluded {}  truncated {}", p.total,
                            p.present, p.dumped, p.excluded, p.truncated));
  line("INCOMPLETE", d.incomplete ? "yes" : "no");
  for (const auto& why : d.incomplete_reasons) line("", why);
  if (!d.triage.empty()) line("TRIAGE", d.triage);
  line("RELEASE", info.kernel_release.value_or("(unknown)"));
  line("CRASH TIME", info.crash_time ? fmt::format("{} ({}, from {})", FormatTime(*info.crash_time),
                                                   *info.crash_time, info.crash_time_source)
                                     : "(unknown)");
  line("CPUS", fmt::format("{} register set(s) in notes", info.cpus.size()));

  for (const HeaderSection& s : d.headers) {
    out += fmt::format("\n{}:\n", s.title);
    for (const HeaderField& f : s.fields) out += fmt::format("  {:<20} {}\n", f.name, FieldText(f));
  }
  for (size_t i = 0; i < info.cpus.size(); ++i) {
    const CpuRegisters& c = info.cpus[i];
    out += fmt::format("\nCPU {} ({}{}):\n", i, c.source, c.pid ? fmt::format(", pid {}", *c.pid) : "");
    for (size_t k = 0; k < c.regs.size(); ++k) {
      out += fmt::format("  {:>14}: {:016x}", c.regs[k].first, c.regs[k].second);
      if (k % 3 == 2 || k + 1 == c.regs.size()) out += "\n";
    }
  }
  if (d.vmcoreinfo) {
    out += "\nVMCOREINFO:\n";
    for (const auto& [k, v] : d.vmcoreinfo->entries) out += fmt::format("  {}={}\n", k, v);
  } else {
    out += "\nVMCOREINFO: (none in this dump)\n";
  }
  for (const auto& w : info.warnings) out += fmt::format("\nwarning: {}", w);
  if (!info.warnings.empty()) out += "\n";
  return out;
}

nlohmann::ordered_json RenderInfoJson(const InfoResult& info) {
  using json = nlohmann::ordered_json;
  const DumpInfo& d = info.dump;
  json j;
  j["files"] = d.files;
  j["format"] = d.format;
  j["machine"] = d.machine;
  j["page_size"] = d.page_size;
  j["compression"] = d.compression;
  j["dump_level"] = d.dump_level ? json(*d.dump_level) : json(nullptr);
  j["pages"] = {{"total", info.pages.total},       {"present", info.pages.present},
                {"dumped", info.pages.dumped},     {"excluded", info.pages.excluded},
                {"truncated", info.pages.truncated}};
  j["incomplete"] = d.incomplete;
  j["incomplete_reasons"] = d.incomplete_reasons;
  if (!d.triage.empty()) j["triage"] = d.triage;
  j["kernel_release"] = info.kernel_release ? json(*info.kernel_release) : json(nullptr);
  j["crash_time"] = info.crash_time ? json(*info.crash_time) : json(nullptr);
  j["crash_time_source"] = info.crash_time ? json(info.crash_time_source) : json(nullptr);
  json headers = json::object();
  for (const HeaderSection& s : d.headers) {
    json fields = json::object();
    for (const HeaderField& f : s.fields) {
      std::visit([&](const auto& v) { fields[f.name] = v; }, f.value);
    }
    if (headers.contains(s.title)) {
      // Split sets repeat the header per file: keep a list.
      if (!headers[s.title].is_array()) headers[s.title] = json::array({headers[s.title]});
      headers[s.title].push_back(fields);
    } else {
      headers[s.title] = fields;
    }
  }
  j["headers"] = headers;
  json cpus = json::array();
  for (const CpuRegisters& c : info.cpus) {
    json cj;
    cj["source"] = c.source;
    cj["pid"] = c.pid ? json(*c.pid) : json(nullptr);
    json regs = json::object();
    for (const auto& [n, v] : c.regs) regs[n] = fmt::format("{:#018x}", v);
    cj["registers"] = regs;
    cpus.push_back(cj);
  }
  j["cpus"] = cpus;
  if (d.vmcoreinfo) {
    const Vmcoreinfo& vi = *d.vmcoreinfo;
    json v;
    v["osrelease"] = vi.osrelease ? json(*vi.osrelease) : json(nullptr);
    v["page_size"] = vi.page_size ? json(*vi.page_size) : json(nullptr);
    v["kernel_offset"] = vi.kernel_offset ? json(fmt::format("{:#x}", *vi.kernel_offset)) : json(nullptr);
    v["crash_time"] = vi.crash_time ? json(*vi.crash_time) : json(nullptr);
    v["build_id"] = vi.build_id ? json(*vi.build_id) : json(nullptr);
    json syms = json::object();
    for (const auto& [k, val] : vi.symbols) syms[k] = fmt::format("{:#x}", val);
    v["symbols"] = syms;
    v["sizes"] = vi.sizes;
    v["offsets"] = vi.offsets;
    v["lengths"] = vi.lengths;
    v["numbers"] = vi.numbers;
    json others = json::object();
    for (const auto& [k, val] : vi.others) others[k] = val;
    v["others"] = others;
    j["vmcoreinfo"] = v;
  } else {
    j["vmcoreinfo"] = nullptr;
  }
  j["warnings"] = info.warnings;
  return j;
}

}  // namespace coroner
