// Fuzz target: the ELF vmcore opener (ELF header, program headers incl. PN_XNUM, PT_NOTE with
// VMCOREINFO, PT_LOAD segments), then every dumped page of the memory it presents.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "lib/base/byte_source.h"
#include "lib/dump/dump.h"
#include "lib/dump/elf_vmcore.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace coroner;
  auto bytes = fuzz::AsBytes(data, size);
  MemorySource src(std::vector<std::byte>(bytes.begin(), bytes.end()), "vmcore");
  Dump dump;
  auto r = OpenElfVmcore(src, dump);
  if (!r) return 0;
  FUZZ_CHECK(dump.memory != nullptr);
  FUZZ_CHECK(dump.info.page_size == dump.memory->page_size());
  fuzz::ExerciseMemory(*dump.memory);
  return 0;
}
