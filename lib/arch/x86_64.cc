#include "lib/arch/x86_64.h"

#include "lib/base/byte_reader.h"

namespace coroner {

std::optional<uint64_t> CpuRegisters::Get(std::string_view name) const {
  for (const auto& [n, v] : regs) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::optional<CpuRegisters> DecodeX86_64Prstatus(const ElfNote& note) {
  static constexpr const char* kNames[] = {
      "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9",      "r8",      "rax", "rcx", "rdx", "rsi",
      "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"};
  if (note.name != "CORE" || note.type != kNtPrstatus || note.desc.size() < 336) return std::nullopt;
  ByteReader r(note.desc, Endian::kLittle);
  CpuRegisters out;
  out.source = "PRSTATUS";
  (void)r.Seek(32);
  out.pid = *r.I32();
  (void)r.Seek(112);
  for (const char* n : kNames) out.regs.emplace_back(n, *r.U64());
  return out;
}

std::optional<CpuRegisters> DecodeX86_64QemuCpuState(const ElfNote& note) {
  static constexpr const char* kGprs[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8",
                                          "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"};
  static constexpr const char* kSegs[] = {"cs", "ds", "es", "fs", "gs", "ss", "ldt", "tr", "gdt", "idt"};
  if (note.name != "QEMU" || note.desc.size() < 8) return std::nullopt;
  ByteReader r(note.desc, Endian::kLittle);
  CpuRegisters out;
  out.source = "QEMU";
  (void)r.U32();  // version
  uint32_t size = *r.U32();
  if (size > note.desc.size()) return std::nullopt;
  for (const char* n : kGprs) {
    auto v = r.U64();
    if (!v) return std::nullopt;
    out.regs.emplace_back(n, *v);
  }
  for (const char* s : kSegs) {
    auto sel = r.U32();
    auto limit = r.U32();
    auto flags = r.U32();
    auto pad = r.U32();
    auto base = r.U64();
    if (!base) return out;
    (void)limit; (void)flags; (void)pad;
    if (std::string_view(s) != "gdt" && std::string_view(s) != "idt") {
      out.regs.emplace_back(std::string(s), *sel);
    }
    out.regs.emplace_back(std::string(s) + "_base", *base);
  }
  for (int i = 0; i < 5; ++i) {
    auto v = r.U64();
    if (!v) return out;
    out.regs.emplace_back("cr" + std::to_string(i), *v);
  }
  if (r.pos() + 8 <= size) {
    if (auto v = r.U64()) out.regs.emplace_back("kernel_gs_base", *v);
  }
  return out;
}

}  // namespace coroner
