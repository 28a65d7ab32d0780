#include "lib/dump/dump_description.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "lib/base/diagnostics.h"

namespace coroner {
namespace {

constexpr size_t kUtsFieldSize = 65;                       // __NEW_UTS_LEN + 1
constexpr uint64_t kX86_64StartKernelMap = 0xffffffff80000000;  // __START_KERNEL_map

const HeaderField* FindField(const DumpInfo& info, std::string_view section, std::string_view name) {
  for (const HeaderSection& s : info.headers) {
    if (s.title != section) continue;
    for (const HeaderField& f : s.fields) {
      if (f.name == name) return &f;
    }
  }
  return nullptr;
}

std::optional<int64_t> IntField(const DumpInfo& info, std::string_view section, std::string_view name) {
  const HeaderField* f = FindField(info, section, name);
  if (!f) return std::nullopt;
  if (auto* u = std::get_if<uint64_t>(&f->value)) return static_cast<int64_t>(*u);
  if (auto* i = std::get_if<int64_t>(&f->value)) return *i;
  return std::nullopt;
}

std::optional<std::string> StringField(const DumpInfo& info, std::string_view section,
                                       std::string_view name) {
  const HeaderField* f = FindField(info, section, name);
  if (!f) return std::nullopt;
  if (auto* s = std::get_if<std::string>(&f->value)) return *s;
  return std::nullopt;
}

// "key=0x..." inside a program-header line as elf_vmcore.cc formats it.
std::optional<uint64_t> HexAfter(std::string_view text, std::string_view key) {
  size_t at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string num(text.substr(at + key.size(), 18));
  char* end = nullptr;
  uint64_t v = std::strtoull(num.c_str(), &end, 16);
  if (end == num.c_str()) return std::nullopt;
  return v;
}

// makedumpfile get_phys_base_x86_64(): NUMBER(phys_base), else the PT_LOAD that maps the
// kernel image.
std::optional<uint64_t> PhysBaseOf(const DumpInfo& info) {
  if (info.vmcoreinfo) {
    if (auto n = info.vmcoreinfo->Number("phys_base")) return static_cast<uint64_t>(*n);
  }
  if (auto pb = IntField(info, "kdump_sub_header", "phys_base")) return static_cast<uint64_t>(*pb);
  if (info.machine != "x86_64") return std::nullopt;
  for (const HeaderSection& s : info.headers) {
    if (s.title != "program headers") continue;
    for (const HeaderField& f : s.fields) {
      auto* text = std::get_if<std::string>(&f.value);
      if (!text || f.name.rfind("LOAD", 0) != 0) continue;
      auto paddr = HexAfter(*text, "paddr=");
      auto vaddr = HexAfter(*text, "vaddr=");
      if (paddr && vaddr && *vaddr >= kX86_64StartKernelMap) {
        return *paddr - (*vaddr - kX86_64StartKernelMap);
      }
    }
  }
  return std::nullopt;
}

// Reads struct new_utsname of init_uts_ns from memory (makedumpfile does the same for ELF input).
std::optional<std::array<std::string, 6>> UtsnameFromMemory(const Dump& dump, uint64_t phys_base) {
  const DumpInfo& info = dump.info;
  if (!info.vmcoreinfo || !dump.memory || info.machine != "x86_64") return std::nullopt;
  auto sym = info.vmcoreinfo->Symbol("init_uts_ns");
  if (!sym) return std::nullopt;
  // Before OFFSET(uts_namespace.name) was exported, name followed a 4-byte struct kref.
  uint64_t vaddr = *sym + info.vmcoreinfo->Offset("uts_namespace", "name").value_or(4);
  if (vaddr < kX86_64StartKernelMap) return std::nullopt;
  uint64_t paddr = vaddr - kX86_64StartKernelMap + phys_base;
  std::array<std::byte, 6 * kUtsFieldSize> raw;
  if (!dump.memory->Read(PhysAddr{paddr}, raw)) return std::nullopt;
  std::array<std::string, 6> out;
  for (size_t i = 0; i < 6; ++i) {
    const char* p = reinterpret_cast<const char*>(raw.data() + i * kUtsFieldSize);
    size_t len = strnlen(p, kUtsFieldSize);
    if (len == kUtsFieldSize) return std::nullopt;  // not NUL-terminated: not a utsname
    for (size_t k = 0; k < len; ++k) {
      if (static_cast<unsigned char>(p[k]) < 0x20 || static_cast<unsigned char>(p[k]) > 0x7e) {
        return std::nullopt;
      }
    }
    out[i].assign(p, len);
  }
  if (out[0] != "Linux") return std::nullopt;
  return out;
}

uint64_t Align4(uint64_t n) { return (n + 3) / 4 * 4; }

// namesz as stored (the parsed name has its NULs stripped).
uint64_t NameSize(std::span<const std::byte> notes, const ElfNote& n) {
  uint32_t namesz;
  std::memcpy(&namesz, notes.data() + n.offset, 4);
  return namesz;
}

}  // namespace

void AppendElfNote(std::vector<std::byte>& out, std::string_view name, uint32_t type,
                   std::span<const std::byte> desc) {
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));
  };
  auto pad = [&] {
    while (out.size() % 4) out.push_back(std::byte{0});
  };
  put32(static_cast<uint32_t>(name.size() + 1));
  put32(static_cast<uint32_t>(desc.size()));
  put32(type);
  for (char c : name) out.push_back(static_cast<std::byte>(c));
  out.push_back(std::byte{0});
  pad();
  out.insert(out.end(), desc.begin(), desc.end());
  pad();
}

