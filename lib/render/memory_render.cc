#include "lib/render/memory_render.h"

#include <cstring>

#include <fmt/format.h>

#include "lib/render/task_render.h"

namespace coroner {

std::string PteFlags(uint64_t e, bool leaf_is_huge) {
  struct Bit { int bit; const char* name; };
  static constexpr Bit kBits[] = {{0, "PRESENT"}, {1, "RW"},       {2, "USER"},  {3, "PWT"},
                                  {4, "PCD"},     {5, "ACCESSED"}, {6, "DIRTY"}, {7, "PSE"},
                                  {8, "GLOBAL"},  {63, "NX"}};
  std::string out;
  for (const Bit& b : kBits) {
    if (!((e >> b.bit) & 1)) continue;
    const char* name = b.name;
    if (b.bit == 7 && !leaf_is_huge) name = "PAT";
    if (!out.empty()) out += '|';
    out += name;
  }
  return out;
}

namespace {

std::string SizeSuffix(uint64_t page_size) {
  if (page_size == (1ull << 30)) return "  (1GB)";
  if (page_size == (2ull << 20)) return "  (2MB)";
  return "";
}

}  // namespace

std::string RenderVtopText(const std::vector<VtopResult>& results) {
  std::string out;
  for (size_t i = 0; i < results.size(); ++i) {
    const VtopResult& r = results[i];
    if (i) out += "\n";
    out += fmt::format("{:<18}{:<16}\n", "VIRTUAL", "PHYSICAL");
    out += fmt::format("{:016x}  {:<16x}\n\n", r.va, r.pa.value);
    const bool five = !r.steps.empty() && std::strcmp(r.steps[0].level, "PGD") == 0;
    out += fmt::format("PGD DIRECTORY: {:x}\n", r.pgd_va);  // crash says PGD for 4- and 5-level
    for (size_t k = 0; k < r.steps.size(); ++k) {
      const PageWalkStep& st = r.steps[k];
      if (k == 0) {
        out += fmt::format("PAGE DIRECTORY: {:x}\n", st.entry);
        continue;
      }
      const char* name = st.level;
      if (five && std::strcmp(name, "PML4") == 0) name = "P4D";
      out += fmt::format("   {}: {:x} => {:x}\n", name, st.entry_addr.value, st.entry);
    }
    uint64_t base = r.pa.value & ~(r.page_size - 1);
    out += fmt::format("  PAGE: {:x}{}\n\n", base, SizeSuffix(r.page_size));
    const PageWalkStep& leaf = r.steps.back();
    out += fmt::format("{:>9}{:<9}{:<10}{}\n", "PTE", "", "PHYSICAL", "FLAGS");
    out += fmt::format("{:016x}  {:>8x}  ({})\n", leaf.entry, base, PteFlags(leaf.entry, r.page_size > 4096));
    if (r.page) out += "\n" + RenderPageLine(*r.page);
  }
  return out;
}

nlohmann::ordered_json RenderVtopJson(const std::vector<VtopResult>& results) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const VtopResult& r : results) {
    nlohmann::ordered_json j;
    j["virtual"] = fmt::format("{:#x}", r.va);
    j["physical"] = fmt::format("{:#x}", r.pa.value);
    j["page_size"] = r.page_size;
    j["pgd"] = fmt::format("{:#x}", r.pgd_va);
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const PageWalkStep& st : r.steps) {
      steps.push_back({{"level", st.level},
                       {"entry_address", fmt::format("{:#x}", st.entry_addr.value)},
                       {"entry", fmt::format("{:#x}", st.entry)}});
    }
    j["walk"] = steps;
    arr.push_back(j);
  }
  return arr;
}

std::string RenderPtovText(const std::vector<PtovResult>& results) {
  std::string out = fmt::format("{:<18}{:<16}\n", "VIRTUAL", "PHYSICAL");
  for (const PtovResult& r : results) out += fmt::format("{:016x}  {:<16x}\n", r.va, r.pa);
  return out;
}

nlohmann::ordered_json RenderPtovJson(const std::vector<PtovResult>& results) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const PtovResult& r : results) {
    arr.push_back({{"physical", fmt::format("{:#x}", r.pa)}, {"virtual", fmt::format("{:#x}", r.va)}});
  }
  return arr;
}

