#include "lib/kernel/printk.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "lib/base/byte_reader.h"

namespace coroner {
namespace {

constexpr uint64_t kMaxRingBytes = 256ull << 20;
constexpr unsigned kMaxCountBits = 26;

// Looks up a VMCOREINFO value or says exactly which one is missing.
struct Need {
  const Vmcoreinfo& vi;
  std::vector<std::string> missing;
  uint64_t Off(const char* type, const char* member) {
    auto v = vi.Offset(type, member);
    if (!v) missing.push_back(fmt::format("OFFSET({}.{})", type, member));
    return v.value_or(0);
  }
  uint64_t Size(const char* type) {
    auto v = vi.Size(type);
    if (!v) missing.push_back(fmt::format("SIZE({})", type));
    return v.value_or(0);
  }
  uint64_t Sym(const char* name) {
    auto v = vi.Symbol(name);
    if (!v) missing.push_back(fmt::format("SYMBOL({})", name));
    return v.value_or(0);
  }
  Result<void> Check(const char* what) const {
    if (missing.empty()) return Ok();
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return Error(ErrorCode::kNotFound, fmt::format("{}: VMCOREINFO lacks {}", what, list));
  }
};

// A buffer read page by page; pages that cannot be read are remembered, not fatal.
struct PagedBuffer {
  std::vector<std::byte> bytes;
  std::vector<bool> page_ok;
  uint64_t base = 0;
  std::optional<Error> first_error;

