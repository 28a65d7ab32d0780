// Fuzz target: VMCOREINFO text (ParseVmcoreinfo).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "lib/dump/vmcoreinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coroner;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Diagnostics diag;
  Vmcoreinfo vi = ParseVmcoreinfo(text, diag);
  FUZZ_CHECK(vi.raw.size() <= size);
  FUZZ_CHECK(vi.entries.size() <= size);
  FUZZ_CHECK(vi.others.size() <= vi.entries.size());
  // The typed maps only hold keys that came from lines of the text.
  for (const auto& [name, value] : vi.symbols) FUZZ_CHECK(vi.Symbol(name) == value);
  for (const auto& [name, value] : vi.sizes) FUZZ_CHECK(vi.Size(name) == value);
  for (const auto& [name, value] : vi.lengths) FUZZ_CHECK(vi.Length(name) == value);
  for (const auto& [name, value] : vi.numbers) FUZZ_CHECK(vi.Number(name) == value);
  for (const auto& [key, value] : vi.offsets) {
    auto dot = key.find('.');
    if (dot != std::string::npos && key.find('.', dot + 1) == std::string::npos) {
      FUZZ_CHECK(vi.Offset(key.substr(0, dot), key.substr(dot + 1)) == value);
    }
  }
  (void)vi.Offset("task_struct", "tasks");
  (void)vi.Symbol("init_uts_ns");
  return 0;
}
