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

  CORONER_TRY(t.kernel_, ReadSegment(k, ip_start, orc_start, n));
  if (!t.kernel_.ips.empty()) {
    t.kernel_.start = t.kernel_.ips.front();
    t.kernel_.end = 0xffffffffc0000000ull;  // the module area starts there
  }
  CORONER_TRY_VOID(t.DetectRegisters());
  return t;
}

Result<OrcTable::Segment> OrcTable::ReadSegment(const Kernel& k, uint64_t ip_table, uint64_t orc_table,
                                                uint64_t n) {
  Segment seg;
  std::vector<std::byte> raw_ips(n * 4);
  CORONER_TRY_VOID(k.memory().Read(ip_table, raw_ips));
  seg.entries.resize(n * kEntrySize);
  CORONER_TRY_VOID(k.memory().Read(orc_table, std::as_writable_bytes(std::span(seg.entries))));
  seg.ips.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    int32_t rel;
    std::memcpy(&rel, raw_ips.data() + 4 * i, 4);
    seg.ips[i] = ip_table + 4 * i + static_cast<int64_t>(rel);
  }
  // The build (scripts/sorttable) and the module loader sort both tables together; sort here if
  // a table is not.
  if (!std::is_sorted(seg.ips.begin(), seg.ips.end())) {
    std::vector<uint64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) { return seg.ips[a] < seg.ips[b]; });
    std::vector<uint64_t> ips(n);
    std::vector<uint8_t> entries(n * kEntrySize);
    for (uint64_t i = 0; i < n; ++i) {
      ips[i] = seg.ips[order[i]];
      std::memcpy(&entries[i * kEntrySize], &seg.entries[order[i] * kEntrySize], kEntrySize);
    }
    seg.ips = std::move(ips);
    seg.entries = std::move(entries);
  }
  return seg;
}

Result<void> OrcTable::AddModule(const Kernel& k, uint64_t module, uint64_t text_start, uint64_t text_end) {
  CORONER_TRY(uint64_t n, k.ReadField(module, "module", "arch.num_orcs"));
  CORONER_TRY(uint64_t ip_table, k.ReadField(module, "module", "arch.orc_unwind_ip"));
  CORONER_TRY(uint64_t orc_table, k.ReadField(module, "module", "arch.orc_unwind"));
  if (n == 0) return Ok();
  if (n > kMaxEntries || text_end <= text_start) {
    return Error(ErrorCode::kBadData, fmt::format("module {:#x}: {} ORC entries for text {:#x}..{:#x}",
                                                  module, n, text_start, text_end));
  }
  CORONER_TRY(Segment seg, ReadSegment(k, ip_table, orc_table, n));
  seg.start = text_start;
  seg.end = text_end;
  auto at = std::upper_bound(modules_.begin(), modules_.end(), text_start,
                             [](uint64_t a, const Segment& m) { return a < m.start; });
  modules_.insert(at, std::move(seg));
  return Ok();
}

Result<void> OrcTable::DetectRegisters() {
  std::array<uint64_t, 16> sp_votes{}, prev_votes{};
  const std::vector<uint8_t>& entries = kernel_.entries;
  for (size_t i = 0; i + kEntrySize <= entries.size(); i += kEntrySize) {
    int16_t bp_offset;
    uint16_t word;
    std::memcpy(&bp_offset, &entries[i + 2], 2);
    std::memcpy(&word, &entries[i + 4], 2);
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

std::optional<OrcEntry> OrcTable::FindIn(const Segment& seg, uint64_t ip) const {
  if (seg.ips.empty() || ip < seg.ips.front() || ip < seg.start || ip >= seg.end) return std::nullopt;
  auto it = std::upper_bound(seg.ips.begin(), seg.ips.end(), ip);
  size_t i = static_cast<size_t>(it - seg.ips.begin()) - 1;
  return Decode(&seg.entries[i * kEntrySize]);
}

std::optional<OrcEntry> OrcTable::Find(uint64_t ip) const {
  if (ip < kernel_.end) return FindIn(kernel_, ip);
  auto it = std::upper_bound(modules_.begin(), modules_.end(), ip,
                             [](uint64_t a, const Segment& m) { return a < m.start; });
  if (it == modules_.begin()) return std::nullopt;
  return FindIn(*std::prev(it), ip);
}

}  // namespace coroner