  static PagedBuffer Read(const VirtualMemory& mem, uint64_t va, uint64_t size) {
    PagedBuffer b;
    b.base = va;
    b.bytes.assign(size, std::byte{0});
    uint64_t done = 0;
    while (done < size) {
      uint64_t a = va + done;
      uint64_t n = std::min<uint64_t>(4096 - (a & 0xfff), size - done);
      auto r = mem.Read(a, std::span(b.bytes).subspan(done, n));
      if (!r && !b.first_error) b.first_error = std::move(r).error();
      b.page_ok.push_back(static_cast<bool>(r));
      done += n;
    }
    return b;
  }
  // True if every byte of [off, off+len) was read.
  bool Ok(uint64_t off, uint64_t len) const {
    if (len == 0) return true;
    uint64_t first_page_start = base & ~uint64_t{0xfff};
    for (uint64_t p = (base + off - first_page_start) / 4096; p <= (base + off + len - 1 - first_page_start) / 4096; ++p) {
      if (p >= page_ok.size() || !page_ok[p]) return false;
    }
    return true;
  }
  uint64_t U64(uint64_t off) const { uint64_t v; std::memcpy(&v, bytes.data() + off, 8); return v; }
  uint32_t U32(uint64_t off) const { uint32_t v; std::memcpy(&v, bytes.data() + off, 4); return v; }
  uint16_t U16(uint64_t off) const { uint16_t v; std::memcpy(&v, bytes.data() + off, 2); return v; }
  uint8_t U8(uint64_t off) const { return static_cast<uint8_t>(bytes[off]); }
};

Result<PrintkLog> ReadLockless(const VirtualMemory& mem, const Vmcoreinfo& vi) {
  Need n{vi, {}};
  uint64_t prb_sym = n.Sym("prb");
  uint64_t off_desc_ring = n.Off("printk_ringbuffer", "desc_ring");
  uint64_t off_text_ring = n.Off("printk_ringbuffer", "text_data_ring");
  uint64_t off_count_bits = n.Off("prb_desc_ring", "count_bits");
  uint64_t off_descs = n.Off("prb_desc_ring", "descs");
  uint64_t off_infos = n.Off("prb_desc_ring", "infos");
  uint64_t off_head = n.Off("prb_desc_ring", "head_id");
  uint64_t off_tail = n.Off("prb_desc_ring", "tail_id");
  uint64_t size_desc = n.Size("prb_desc");
  uint64_t off_state = n.Off("prb_desc", "state_var");
  uint64_t off_text_lpos = n.Off("prb_desc", "text_blk_lpos");
  uint64_t off_begin = n.Off("prb_data_blk_lpos", "begin");
  uint64_t off_next = n.Off("prb_data_blk_lpos", "next");
  uint64_t size_info = n.Size("printk_info");
  uint64_t off_seq = n.Off("printk_info", "seq");
  uint64_t off_ts = n.Off("printk_info", "ts_nsec");
  uint64_t off_text_len = n.Off("printk_info", "text_len");
  uint64_t off_size_bits = n.Off("prb_data_ring", "size_bits");
  uint64_t off_data = n.Off("prb_data_ring", "data");
  uint64_t off_counter = vi.Offset("atomic_long_t", "counter").value_or(0);
  auto off_caller = vi.Offset("printk_info", "caller_id");
  // dev_printk's dictionary (VMCOREINFO names it since 5.10).
  auto off_dev_info = vi.Offset("printk_info", "dev_info");
  auto off_subsystem = vi.Offset("dev_printk_info", "subsystem");
  auto off_device = vi.Offset("dev_printk_info", "device");
  uint64_t len_subsystem = vi.Length("printk_info_subsystem").value_or(0);
  uint64_t len_device = vi.Length("printk_info_device").value_or(0);
  CORONER_TRY_VOID(n.Check("the printk ring buffer"));

  CORONER_TRY(uint64_t prb, mem.ReadU64(prb_sym));
  const uint64_t desc_ring = prb + off_desc_ring;
  const uint64_t text_ring = prb + off_text_ring;
  CORONER_TRY(uint32_t count_bits, mem.ReadU32(desc_ring + off_count_bits));
  CORONER_TRY(uint32_t size_bits, mem.ReadU32(text_ring + off_size_bits));
  if (count_bits > kMaxCountBits || size_bits > 40 || (uint64_t{1} << size_bits) > kMaxRingBytes) {
    return Error(ErrorCode::kBadData,
                 fmt::format("printk ring at {:#x}: implausible sizes (count_bits {}, size_bits {})", prb,
                             count_bits, size_bits),
                 AtVirt(prb));
  }
  const uint64_t count = uint64_t{1} << count_bits;
  const uint64_t data_size = uint64_t{1} << size_bits;
  CORONER_TRY(uint64_t descs_va, mem.ReadU64(desc_ring + off_descs));
  CORONER_TRY(uint64_t infos_va, mem.ReadU64(desc_ring + off_infos));
  CORONER_TRY(uint64_t data_va, mem.ReadU64(text_ring + off_data));
  CORONER_TRY(uint64_t head_id, mem.ReadU64(desc_ring + off_head + off_counter));
  CORONER_TRY(uint64_t tail_id, mem.ReadU64(desc_ring + off_tail + off_counter));

  PagedBuffer descs = PagedBuffer::Read(mem, descs_va, count * size_desc);
  PagedBuffer infos = PagedBuffer::Read(mem, infos_va, count * size_info);
  PagedBuffer data = PagedBuffer::Read(mem, data_va, data_size);

  PrintkLog log;
  log.format = "lockless ring buffer";
  for (const PagedBuffer* b : {&descs, &infos, &data}) {
    if (b->first_error) log.warnings.push_back(b->first_error->ToString());
  }
  constexpr uint64_t kFlagsShift = 62;
  constexpr uint64_t kIdMask = ~(uint64_t{3} << kFlagsShift);
  // The level sits in the byte after facility: struct printk_info { u64 seq; u64 ts_nsec;
  // u16 text_len; u8 facility; u8 flags:5, level:3; u32 caller_id; ... } (5.10+). Trust that
  // layout only when caller_id sits right where it says.
  const bool level_known = off_caller && *off_caller == off_text_len + 4;

  uint64_t id = tail_id & kIdMask;
  head_id &= kIdMask;
  for (uint64_t steps = 0; steps <= count; ++steps) {
    uint64_t idx = id % count;
    uint64_t d = idx * size_desc;
    uint64_t in = idx * size_info;
    if (!descs.Ok(d, size_desc) || !infos.Ok(in, size_info)) {
      ++log.dropped;
    } else {
      uint64_t sv = descs.U64(d + off_state + off_counter);
      uint64_t state = sv >> kFlagsShift;
      if ((sv & kIdMask) == id && (state == 1 || state == 2)) {  // committed or finalized
        uint64_t begin = descs.U64(d + off_text_lpos + off_begin);
        uint64_t next = descs.U64(d + off_text_lpos + off_next);
        PrintkRecord r;
        r.seq = infos.U64(in + off_seq);
        r.ts_nsec = infos.U64(in + off_ts);
        uint16_t text_len = infos.U16(in + off_text_len);
        if (level_known) {
          r.facility = infos.U8(in + off_text_len + 2);
          r.level = infos.U8(in + off_text_len + 3) >> 5;
          r.caller_id = infos.U32(in + *off_caller);
        }
        auto dict_string = [&](std::optional<uint64_t> off, uint64_t len) {
          std::string out;
          if (!off_dev_info || !off || !len || len > 256 || *off_dev_info + *off + len > size_info) return out;
          for (uint64_t i = 0; i < len; ++i) {
            uint8_t c = infos.U8(in + *off_dev_info + *off + i);
            if (!c) break;
            out.push_back(static_cast<char>(c));
          }
          return out;
        };
        r.subsystem = dict_string(off_subsystem, len_subsystem);
        r.device = dict_string(off_device, len_device);
        // Data-less records (begin odd, or begin == next) have no text.
        bool dataless = (begin & 1) || begin == next;
        if (!dataless) {
          uint64_t b = begin % data_size, e = next % data_size;
          if (begin / data_size != next / data_size) b = 0;  // the block wrapped to the start
          if (e == 0 && next > begin) e = data_size;
          b += 8;  // the block starts with its descriptor id
          if (b <= e) {
            uint64_t avail = e - b;
            uint64_t len = text_len;
            if (avail < len) {
              len = avail;
              r.truncated = true;
            }
            if (data.Ok(b, len)) {
              r.text.assign(reinterpret_cast<const char*>(data.bytes.data() + b), len);
            } else {
              r.text_missing = true;
            }
          }
        }
        log.records.push_back(std::move(r));
      }
    }
    if (id == head_id) break;
    id = (id + 1) & kIdMask;
  }
  if (log.dropped) {
    log.warnings.push_back(fmt::format("{} printk records are in pages the dump lacks", log.dropped));
  }
  return log;
}

// 3.5 - 5.9: struct printk_log records in log_buf, from log_first_idx to log_next_idx.
Result<PrintkLog> ReadLogBufRecords(const VirtualMemory& mem, const Vmcoreinfo& vi) {
  Need n{vi, {}};
  uint64_t log_buf_sym = n.Sym("log_buf");
  uint64_t len_sym = n.Sym("log_buf_len");
  uint64_t first_sym = n.Sym("log_first_idx");
  uint64_t next_sym = n.Sym("log_next_idx");
  uint64_t hdr_size = n.Size("printk_log");
  uint64_t off_ts = n.Off("printk_log", "ts_nsec");
  uint64_t off_len = n.Off("printk_log", "len");
  uint64_t off_text_len = n.Off("printk_log", "text_len");
  CORONER_TRY_VOID(n.Check("the printk log_buf"));
  CORONER_TRY(uint64_t buf_va, mem.ReadU64(log_buf_sym));
  CORONER_TRY(uint32_t buf_len, mem.ReadU32(len_sym));
  CORONER_TRY(uint32_t first, mem.ReadU32(first_sym));
  CORONER_TRY(uint32_t next, mem.ReadU32(next_sym));
  if (buf_len == 0 || buf_len > kMaxRingBytes || first >= buf_len || next >= buf_len) {
    return Error(ErrorCode::kBadData, fmt::format("log_buf: implausible length {} or indexes {}/{}", buf_len, first, next));
  }
  PagedBuffer buf = PagedBuffer::Read(mem, buf_va, buf_len);
  PrintkLog log;
  log.format = "log_buf records";
  if (buf.first_error) log.warnings.push_back(buf.first_error->ToString());
  uint64_t idx = first;
  uint64_t seq = 0;
  for (uint64_t steps = 0; idx != next && steps < buf_len; ++steps) {
    if (idx + hdr_size > buf_len || !buf.Ok(idx, hdr_size)) {
      log.warnings.push_back(fmt::format("log_buf record at index {} is unreadable; stopping", idx));
      break;
    }
    uint16_t len = buf.U16(idx + off_len);
    if (len == 0) {  // wrap marker
      idx = 0;
      continue;
    }
    if (len < hdr_size || idx + len > buf_len) {
      log.warnings.push_back(fmt::format("log_buf record at index {} has bad length {}; stopping", idx, len));
      break;
    }
    PrintkRecord r;
    r.seq = seq++;
    r.ts_nsec = buf.U64(idx + off_ts);
    uint16_t text_len = std::min<uint16_t>(buf.U16(idx + off_text_len), static_cast<uint16_t>(len - hdr_size));
    // u16 dict_len, u8 facility, u8 flags:5 level:3 follow text_len.
    r.facility = buf.U8(idx + off_text_len + 4);
    r.level = buf.U8(idx + off_text_len + 5) >> 5;
    if (buf.Ok(idx + hdr_size, text_len)) {
      r.text.assign(reinterpret_cast<const char*>(buf.bytes.data() + idx + hdr_size), text_len);
    } else {
      r.text_missing = true;
    }
    log.records.push_back(std::move(r));
    idx += len;
  }
  return log;
}

// Before 3.5: a plain character ring (log_buf, log_end, log_buf_len, logged_chars).
Result<PrintkLog> ReadLogBufChars(const VirtualMemory& mem, const Vmcoreinfo& vi) {
  Need n{vi, {}};
  uint64_t log_buf_sym = n.Sym("log_buf");
  uint64_t len_sym = n.Sym("log_buf_len");
  uint64_t end_sym = n.Sym("log_end");
  CORONER_TRY_VOID(n.Check("the printk character buffer"));
  CORONER_TRY(uint64_t buf_va, mem.ReadU64(log_buf_sym));
  CORONER_TRY(uint32_t buf_len, mem.ReadU32(len_sym));
  CORONER_TRY(uint32_t end, mem.ReadU32(end_sym));
  if (buf_len == 0 || buf_len > kMaxRingBytes || (buf_len & (buf_len - 1))) {
    return Error(ErrorCode::kBadData, fmt::format("log_buf: implausible length {}", buf_len));
  }
  PagedBuffer buf = PagedBuffer::Read(mem, buf_va, buf_len);
  std::string text;
  uint64_t start = end > buf_len ? end - buf_len : 0;
  for (uint64_t i = start; i < end; ++i) text.push_back(static_cast<char>(buf.bytes[i & (buf_len - 1)]));
  PrintkLog log;
  log.format = "log_buf characters";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    PrintkRecord r;
    r.seq = log.records.size();
    r.text = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    log.records.push_back(std::move(r));
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return log;
}

}  // namespace

Result<PrintkLog> ReadPrintkLog(const VirtualMemory& mem, const Vmcoreinfo& vi) {
  if (vi.Symbol("prb")) return ReadLockless(mem, vi);
  if (vi.Symbol("log_first_idx")) return ReadLogBufRecords(mem, vi);
  if (vi.Symbol("log_end")) return ReadLogBufChars(mem, vi);
  return Error(ErrorCode::kNotFound,
               "VMCOREINFO names no printk buffer (neither SYMBOL(prb) nor SYMBOL(log_buf))");
}

std::string FormatDmesgRecord(const PrintkRecord& r, bool timestamps) {
  return FormatDmesgRecord(
      r, timestamps ? fmt::format("[{:5}.{:06}] ", r.ts_nsec / 1000000000, (r.ts_nsec % 1000000000) / 1000) : "");
}

std::string FormatDmesgRecord(const PrintkRecord& r, const std::string& prefix) {
  std::string out = prefix;
  if (r.text_missing) return out + "<the text of this record is in a page the dump lacks>\n";
  for (char ch : r.text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\n";
      out.append(prefix.size(), ' ');
    } else if ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\v' || c == '\f' || c == '\r') {
      out.push_back(ch);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += "\n";
  return out;
}

}  // namespace coroner
