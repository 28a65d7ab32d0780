#include "lib/kernel/orc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "lib/base/byte_reader.h"

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
  OrcEntry e = Decode(&seg.entries[i * kEntrySize]);
  if (use_) {
    // Within the text the table covers (a module's table also has its init text's entries).
    uint64_t end = it == seg.ips.end() ? seg.end : std::min(*it, seg.end);
    use_->push_back({std::max(seg.ips[i], seg.start), end, e});
  }
  return e;
}

std::optional<OrcEntry> OrcTable::Find(uint64_t ip) const {
  if (subset_) {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), ip,
                               [](uint64_t a, const OrcRange& r) { return a < r.start; });
    if (it == ranges_.begin() || ip >= std::prev(it)->end) return std::nullopt;
    return std::prev(it)->entry;
  }
  if (ip < kernel_.end) return FindIn(kernel_, ip);
  auto it = std::upper_bound(modules_.begin(), modules_.end(), ip,
                             [](uint64_t a, const Segment& m) { return a < m.start; });
  if (it == modules_.begin()) return std::nullopt;
  return FindIn(*std::prev(it), ip);
}

std::vector<std::pair<uint64_t, uint64_t>> OrcTable::Coverage() const {
  if (subset_) return coverage_;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (!kernel_.ips.empty()) out.emplace_back(kernel_.start, kernel_.end);
  for (const Segment& m : modules_) out.emplace_back(m.start, m.end);
  return out;
}

bool OrcTable::Covers(uint64_t ip) const {
  for (const auto& [start, end] : Coverage()) {
    if (ip >= start && ip < end) return true;
  }
  return false;
}

OrcTable OrcTable::FromRanges(std::vector<OrcRange> ranges, std::vector<std::pair<uint64_t, uint64_t>> coverage,
                              bool new_layout, std::string numbering) {
  OrcTable t;
  t.subset_ = true;
  t.coverage_ = std::move(coverage);
  t.new_layout_ = new_layout;
  t.numbering_ = std::move(numbering);
  t.ranges_ = std::move(ranges);
  return t;
}

