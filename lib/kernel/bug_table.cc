#include "lib/kernel/bug_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace coroner {

std::string BugEntry::Describe() const {
  if (Warning()) return fmt::format("WARNING: at {}:{}", file, line);
  return fmt::format("kernel BUG at {}:{}!", file, line);
}

Result<BugTable> BugTable::Load(const Kernel& k) {
  CORONER_TRY(uint64_t start, k.SymbolAddress("__start___bug_table"));
  CORONER_TRY(uint64_t stop, k.SymbolAddress("__stop___bug_table"));
  CORONER_TRY(uint64_t size, k.SizeOf("bug_entry"));
  CORONER_TRY(Field addr_f, k.FieldOf("bug_entry", "bug_addr_disp"));
  CORONER_TRY(Field file_f, k.FieldOf("bug_entry", "file_disp"));
  CORONER_TRY(Field line_f, k.FieldOf("bug_entry", "line"));
  CORONER_TRY(Field flags_f, k.FieldOf("bug_entry", "flags"));
  auto format_f = k.FieldOf("bug_entry", "format_disp");
  if (stop < start || size < 12 || size > 64 || (stop - start) % size != 0 || (stop - start) / size > (1 << 22)) {
    return Error(ErrorCode::kBadData,
                 fmt::format("bug table {:#x}..{:#x} is not a table of {}-byte entries", start, stop, size));
  }
  std::vector<std::byte> raw(stop - start);
  CORONER_TRY_VOID(k.memory().Read(start, raw));
  BugTable t;
  t.k_ = &k;
  // Displacements are relative to the field itself on newer kernels ("&bug->file_disp +
  // bug->file_disp") and to the entry's start on older ones ("(char *)bug + bug->file_disp",
  // 5.10). Neither BTF nor the table says which; the right base makes every file pointer the
  // start of a string (the byte before it is a NUL), so count that over the first entries.
  bool field_relative = true;
  {
    int votes_field = 0, votes_entry = 0;
    for (uint64_t off = 0; off < raw.size() && off < 64 * size; off += size) {
      int32_t d;
      std::memcpy(&d, raw.data() + off + file_f.offset, 4);
      if (d == 0) continue;
      for (bool fr : {true, false}) {
        uint64_t p = start + off + (fr ? file_f.offset : 0) + static_cast<int64_t>(d);
        std::byte before[1];
        if (k.memory().Read(p - 1, before) && before[0] == std::byte{0}) ++(fr ? votes_field : votes_entry);
      }
    }
    field_relative = votes_field >= votes_entry;
  }
  auto disp = [&](uint64_t entry_off, uint64_t field_off) {
    int32_t d;
    std::memcpy(&d, raw.data() + entry_off + field_off, 4);
    // A zero displacement: no such pointer (no file name without CONFIG_DEBUG_BUGVERBOSE, no
    // format for a plain BUG).
    if (d == 0) return uint64_t{0};
    return start + entry_off + (field_relative ? field_off : 0) + static_cast<int64_t>(d);
  };
  for (uint64_t off = 0; off < raw.size(); off += size) {
    Raw r{};
    r.addr = disp(off, addr_f.offset);
    r.file = disp(off, file_f.offset);
    r.format = format_f ? disp(off, format_f->offset) : 0;
    uint16_t line, flags;
    std::memcpy(&line, raw.data() + off + line_f.offset, 2);
    std::memcpy(&flags, raw.data() + off + flags_f.offset, 2);
    r.line = line;
    r.flags = flags;
    t.entries_.push_back(r);
  }
  std::sort(t.entries_.begin(), t.entries_.end(), [](const Raw& a, const Raw& b) { return a.addr < b.addr; });
  return t;
}

BugEntry BugTable::Resolve(size_t i) const {
  const Raw& r = entries_[i];
  BugEntry e;
  e.addr = r.addr;
  e.line = r.line;
  e.flags = r.flags;
  if (r.file) e.file = k_->memory().ReadCString(r.file, 256).value_or("(unreadable file name)");
  if (r.format) e.format = k_->memory().ReadCString(r.format, 512).value_or("");
  return e;
}

std::optional<BugEntry> BugTable::Find(uint64_t addr) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), addr,
                             [](const Raw& r, uint64_t a) { return r.addr < a; });
  if (it == entries_.end() || it->addr != addr) return std::nullopt;
  return Resolve(static_cast<size_t>(it - entries_.begin()));
}

std::vector<BugEntry> BugTable::All() const {
  std::vector<BugEntry> out;
  out.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) out.push_back(Resolve(i));
  return out;
}

}  // namespace coroner