std::string RenderPageConvText(const std::vector<PageConvResult>& results) {
  std::string out;
  for (const PageConvResult& r : results) out += fmt::format("{:x}: {:x}\n", r.in, r.out);
  return out;
}

nlohmann::ordered_json RenderPageConvJson(const std::vector<PageConvResult>& results, const char* in_name,
                                          const char* out_name) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const PageConvResult& r : results) {
    arr.push_back({{in_name, fmt::format("{:#x}", r.in)}, {out_name, fmt::format("{:#x}", r.out)}});
  }
  return arr;
}

std::string RenderRdText(const RdResult& r) {
  const RdOptions& o = r.options;
  std::string out;
  auto addr_col = [&](uint64_t a) {
    return o.physical || o.user ? fmt::format("{:>16x}:  ", a) : fmt::format("{:016x}:  ", a);
  };
  if (o.ascii_string) {
    std::string s;
    for (std::byte b : r.bytes) s.push_back(static_cast<char>(b));
    out = addr_col(o.address) + s + "\n";
  } else {
    const size_t per_line = 16 / o.unit;
    const size_t n = r.bytes.size() / o.unit;
    const bool ascii = !o.no_ascii && !o.decimal && !o.symbolic;
    for (size_t i = 0; i < n; i += per_line) {
      out += addr_col(o.address + i * o.unit);
      std::string text;
      size_t k = 0;
      for (; k < per_line && i + k < n; ++k) {
        const std::byte* p = r.bytes.data() + (i + k) * o.unit;
        uint64_t v = 0;
        std::memcpy(&v, p, o.unit);
        if (o.symbolic && !r.symbols[i + k].empty()) {
          out += fmt::format("{:<16} ", r.symbols[i + k]);
        } else if (o.decimal) {
          int64_t sv = o.unit == 8 ? static_cast<int64_t>(v)
                       : o.unit == 4 ? static_cast<int32_t>(v)
                       : o.unit == 2 ? static_cast<int16_t>(v) : static_cast<int8_t>(v);
          // crash's field widths for rd -d, by unit size.
          const int width = o.unit == 8 ? 15 : o.unit == 4 ? 12 : o.unit == 2 ? 5 : 3;
          out += fmt::format("{:>{}} ", sv, width);
        } else {
          out += fmt::format("{:0{}x} ", v, o.unit * 2);
        }
        for (unsigned b = 0; b < o.unit; ++b) {
          auto c = static_cast<unsigned char>(p[b]);
          text.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
        }
      }
      if (ascii) {
        out.append((per_line - k) * (o.unit * 2 + 1), ' ');
        out += "  " + text;
      }
      out += "\n";
    }
  }
  if (r.stopped) out += fmt::format("rd: {}\n", r.stopped->ToString());
  return out;
}

nlohmann::ordered_json RenderRdJson(const RdResult& r) {
  const RdOptions& o = r.options;
  nlohmann::ordered_json j;
  j["address"] = fmt::format("{:#x}", o.address);
  j["physical"] = o.physical;
  if (r.task) {
    j["user_pid"] = r.task->pid;
  }
  if (o.ascii_string) {
    std::string s;
    for (std::byte b : r.bytes) s.push_back(static_cast<char>(b));
    j["string"] = s;
  } else {
    j["unit"] = o.unit;
    nlohmann::ordered_json vals = nlohmann::ordered_json::array();
    for (size_t i = 0; i + o.unit <= r.bytes.size(); i += o.unit) {
      uint64_t v = 0;
      std::memcpy(&v, r.bytes.data() + i, o.unit);
      vals.push_back(fmt::format("{:#x}", v));
    }
    j["values"] = vals;
    if (o.symbolic) {
      nlohmann::ordered_json syms = nlohmann::ordered_json::array();
      for (const std::string& n : r.symbols) syms.push_back(n.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(n));
      j["symbols"] = syms;
    }
  }
  j["error"] = r.stopped ? nlohmann::ordered_json(r.stopped->ToString()) : nlohmann::ordered_json(nullptr);
  return j;
}

}  // namespace coroner
