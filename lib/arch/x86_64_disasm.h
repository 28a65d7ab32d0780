// x86_64 disassembly (capstone) printed the way GNU objdump/gdb print AT&T syntax, which is
// what crash's `dis` shows: "mov    0x18(%rbx),%eax", "call   0xffffffff81743e90",
// "incl   %gs:0x5a40e5fd(%rip)" with a "# 0x1fb40" comment for the %rip-relative address.
//
//   CORONER_TRY(auto dis, X86Disassembler::Create());
//   CORONER_TRY(X86Instruction insn, dis.Decode(bytes, 0xffffffff81a114f0));
//   insn.text;            // "nopl   0x0(%rax,%rax,1)"
//   insn.branch_target;   // a direct call/jmp/jcc's destination, for "<sym+off>"
//   insn.rip_target;      // the address a %rip-relative operand names, for "# 0x... <sym>"
//
// Capstone's own AT&T text differs from binutils' (size suffixes on every instruction, ", "
// between operands, no 0x0 displacement, no ",1" scale), so the operands are rebuilt from its
// decoded detail, with binutils' rules: a size suffix only when no register operand gives the
// size, immediates in hex masked to the operand size, and the prefix-only forms binutils
// prints for padding nops ("xchg %ax,%ax", "data16 ...", "cs nopw ...").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "lib/base/error.h"

namespace coroner {

struct X86Instruction {
  uint64_t address = 0;
  uint32_t size = 0;
  std::string mnemonic;  // with prefixes: "lock cmpxchg", "data16 data16 xchg"
  std::string operands;  // "%rdx,(%rdi)"
  std::string text;      // mnemonic padded as binutils does (to 6, then a space) + operands
  std::optional<uint64_t> branch_target;
  std::optional<uint64_t> rip_target;
  bool valid = true;     // false: "(bad)", one byte
};

class X86Disassembler {
 public:
  static Result<X86Disassembler> Create();
  X86Disassembler(X86Disassembler&&) noexcept;
  X86Disassembler& operator=(X86Disassembler&&) noexcept;
  ~X86Disassembler();

  // Decodes one instruction at the start of `code`, which is at `address`. An undecodable byte
  // gives an invalid one-byte "(bad)" instruction, as objdump does.
  X86Instruction Decode(std::span<const std::byte> code, uint64_t address) const;

 private:
  X86Disassembler() = default;
  size_t handle_ = 0;  // capstone's csh
};

}  // namespace coroner
