#include "lib/dump/vmcoreinfo.h"

#include <charconv>

#include <fmt/format.h>

namespace coroner {
namespace {

template <typename T>
std::optional<T> ParseNumber(std::string_view s, int base) {
  if (s.empty()) return std::nullopt;
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "SYMBOL(name)" -> ("SYMBOL", "name"); "OSRELEASE" -> ("OSRELEASE", "").
std::pair<std::string_view, std::string_view> SplitKey(std::string_view key) {
  auto open = key.find('(');
  if (open == std::string_view::npos || key.back() != ')') return {key, {}};
  return {key.substr(0, open), key.substr(open + 1, key.size() - open - 2)};
}

template <typename Map>
std::optional<typename Map::mapped_type> Find(const Map& m, std::string_view k) {
  auto it = m.find(std::string(k));
  if (it == m.end()) return std::nullopt;
  return it->second;
}

}  // namespace

std::optional<uint64_t> Vmcoreinfo::Symbol(std::string_view name) const { return Find(symbols, name); }
std::optional<uint64_t> Vmcoreinfo::Size(std::string_view name) const { return Find(sizes, name); }
std::optional<uint64_t> Vmcoreinfo::Length(std::string_view name) const { return Find(lengths, name); }
std::optional<int64_t> Vmcoreinfo::Number(std::string_view name) const { return Find(numbers, name); }
std::optional<uint64_t> Vmcoreinfo::Offset(std::string_view type, std::string_view member) const {
  return Find(offsets, fmt::format("{}.{}", type, member));
}

Vmcoreinfo ParseVmcoreinfo(std::string_view text, Diagnostics& diag) {
  Vmcoreinfo vi;
  // The note's descriptor is NUL-padded; the text stops at the first NUL.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  vi.raw = std::string(text);
  size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      diag.Warn(fmt::format("VMCOREINFO line {}: no '=' in \"{}\"", line_no, line.substr(0, 60)));
      continue;
    }
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    vi.entries.emplace_back(std::string(key), std::string(value));
    auto [kind, arg] = SplitKey(key);
    bool ok = true;
    auto bad = [&] {
      ok = false;
      diag.Warn(fmt::format("VMCOREINFO line {}: bad value for {}: \"{}\"", line_no, key,
                            value.substr(0, 40)));
    };
    if (!arg.empty()) {
      std::string name(arg);
      if (kind == "SYMBOL") {
        if (auto v = ParseNumber<uint64_t>(value, 16)) vi.symbols[name] = *v; else bad();
      } else if (kind == "SIZE") {
        if (auto v = ParseNumber<uint64_t>(value, 10)) vi.sizes[name] = *v; else bad();
      } else if (kind == "OFFSET") {
        if (auto v = ParseNumber<uint64_t>(value, 10)) vi.offsets[name] = *v; else bad();
      } else if (kind == "LENGTH") {
        if (auto v = ParseNumber<uint64_t>(value, 10)) vi.lengths[name] = *v; else bad();
      } else if (kind == "NUMBER") {
        // Decimal as VMCOREINFO_NUMBER prints it; some (x86's VMALLOC_START since 6.x) are
        // printed "0x%lx", a 64-bit pattern kept as its int64_t bits.
        if (value.starts_with("0x")) {
          if (auto v = ParseNumber<uint64_t>(value.substr(2), 16)) vi.numbers[name] = static_cast<int64_t>(*v); else bad();
        } else if (auto v = ParseNumber<int64_t>(value, 10)) {
          vi.numbers[name] = *v;
        } else {
          bad();
        }
      } else {
        vi.others.emplace_back(std::string(key), std::string(value));
      }
      continue;
    }
    if (key == "OSRELEASE") {
      vi.osrelease = std::string(value);
    } else if (key == "BUILD-ID") {
      vi.build_id = std::string(value);
    } else if (key == "PAGESIZE") {
      if (auto v = ParseNumber<uint64_t>(value, 10)) vi.page_size = *v; else bad();
    } else if (key == "KERNELOFFSET") {
      if (auto v = ParseNumber<uint64_t>(value, 16)) vi.kernel_offset = *v; else bad();
    } else if (key == "CRASHTIME") {
      if (auto v = ParseNumber<int64_t>(value, 10)) vi.crash_time = *v; else bad();
    } else {
      vi.others.emplace_back(std::string(key), std::string(value));
    }
    (void)ok;
  }
  return vi;
}

}  // namespace coroner
