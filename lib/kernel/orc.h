// The kernel's ORC unwind tables, read from kernel memory (__start_orc_unwind_ip ..
// __stop_orc_unwind_ip, __start_orc_unwind), so no vmlinux is needed.
//
// Two layouts exist. Up to 6.3: type:2 (CALL 0, REGS 1, REGS_PARTIAL 2) and an `end` bit.
// From 6.4: type:3 (UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4) and a `signal`
// bit. The bitfield positions come from the kernel's own BTF (struct orc_entry), which also
// tells the layouts apart (an `end` member or a `signal` member).
//
// The register numbers changed too: up to 6.x SP is 5 and PREV_SP 1; the 7.2 kernel numbers SP
// 3, PREV_SP 8, SP_INDIRECT 9 and BP_INDIRECT 10 (BP, R10, R13 and DX keep 4, 6, 7 and 2).
// Neither BTF nor the table says which, so Load() tells them apart by the table itself: the
// register most CALL entries compute the CFA from is SP, and the one most saved-BP entries
// (negative offset) are relative to is PREV_SP.
//
//   CORONER_TRY(OrcTable orc, OrcTable::Load(kernel));
//   std::optional<OrcEntry> e = orc.Find(ip);
#pragma once

#include <cstdint>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "lib/kernel/kernel.h"

namespace coroner {

enum class OrcType : uint8_t { kUndefined, kEndOfStack, kCall, kRegs, kRegsPartial };

// ORC_REG_* (arch/x86/include/asm/orc_types.h), the same in both layouts.
enum class OrcReg : uint8_t {
  kUndefined = 0, kPrevSp = 1, kDx = 2, kDi = 3, kBp = 4, kSp = 5, kR10 = 6, kR13 = 7,
  kBpIndirect = 8, kSpIndirect = 9, kUnknown = 15,
};

struct OrcEntry {
  int16_t sp_offset = 0;
  int16_t bp_offset = 0;
  OrcReg sp_reg = OrcReg::kUndefined;
  OrcReg bp_reg = OrcReg::kUndefined;
  OrcType type = OrcType::kUndefined;
  bool signal = false;  // the next lookup uses ip, not ip - 1 (6.4+; REGS frames before)
};

class OrcTable {
 public:
  static Result<OrcTable> Load(const Kernel& k);

  // The entry covering `ip` (the last table ip <= ip), or nullopt outside the kernel image.
  std::optional<OrcEntry> Find(uint64_t ip) const;
  size_t size() const { return ips_.size(); }
  bool new_layout() const { return new_layout_; }
  // "5.10-6.x (SP 5, PREV_SP 1)" or "7.x (SP 3, PREV_SP 8)".
  const std::string& register_numbering() const { return numbering_; }

  // Decodes one raw 6-byte entry (exposed for tests).
  OrcEntry Decode(const uint8_t* raw) const;

 private:
  Result<void> DetectRegisters();
  struct Bits {
    uint32_t shift = 0;  // from bit 32 (the start of the bitfield word)
    uint32_t size = 0;
  };
  std::vector<uint64_t> ips_;   // absolute, ascending
  std::vector<uint8_t> entries_;  // 6 bytes each
  uint64_t text_end_ = 0;
  bool new_layout_ = false;
  Bits sp_reg_, bp_reg_, type_, flag_;  // flag_: `end` (old) or `signal` (new)
  std::array<OrcReg, 16> regs_{};       // raw register number -> meaning
  std::string numbering_;
};

}  // namespace coroner