namespace {
constexpr uint32_t kSubsetMagic = 0x43524f43;  // "CORC"
constexpr uint32_t kSubsetVersion = 1;
constexpr size_t kSubsetEntryBytes = 24;

void PutLE(std::vector<std::byte>& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
}  // namespace

// Layout (little-endian): magic u32, version u32, flags u32 (1 = the 6.4+ layout), count u32,
// numbering length u16 and its text, the coverage (segment count u32, then start u64, end u64
// each), then per range: start u64, end u64, sp_offset i16,
// bp_offset i16, sp_reg u8, bp_reg u8, type u8, signal u8 (the decoded entry, so no layout or
// register numbering needs telling apart again).
std::vector<std::byte> WriteOrcSubset(const OrcTable& table, std::vector<OrcRange> recorded) {
  std::sort(recorded.begin(), recorded.end(), [](const OrcRange& a, const OrcRange& b) { return a.start < b.start; });
  recorded.erase(std::unique(recorded.begin(), recorded.end(),
                             [](const OrcRange& a, const OrcRange& b) { return a.start == b.start; }),
                 recorded.end());
  std::vector<std::byte> out;
  PutLE(out, kSubsetMagic, 4);
  PutLE(out, kSubsetVersion, 4);
  PutLE(out, table.new_layout() ? 1 : 0, 4);
  PutLE(out, recorded.size(), 4);
  const std::string& n = table.register_numbering();
  PutLE(out, std::min<size_t>(n.size(), 0xffff), 2);
  for (size_t i = 0; i < n.size() && i < 0xffff; ++i) out.push_back(static_cast<std::byte>(n[i]));
  auto coverage = table.Coverage();
  PutLE(out, coverage.size(), 4);
  for (const auto& [start, end] : coverage) {
    PutLE(out, start, 8);
    PutLE(out, end, 8);
  }
  for (const OrcRange& r : recorded) {
    PutLE(out, r.start, 8);
    PutLE(out, r.end, 8);
    PutLE(out, static_cast<uint16_t>(r.entry.sp_offset), 2);
    PutLE(out, static_cast<uint16_t>(r.entry.bp_offset), 2);
    PutLE(out, static_cast<uint8_t>(r.entry.sp_reg), 1);
    PutLE(out, static_cast<uint8_t>(r.entry.bp_reg), 1);
    PutLE(out, static_cast<uint8_t>(r.entry.type), 1);
    PutLE(out, r.entry.signal ? 1 : 0, 1);
  }
  return out;
}

Result<OrcTable> ReadOrcSubset(std::span<const std::byte> bytes) {
  ByteReader r(bytes, Endian::kLittle);
  CORONER_TRY(uint32_t magic, r.U32());
  CORONER_TRY(uint32_t version, r.U32());
  if (magic != kSubsetMagic || version != kSubsetVersion) {
    return Error(ErrorCode::kBadData, fmt::format("ORC subset: magic {:#x} version {} (want {:#x} version {})", magic,
                                                  version, kSubsetMagic, kSubsetVersion));
  }
  CORONER_TRY(uint32_t flags, r.U32());
  CORONER_TRY(uint32_t count, r.U32());
  CORONER_TRY(uint16_t name_len, r.U16());
  CORONER_TRY(auto name, r.Bytes(name_len));
  CORONER_TRY(uint32_t segments, r.U32());
  if (segments > r.remaining() / 16) {
    return Error(ErrorCode::kBadData, fmt::format("ORC subset: {} text segments in {} bytes", segments, r.remaining()));
  }
  std::vector<std::pair<uint64_t, uint64_t>> coverage;
  for (uint32_t i = 0; i < segments; ++i) {
    CORONER_TRY(uint64_t start, r.U64());
    CORONER_TRY(uint64_t end, r.U64());
    if (end <= start) return Error(ErrorCode::kBadData, fmt::format("ORC subset: text segment {:#x}..{:#x}", start, end));
    coverage.emplace_back(start, end);
  }
  if (flags > 1 || count > kMaxEntries || r.remaining() != uint64_t{count} * kSubsetEntryBytes) {
    return Error(ErrorCode::kBadData, fmt::format("ORC subset: flags {:#x}, {} ranges in {} bytes", flags, count,
                                                  r.remaining()));
  }
  std::vector<OrcRange> ranges;
  ranges.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t at = r.offset();
    OrcRange o;
    CORONER_TRY(o.start, r.U64());
    CORONER_TRY(o.end, r.U64());
    CORONER_TRY(uint16_t sp_offset, r.U16());
    CORONER_TRY(uint16_t bp_offset, r.U16());
    CORONER_TRY(uint8_t sp_reg, r.U8());
    CORONER_TRY(uint8_t bp_reg, r.U8());
    CORONER_TRY(uint8_t type, r.U8());
    CORONER_TRY(uint8_t signal, r.U8());
    bool reg_ok = [](uint8_t v) { return v <= 9 || v == 15; }(sp_reg) && (bp_reg <= 9 || bp_reg == 15);
    if (o.end <= o.start || (!ranges.empty() && o.start < ranges.back().end) || !reg_ok ||
        type > static_cast<uint8_t>(OrcType::kRegsPartial) || signal > 1) {
      return Error(ErrorCode::kBadData, fmt::format("ORC subset: bad range at offset {} ({:#x}..{:#x}, registers {} {}, "
                                                    "type {}, signal {})", at, o.start, o.end, sp_reg, bp_reg, type, signal));
    }
    o.entry.sp_offset = static_cast<int16_t>(sp_offset);
    o.entry.bp_offset = static_cast<int16_t>(bp_offset);
    o.entry.sp_reg = static_cast<OrcReg>(sp_reg);
    o.entry.bp_reg = static_cast<OrcReg>(bp_reg);
    o.entry.type = static_cast<OrcType>(type);
    o.entry.signal = signal != 0;
    ranges.push_back(o);
  }
  return OrcTable::FromRanges(std::move(ranges), std::move(coverage), flags & 1,
                              std::string(reinterpret_cast<const char*>(name.data()), name.size()));
}

}  // namespace coroner
