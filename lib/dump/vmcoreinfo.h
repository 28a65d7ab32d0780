// VMCOREINFO: the kernel's "KEY=VALUE" lines describing itself (kernel/crash_core.c). Parsed
// into typed maps; anything else is kept as key/values in file order.
//
//   Diagnostics diag;
//   Vmcoreinfo vi = ParseVmcoreinfo(text, diag);
//   uint64_t init_uts = vi.symbols.at("init_uts_ns");   // SYMBOL(init_uts_ns)=ffffffff...
//   std::optional<uint64_t> off = vi.Offset("task_struct", "tasks");
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/base/diagnostics.h"

namespace coroner {

struct Vmcoreinfo {
  std::string raw;  // the text as found
  std::optional<std::string> osrelease;
  std::optional<std::string> build_id;
  std::optional<uint64_t> page_size;
  std::optional<uint64_t> kernel_offset;  // KERNELOFFSET (KASLR slide), hex in the text
  std::optional<int64_t> crash_time;      // CRASHTIME, seconds since the epoch
  std::map<std::string, uint64_t> symbols;   // SYMBOL(x)
  std::map<std::string, uint64_t> sizes;     // SIZE(x)
  std::map<std::string, uint64_t> offsets;   // OFFSET(struct.member)
  std::map<std::string, uint64_t> lengths;   // LENGTH(x)
  std::map<std::string, int64_t> numbers;    // NUMBER(x) (may be negative)
  std::vector<std::pair<std::string, std::string>> others;  // everything else, in order
  std::vector<std::pair<std::string, std::string>> entries;  // every line, in order

  std::optional<uint64_t> Symbol(std::string_view name) const;
  std::optional<uint64_t> Size(std::string_view name) const;
  std::optional<uint64_t> Offset(std::string_view type, std::string_view member) const;
  std::optional<uint64_t> Length(std::string_view name) const;
  std::optional<int64_t> Number(std::string_view name) const;
};

Vmcoreinfo ParseVmcoreinfo(std::string_view text, Diagnostics& diag);

}  // namespace coroner
