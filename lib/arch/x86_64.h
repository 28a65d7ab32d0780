// x86_64 specifics that sit above the dump layer: register sets from a vmcore's PRSTATUS notes
// and QEMU's per-CPU state notes.
//
//   for (const ElfNote& n : dump.info.notes) {
//     if (auto regs = DecodeX86_64Prstatus(n)) print(regs->pid, regs->Get("rip"));
//   }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/dump/elf_notes.h"

namespace coroner {

struct CpuRegisters {
  std::string source;     // "PRSTATUS" or "QEMU"
  std::optional<int32_t> pid;  // from PRSTATUS (the task that was running)
  std::vector<std::pair<std::string, uint64_t>> regs;  // in the note's order

  std::optional<uint64_t> Get(std::string_view name) const;
};

// struct elf_prstatus of x86_64 (336 bytes; pr_pid at 32, pr_reg at 112: 27 registers in
// struct user_regs_struct order). nullopt if the note is not an x86_64 NT_PRSTATUS.
std::optional<CpuRegisters> DecodeX86_64Prstatus(const ElfNote& note);

// QEMU's "QEMU" note (QEMUCPUState, target/i386/arch_dump.c): version, size, 16 GPRs, rip,
// rflags, 10 segments (selector, limit, flags, pad, base), cr0-cr4, kernel_gs_base.
std::optional<CpuRegisters> DecodeX86_64QemuCpuState(const ElfNote& note);

}  // namespace coroner
