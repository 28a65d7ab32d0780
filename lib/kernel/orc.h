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
// Each loaded module has its own table (mod->arch.orc_unwind_ip / orc_unwind / num_orcs), in
// the vmlinux's layout and numbering; AddModule() adds one for the module's core text.
//
//   CORONER_TRY(OrcTable orc, OrcTable::Load(kernel));
//   for (const ModuleInfo& m : modules) orc.AddModule(kernel, m.module, m.base, m.base + m.text_size);
//   std::optional<OrcEntry> e = orc.Find(ip);
//
// A triage file keeps only the entries its analysis looked up (RecordUse, WriteOrcSubset), as
// a CORONER note; ReadOrcSubset makes a table of just those, whose Find answers only for the
// ip ranges kept (subset() says so, for messages).
#pragma once

#include <cstdint>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <utility>
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

// The ips [start, end) one entry covers: from its table ip to the next higher one (or the end of
// the text its table covers).
struct OrcRange {
  uint64_t start = 0, end = 0;
  OrcEntry entry;
};

class OrcTable {
 public:
  // One table (raw entries, as in memory): the kernel's or a module's.
  struct Segment {
    uint64_t start = 0, end = 0;  // the text it covers
    std::vector<uint64_t> ips;    // absolute, ascending
    std::vector<uint8_t> entries; // 6 bytes each
  };
  static Result<OrcTable> Load(const Kernel& k);

  // Adds a loaded module's table, covering its core text [text_start, text_end).
  Result<void> AddModule(const Kernel& k, uint64_t module, uint64_t text_start, uint64_t text_end);

  // The entry covering `ip` (the last table ip <= ip), or nullopt outside the kernel image and
  // the added modules' text.
  std::optional<OrcEntry> Find(uint64_t ip) const;
  size_t size() const { return kernel_.ips.size(); }
  const std::vector<Segment>& module_tables() const { return modules_; }
  bool new_layout() const { return new_layout_; }
  // "5.10-6.x (SP 5, PREV_SP 1)" or "7.x (SP 3, PREV_SP 8)".
  const std::string& register_numbering() const { return numbering_; }

  // Decodes one raw 6-byte entry (exposed for tests).
  OrcEntry Decode(const uint8_t* raw) const;

  // While `ranges` is set, every Find that answers appends the range it answered from (with
  // repeats); nullptr stops recording.
  void RecordUse(std::vector<OrcRange>* ranges) const { use_ = ranges; }
  // A table of only these ranges (a triage file's): Find answers inside them, nullopt elsewhere.
  static OrcTable FromRanges(std::vector<OrcRange> ranges, std::vector<std::pair<uint64_t, uint64_t>> coverage,
                             bool new_layout, std::string numbering);
  bool subset() const { return subset_; }
  // The text [start, end) the tables cover: the kernel image's and each added module's.
  std::vector<std::pair<uint64_t, uint64_t>> Coverage() const;
  // Whether `ip` is in that text (a subset's Find may still have no entry for it).
  bool Covers(uint64_t ip) const;

 private:
  Result<void> DetectRegisters();
  struct Bits {
    uint32_t shift = 0;  // from bit 32 (the start of the bitfield word)
    uint32_t size = 0;
  };
  static Result<Segment> ReadSegment(const Kernel& k, uint64_t ip_table, uint64_t orc_table, uint64_t n);
  std::optional<OrcEntry> FindIn(const Segment& seg, uint64_t ip) const;
  Segment kernel_;
  std::vector<Segment> modules_;  // ordered by start
  bool new_layout_ = false;
  Bits sp_reg_, bp_reg_, type_, flag_;  // flag_: `end` (old) or `signal` (new)
  std::array<OrcReg, 16> regs_{};       // raw register number -> meaning
  std::string numbering_;
  bool subset_ = false;
  std::vector<OrcRange> ranges_;  // a subset's, by start, not overlapping
  std::vector<std::pair<uint64_t, uint64_t>> coverage_;  // a subset's Coverage()
  mutable std::vector<OrcRange>* use_ = nullptr;
};

// The ranges `recorded` (repeats and all) as bytes (a triage file's CORONER note type 4).
std::vector<std::byte> WriteOrcSubset(const OrcTable& table, std::vector<OrcRange> recorded);
// Reads them back (untrusted: counts, order and every field are checked).
Result<OrcTable> ReadOrcSubset(std::span<const std::byte> bytes);

}  // namespace coroner
