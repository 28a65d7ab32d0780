#include "lib/debuginfo/elf_symbols.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "lib/memory/kernel_memory.h"

namespace coroner {
namespace {

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

struct ElfEnder {
  void operator()(Elf* e) const { elf_end(e); }
};

Error ElfError(const std::string& path, std::string_view what) {
  return Error(ErrorCode::kBadData, fmt::format("{}: {}: {}", path, what, elf_errmsg(-1)));
}

struct SectionInfo {
  uint32_t type = 0;
  uint64_t flags = 0;
  bool debug = false;
};

// nm's letter for a defined or undefined symbol (bfd_decode_symclass / decode_section_type).
char TypeLetter(const GElf_Sym& s, const std::vector<SectionInfo>& sections) {
  unsigned bind = GELF_ST_BIND(s.st_info);
  unsigned type = GELF_ST_TYPE(s.st_info);
  bool object = type == STT_OBJECT;
  if (s.st_shndx == SHN_COMMON) return 'C';
  if (s.st_shndx == SHN_UNDEF) {
    if (bind == STB_WEAK) return object ? 'v' : 'w';
    return 'U';
  }
  if (type == STT_GNU_IFUNC) return 'i';
  if (bind == STB_WEAK) return object ? 'V' : 'W';
  if (bind == STB_GNU_UNIQUE) return 'u';
  bool global = bind == STB_GLOBAL;
  char c = '?';
  if (s.st_shndx == SHN_ABS) {
    c = 'a';
  } else if (s.st_shndx < sections.size()) {
    const SectionInfo& sec = sections[s.st_shndx];
    if (!(sec.flags & SHF_ALLOC)) {
      c = sec.debug ? 'N' : 'n';
    } else if (sec.flags & SHF_EXECINSTR) {
      c = 't';
    } else if (sec.type == SHT_NOBITS) {
      c = 'b';
    } else if (sec.flags & SHF_WRITE) {
      c = 'd';
    } else {
      c = 'r';
    }
  }
  return global ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
}

}  // namespace

Result<SymbolTable> ReadElfSymbols(const std::string& path, uint64_t kaslr_offset) {
  if (elf_version(EV_CURRENT) == EV_NONE) {
    return Error(ErrorCode::kUnsupported, "libelf is too old");
  }
  FdCloser fd{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) {
    return Error(ErrorCode::kIo, fmt::format("{}: {}", path, std::strerror(errno)));
  }
  std::unique_ptr<Elf, ElfEnder> elf(elf_begin(fd.fd, ELF_C_READ_MMAP, nullptr));
  if (!elf) return ElfError(path, "not readable as ELF");
  if (elf_kind(elf.get()) != ELF_K_ELF) {
    return Error(ErrorCode::kBadData, fmt::format("{}: not an ELF file", path));
  }
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) return ElfError(path, "section names");
  size_t nsections = 0;
  if (elf_getshdrnum(elf.get(), &nsections) != 0) return ElfError(path, "section count");

  std::vector<SectionInfo> sections(nsections);
  Elf_Scn* symtab = nullptr;
  GElf_Shdr symtab_hdr{};
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) return ElfError(path, "section header");
    size_t i = elf_ndxscn(scn);
    if (i >= sections.size()) continue;
    const char* name = elf_strptr(elf.get(), shstrndx, sh.sh_name);
    std::string_view n = name ? name : "";
    sections[i].type = sh.sh_type;
    sections[i].flags = sh.sh_flags;
    sections[i].debug = n.starts_with(".debug") || n.starts_with(".zdebug") ||
                        n.starts_with(".stab") || n.starts_with(".gnu.debuglto");
    if (sh.sh_type == SHT_SYMTAB) {
      symtab = scn;
      symtab_hdr = sh;
    }
  }
  if (!symtab) {
    return Error(ErrorCode::kNotFound, fmt::format("{}: no .symtab (stripped?)", path));
  }
  Elf_Data* data = elf_getdata(symtab, nullptr);
  if (!data) return ElfError(path, ".symtab data");
  if (symtab_hdr.sh_entsize == 0) return Error(ErrorCode::kBadData, path + ": .symtab entsize 0");
  size_t count = symtab_hdr.sh_size / symtab_hdr.sh_entsize;

  struct Raw {
    const char* name;
    uint64_t address;
    uint64_t size;
    char type;
    bool absolute;
  };
  std::vector<Raw> raw;
  raw.reserve(count);
  size_t name_bytes = 0;
  std::optional<uint64_t> pcpu_start, pcpu_end;
  for (size_t i = 1; i < count; ++i) {
    GElf_Sym s;
    if (!gelf_getsym(data, static_cast<int>(i), &s)) return ElfError(path, "symbol");
    unsigned type = GELF_ST_TYPE(s.st_info);
    if (type == STT_SECTION || type == STT_FILE || s.st_shndx == SHN_UNDEF) continue;
    const char* name = elf_strptr(elf.get(), symtab_hdr.sh_link, s.st_name);
    if (!name || !*name) continue;
    uint64_t a = s.st_value;
    bool absolute = s.st_shndx == SHN_ABS;
    if (!absolute && a >= KernelMemory::kStartKernelMap && a < KernelMemory::kKernelImageLimit) {
      a += kaslr_offset;
    }
    Raw r{name, a, s.st_size, TypeLetter(s, sections), absolute};
    if (std::strcmp(name, "__per_cpu_start") == 0) pcpu_start = a;
    if (std::strcmp(name, "__per_cpu_end") == 0) pcpu_end = a;
    name_bytes += std::strlen(name);
    raw.push_back(r);
  }

  SymbolTable::Builder b;
  b.Reserve(raw.size(), name_bytes);
  for (const Raw& r : raw) {
    bool percpu =
        !r.absolute && pcpu_start && pcpu_end && r.address >= *pcpu_start && r.address < *pcpu_end;
    b.Add(r.name, r.address, r.type, r.size, percpu);
  }
  return std::move(b).Build();
}

