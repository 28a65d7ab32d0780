#include "lib/kernel/orc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

namespace coroner {
namespace {

constexpr uint64_t kEntrySize = 6;
constexpr uint64_t kMaxEntries = 8u << 20;  // the 7.2 kernel has ~400k

uint32_t Extract(uint16_t word, uint32_t shift, uint32_t size) {
  return (word >> shift) & ((1u << size) - 1);
}

}  // namespace

Result<OrcTable> OrcTable::Load(const Kernel& k) {
  OrcTable t;
  CORONER_TRY(uint64_t ip_start, k.SymbolAddress("__start_orc_unwind_ip"));
  CORONER_TRY(uint64_t ip_stop, k.SymbolAddress("__stop_orc_unwind_ip"));
  CORONER_TRY(uint64_t orc_start, k.SymbolAddress("__start_orc_unwind"));
  if (ip_stop <= ip_start || (ip_stop - ip_start) % 4 != 0 || (ip_stop - ip_start) / 4 > kMaxEntries) {
    return Error(ErrorCode::kBadData, fmt::format("ORC ip table {:#x}..{:#x} is not a table of 4-byte entries",
                                                  ip_start, ip_stop));
  }
  uint64_t n = (ip_stop - ip_start) / 4;

  // The bitfield layout, from BTF when it has struct orc_entry; else the 6.4+ layout when the
  // kernel has no `end` (ORC_TYPE_END_OF_STACK came with it).
  auto bits = [&](std::string_view member) -> std::optional<Bits> {
    auto f = k.FieldOf("orc_entry", member);
    if (!f || !f->bit_size || f->offset < 4) return std::nullopt;
    return Bits{static_cast<uint32_t>((f->offset - 4) * 8 + f->bit_shift), f->bit_size};
  };
  auto sp = bits("sp_reg"), bp = bits("bp_reg"), type = bits("type");
  auto end = bits("end"), signal = bits("signal");
  if (sp && bp && type && (end || signal)) {
    t.sp_reg_ = *sp;
    t.bp_reg_ = *bp;
    t.type_ = *type;
    t.new_layout_ = !end;
    t.flag_ = end ? *end : *signal;
  } else {
    return Error(ErrorCode::kNotFound,
                 "the kernel's types have no struct orc_entry with sp_reg, bp_reg, type and end/signal");
  }

  std::vector<std::byte> raw_ips(n * 4);
  CORONER_TRY_VOID(k.memory().Read(ip_start, raw_ips));
  t.entries_.resize(n * kEntrySize);
  CORONER_TRY_VOID(k.memory().Read(orc_start, std::as_writable_bytes(std::span(t.entries_))));
  t.ips_.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    int32_t rel;
    std::memcpy(&rel, raw_ips.data() + 4 * i, 4);
    t.ips_[i] = ip_start + 4 * i + static_cast<int64_t>(rel);
  }
  // The build sorts both tables together (scripts/sorttable); sort here if a kernel did not.
  if (!std::is_sorted(t.ips_.begin(), t.ips_.end())) {
    std::vector<uint64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) { return t.ips_[a] < t.ips_[b]; });
    std::vector<uint64_t> ips(n);
    std::vector<uint8_t> entries(n * kEntrySize);
    for (uint64_t i = 0; i < n; ++i) {
      ips[i] = t.ips_[order[i]];
      std::memcpy(&entries[i * kEntrySize], &t.entries_[order[i] * kEntrySize], kEntrySize);
    }
    t.ips_ = std::move(ips);
    t.entries_ = std::move(entries);
  }
  CORONER_TRY_VOID(t.DetectRegisters());
  return t;
}

Result<void> OrcTable::DetectRegisters() {
  std::array<uint64_t, 16> sp_votes{}, prev_votes{};
  for (size_t i = 0; i + kEntrySize <= entries_.size(); i += kEntrySize) {
    int16_t bp_offset;
    uint16_t word;
    std::memcpy(&bp_offset, &entries_[i + 2], 2);
    std::memcpy(&word, &entries_[i + 4], 2);
    uint32_t type = Extract(word, type_.shift, type_.size);
    bool call = new_layout_ ? type == 2 : type == 0;
    if (call) ++sp_votes[Extract(word, sp_reg_.shift, sp_reg_.size) & 15];
    if (bp_offset < 0) ++prev_votes[Extract(word, bp_reg_.shift, bp_reg_.size) & 15];
  }
  auto top = [](const std::array<uint64_t, 16>& v) {
    return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
  };
  int sp = top(sp_votes), prev = top(prev_votes);
  regs_.fill(OrcReg::kUnknown);
  regs_[0] = OrcReg::kUndefined;
  if (sp == 5 && prev == 1) {
    for (int r = 1; r <= 9; ++r) regs_[static_cast<size_t>(r)] = static_cast<OrcReg>(r);
    numbering_ = "5.10-6.x (SP 5, PREV_SP 1)";
  } else if (sp == 3 && prev == 8) {
    regs_[2] = OrcReg::kDx;
    regs_[3] = OrcReg::kSp;
    regs_[4] = OrcReg::kBp;
    regs_[6] = OrcReg::kR10;
    regs_[7] = OrcReg::kR13;
    regs_[8] = OrcReg::kPrevSp;
    regs_[9] = OrcReg::kSpIndirect;
    regs_[10] = OrcReg::kBpIndirect;
    numbering_ = "7.x (SP 3, PREV_SP 8)";
  } else {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("unknown ORC register numbering: CALL entries mostly use register {}, "
                             "saved frame pointers register {}", sp, prev));
  }
  return Ok();
}

OrcEntry OrcTable::Decode(const uint8_t* raw) const {
  OrcEntry e;
  std::memcpy(&e.sp_offset, raw, 2);
  std::memcpy(&e.bp_offset, raw + 2, 2);
  uint16_t word;
  std::memcpy(&word, raw + 4, 2);
  e.sp_reg = regs_[Extract(word, sp_reg_.shift, sp_reg_.size) & 15];
  e.bp_reg = regs_[Extract(word, bp_reg_.shift, bp_reg_.size) & 15];
  uint32_t type = Extract(word, type_.shift, type_.size);
  bool flag = Extract(word, flag_.shift, flag_.size) != 0;
  if (new_layout_) {
    e.type = type <= 4 ? static_cast<OrcType>(type) : OrcType::kUndefined;
    e.signal = flag;
  } else {
    // Old numbering: CALL 0, REGS 1, REGS_PARTIAL 2; `end` marks the bottom of a stack, and an
    // empty entry (sp_reg undefined) is what later kernels call UNDEFINED.
    static constexpr OrcType kOld[] = {OrcType::kCall, OrcType::kRegs, OrcType::kRegsPartial, OrcType::kUndefined};
    if (e.sp_reg == OrcReg::kUndefined) {
      e.type = flag ? OrcType::kEndOfStack : OrcType::kUndefined;
    } else {
      e.type = kOld[type & 3];
    }
    e.signal = e.type == OrcType::kRegs || e.type == OrcType::kRegsPartial;
  }
  return e;
}

std::optional<OrcEntry> OrcTable::Find(uint64_t ip) const {
  if (ips_.empty() || ip < ips_.front() || ip >= 0xffffffffc0000000ull) return std::nullopt;
  auto it = std::upper_bound(ips_.begin(), ips_.end(), ip);
  size_t i = static_cast<size_t>(it - ips_.begin()) - 1;
  return Decode(&entries_[i * kEntrySize]);
}

}  // namespace coroner