std::vector<std::byte> SerializeElfNotes(const std::vector<ElfNote>& notes) {
  std::vector<std::byte> out;
  for (const ElfNote& n : notes) AppendElfNote(out, n.name, n.type, n.desc);
  return out;
}

NoteBlob BuildNoteBlob(const DumpDescription& desc) {
  NoteBlob blob;
  blob.bytes = desc.notes;
  while (blob.bytes.size() % 4) blob.bytes.push_back(std::byte{0});
  Diagnostics ignored;
  auto find_vmcoreinfo = [&] {
    for (const ElfNote& n : ParseElfNotes(blob.bytes, 0, ignored)) {
      if (n.name == "VMCOREINFO") {
        blob.vmcoreinfo_offset = n.offset + 12 + Align4(NameSize(blob.bytes, n));
        blob.vmcoreinfo_size = n.desc.size();
        return true;
      }
    }
    return false;
  };
  uint64_t end = 0;  // past the last note (what follows may be zero padding)
  for (const ElfNote& n : ParseElfNotes(blob.bytes, 0, ignored)) {
    if (n.name == "CORE" && n.type == kNtPrstatus) ++blob.prstatus_count;
    end = n.offset + 12 + Align4(NameSize(blob.bytes, n)) + Align4(n.desc.size());
  }
  if (!find_vmcoreinfo() && !desc.vmcoreinfo.empty()) {
    // Note parsing stops at zero padding, so the new note goes right after the last one.
    blob.bytes.resize(std::min<uint64_t>(blob.bytes.size(), end));
    AppendElfNote(blob.bytes, "VMCOREINFO", 0,
                  std::as_bytes(std::span(desc.vmcoreinfo.data(), desc.vmcoreinfo.size())));
    find_vmcoreinfo();
  }
  return blob;
}

DumpDescription DescribeDump(const Dump& dump) {
  const DumpInfo& info = dump.info;
  DumpDescription d;
  static constexpr const char* kUts[] = {"sysname", "nodename", "release",
                                         "version", "machine",  "domainname"};
  for (size_t i = 0; i < 6; ++i) {
    if (auto s = StringField(info, "disk_dump_header", std::string("utsname.") + kUts[i])) {
      d.utsname[i] = *s;
    }
  }
  d.phys_base = PhysBaseOf(info).value_or(0);
  // An ELF vmcore has no utsname, and QEMU's kdump files carry only the machine: read it from
  // the kernel then, as makedumpfile does.
  if (d.utsname[0].empty() && d.utsname[2].empty()) {
    if (auto uts = UtsnameFromMemory(dump, d.phys_base)) {
      d.utsname = *uts;
    } else {
      d.utsname[0] = "Linux";
      if (info.vmcoreinfo && info.vmcoreinfo->osrelease) d.utsname[2] = *info.vmcoreinfo->osrelease;
      if (d.utsname[4].empty()) d.utsname[4] = info.machine;
    }
  }
  if (auto t = IntField(info, "disk_dump_header", "timestamp.tv_sec")) {
    d.timestamp_sec = *t;
    d.timestamp_usec = IntField(info, "disk_dump_header", "timestamp.tv_usec").value_or(0);
  } else if (info.vmcoreinfo && info.vmcoreinfo->crash_time) {
    d.timestamp_sec = *info.vmcoreinfo->crash_time;
  }
  d.current_cpu = static_cast<uint32_t>(IntField(info, "disk_dump_header", "current_cpu").value_or(0));
  d.dump_level = static_cast<int32_t>(info.dump_level.value_or(0));
  if (info.vmcoreinfo) d.vmcoreinfo = info.vmcoreinfo->raw;
  d.notes = SerializeElfNotes(info.notes);
  if (auto n = IntField(info, "disk_dump_header", "nr_cpus"); n && *n > 0) {
    d.nr_cpus = static_cast<int32_t>(*n);
  }
  return d;
}

}  // namespace coroner