Result<std::vector<std::byte>> ReadElfBytes(const std::string& path, uint64_t vaddr, size_t size) {
  if (elf_version(EV_CURRENT) == EV_NONE) return Error(ErrorCode::kUnsupported, "libelf is too old");
  FdCloser fd{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) return Error(ErrorCode::kIo, fmt::format("{}: {}", path, std::strerror(errno)));
  std::unique_ptr<Elf, ElfEnder> elf(elf_begin(fd.fd, ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) return ElfError(path, "not readable as ELF");
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) return ElfError(path, "section header");
    if (!(sh.sh_flags & SHF_ALLOC) || sh.sh_type != SHT_PROGBITS) continue;
    if (vaddr < sh.sh_addr || vaddr - sh.sh_addr >= sh.sh_size) continue;
    uint64_t avail = sh.sh_size - (vaddr - sh.sh_addr);
    std::vector<std::byte> out(std::min<uint64_t>(size, avail));
    ssize_t n = pread(fd.fd, out.data(), out.size(), static_cast<off_t>(sh.sh_offset + (vaddr - sh.sh_addr)));
    if (n < 0 || static_cast<size_t>(n) != out.size()) {
      return Error(ErrorCode::kIo, fmt::format("{}: short read at {:#x}", path, vaddr));
    }
    return out;
  }
  return Error(ErrorCode::kNotFound, fmt::format("{}: no section holds {:#x}", path, vaddr));
}

Result<std::string> ReadElfString(const std::string& path, uint64_t vaddr, size_t max) {
  CORONER_TRY(auto bytes, ReadElfBytes(path, vaddr, max));
  std::string out;
  for (std::byte b : bytes) {
    if (b == std::byte{0}) break;
    out.push_back(static_cast<char>(b));
  }
  return out;
}

}  // namespace coroner

namespace coroner {

Result<ModuleFileInfo> ReadModuleFileInfo(const std::string& path) {
  if (elf_version(EV_CURRENT) == EV_NONE) return Error(ErrorCode::kUnsupported, "libelf is too old");
  FdCloser fd{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) return Error(ErrorCode::kIo, fmt::format("{}: {}", path, std::strerror(errno)));
  std::unique_ptr<Elf, ElfEnder> elf(elf_begin(fd.fd, ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
    return Error(ErrorCode::kBadData, fmt::format("{}: not an ELF file (a compressed .ko must be unpacked first)", path));
  }
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf.get(), &eh)) return ElfError(path, "ELF header");
  if (eh.e_type != ET_REL) {
    return Error(ErrorCode::kBadData, fmt::format("{}: not a kernel module (ELF type {}, not ET_REL)", path, eh.e_type));
  }
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf.get(), &shstrndx) != 0) return ElfError(path, "section names");
  ModuleFileInfo info;
  for (Elf_Scn* scn = elf_nextscn(elf.get(), nullptr); scn; scn = elf_nextscn(elf.get(), scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) return ElfError(path, "section header");
    const char* name = elf_strptr(elf.get(), shstrndx, sh.sh_name);
    std::string_view n = name ? name : "";
    if (n == ".debug_info") info.has_dwarf = true;
    if (sh.sh_flags & SHF_ALLOC) info.sections.push_back({std::string(n), sh.sh_size});
    bool build_id = sh.sh_type == SHT_NOTE && n == ".note.gnu.build-id";
    bool modinfo = n == ".modinfo" && sh.sh_type == SHT_PROGBITS;
    if (!build_id && !modinfo) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (!data || !data->d_buf) continue;
    const auto* bytes = static_cast<const char*>(data->d_buf);
    if (build_id) {
      GElf_Nhdr nh;
      size_t name_off = 0, desc_off = 0;
      for (size_t off = 0; (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) != 0;) {
        if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || std::memcmp(bytes + name_off, "GNU", 4) != 0) continue;
        for (size_t i = 0; i < nh.n_descsz; ++i) {
          info.build_id += fmt::format("{:02x}", static_cast<uint8_t>(bytes[desc_off + i]));
        }
      }
    } else {
      // NUL-separated "key=value" strings (modpost's MODULE_INFO).
      std::string_view all(bytes, data->d_size);
      for (size_t pos = 0; pos < all.size();) {
        size_t end = all.find('\0', pos);
        if (end == std::string_view::npos) end = all.size();
        std::string_view kv = all.substr(pos, end - pos);
        pos = end + 1;
        if (kv.starts_with("name=")) info.name = kv.substr(5);
        if (kv.starts_with("srcversion=")) info.srcversion = kv.substr(11);
      }
    }
  }
  return info;
}

}  // namespace coroner
