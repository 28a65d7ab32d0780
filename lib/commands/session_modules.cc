// Session: loaded modules' debug files (crash's `mod -s` / `mod -S`).
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "lib/commands/session.h"
#include "lib/debuginfo/elf_symbols.h"
#include "lib/kernel/modules.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;

// Module names use '_' where file names may use '-' (the kernel's own rule, kmod's too).
std::string ModuleNameOf(std::string_view file_name) {
  for (std::string_view ext : {".ko.debug", ".ko"}) {
    if (file_name.size() > ext.size() && file_name.ends_with(ext)) {
      std::string n(file_name.substr(0, file_name.size() - ext.size()));
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    }
  }
  return {};
}

// Every NAME.ko (or NAME.ko.debug) under `dir`, in directory order; a bounded walk.
void FindUnder(const fs::path& dir, std::string_view name, std::vector<std::string>& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  constexpr size_t kMaxEntries = 1 << 18;
  size_t seen = 0;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end && ++seen < kMaxEntries; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (ModuleNameOf(it->path().filename().string()) == name) out.push_back(it->path().string());
  }
}

}  // namespace

std::vector<std::string> Session::ModuleDebuginfoCandidates(std::string_view name) const {
  std::vector<std::string> out;
  const auto& vi = dump_->info.vmcoreinfo;
  std::string release = vi && vi->osrelease ? *vi->osrelease : "";
  std::string dashed(name);
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  auto direct = [&](const fs::path& dir) {
    for (const std::string& n : {std::string(name), dashed}) {
      std::error_code ec;
      fs::path p = dir / (n + ".ko");
      if (fs::is_regular_file(p, ec) && std::find(out.begin(), out.end(), p.string()) == out.end()) {
        out.push_back(p.string());
      }
    }
  };
  for (const std::string& d : options_.debuginfo_dirs) {
    if (!release.empty()) direct(fs::path(d) / release / "modules");
    direct(fs::path(d) / "modules");
    direct(d);
    if (!release.empty()) {
      FindUnder(fs::path(d) / "usr/lib/debug/lib/modules" / release, name, out);
      FindUnder(fs::path(d) / "lib/modules" / release, name, out);
    }
  }
  // As crash: the directory of the vmlinux in use (fetch's cache keeps modules/ beside it).
  if (!vmlinux_.empty()) {
    fs::path dir = fs::path(vmlinux_).parent_path();
    direct(dir);
    direct(dir / "modules");
  }
  if (release.empty()) return out;
  // Where `coroner debuginfo fetch` puts them.
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    direct(fs::path(x) / "coroner/debuginfo" / release / "modules");
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    direct(fs::path(h) / ".cache/coroner/debuginfo" / release / "modules");
  }
  fs::path root = options_.root.empty() ? "/" : options_.root;
  FindUnder(root / "usr/lib/debug/lib/modules" / release, name, out);
  FindUnder(root / "lib/modules" / release, name, out);
  return out;
}

Result<const ModuleDebuginfo*> Session::LoadModuleDebuginfo(std::string_view name, const std::string& path) const {
  CORONER_TRY(const Kernel* k, GetKernel());
  CORONER_TRY(const std::vector<ModuleInfo>* mods, Modules());
  auto mod = std::find_if(mods->begin(), mods->end(), [&](const ModuleInfo& m) { return m.name == name; });
  if (mod == mods->end()) return Error(ErrorCode::kNotFound, fmt::format("{}: not a loaded module", name));
  for (const ModuleDebuginfo& m : module_debuginfo_) {
    if (m.module != name) continue;
    if (path.empty() || m.path == path) return &m;
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: its debuginfo is already loaded from {}", name, m.path));
  }
  CORONER_TRY(std::vector<ModuleSection> sections, ReadModuleSections(*k, *mod));
  auto memory_id = ReadModuleBuildId(*k, sections);
  auto memory_srcversion = ReadModuleSrcversion(*k, *mod);

  // Whether a file is this module's debug file; the reason when it is not.
  auto check = [&](const std::string& file) -> Result<ModuleDebuginfo> {
    CORONER_TRY(ModuleFileInfo info, ReadModuleFileInfo(file));
    if (!info.name.empty() && info.name != name) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("{} is module {}, not {}", file, info.name, name));
    }
    ModuleDebuginfo d;
    d.module = std::string(name);
    d.module_address = mod->module;
    d.path = file;
    if (memory_id && !info.build_id.empty()) {
      if (*memory_id != info.build_id) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} does not match the loaded module {}: build ID {} in the file, {} in the dump",
                                 file, name, info.build_id, *memory_id));
      }
      d.checked = "build ID " + info.build_id;
    } else if (memory_srcversion && !memory_srcversion->empty() && !info.srcversion.empty()) {
      if (*memory_srcversion != info.srcversion) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{} does not match the loaded module {}: srcversion {} in the file, {} in the dump",
                                 file, name, info.srcversion, *memory_srcversion));
      }
      d.checked = "srcversion " + info.srcversion;
    } else {
      d.checked = fmt::format("not verified: {}", memory_id ? "the file has no build ID" : memory_id.error().message());
    }
    if (!info.has_dwarf) {
      return Error(ErrorCode::kNotFound, fmt::format("{} has no DWARF debug info (a stripped release module: the "
                                                     "debug .ko is in the kernel's -dbg package, or run `coroner "
                                                     "debuginfo fetch DUMP`)",
                                                     file));
    }
    // Where the module is now: a live module's init sections were freed (their addresses stay
    // in sect_attrs, and the next module loaded may be there now).
    bool live = mod->state == 0;
    for (const ModuleFileInfo::Section& fs_section : info.sections) {
      if (live && fs_section.name.starts_with(".init")) continue;
      for (const ModuleSection& ms : sections) {
        if (ms.name == fs_section.name && fs_section.size) d.ranges.emplace_back(ms.address, ms.address + fs_section.size);
      }
    }
    return d;
  };

  std::vector<std::string> files;
  std::error_code ec;
  bool in_dir = !path.empty() && fs::is_directory(path, ec);  // mod -S DIR: search only there
  if (path.empty()) {
    files = ModuleDebuginfoCandidates(name);
  } else if (in_dir) {
    std::string dashed(name);
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    for (const std::string& n : {std::string(name), dashed}) {
      if (fs::is_regular_file(fs::path(path) / (n + ".ko"), ec)) files.push_back((fs::path(path) / (n + ".ko")).string());
    }
    FindUnder(path, name, files);
    files.erase(std::unique(files.begin(), files.end()), files.end());
  } else {
    files = {path};
  }
  bool one_file = !path.empty() && !in_dir;
  if (files.empty()) {
    if (in_dir) return Error(ErrorCode::kNotFound, fmt::format("{}: no {}.ko under {}", name, name, path));
    return Error(ErrorCode::kNotFound,
                 fmt::format("{}: no debug file found (looked for {}.ko in the --debuginfo-dir directories, beside "
                             "the vmlinux, in the coroner debuginfo cache, /usr/lib/debug/lib/modules and "
                             "/lib/modules)",
                             name, name));
  }
  std::string rejected;
  for (const std::string& file : files) {
    auto d = check(file);
    if (!d) {
      if (one_file) return d.error();
      rejected += "\n  " + d.error().message();
      continue;
    }
    std::unordered_map<std::string, uint64_t> addresses;
    for (const ModuleSection& ms : sections) addresses.emplace(ms.name, ms.address);
    Result<void> added = Ok();
    if (dwarf_) {
      added = dwarf_->AddModule(file, d->module, addresses);
    } else {
      if (!module_dwarf_) module_dwarf_ = DwarfInfo::CreateEmpty();
      added = module_dwarf_->AddModule(file, d->module, addresses);
    }
    if (!added) {
      if (one_file) return added.error();
      rejected += "\n  " + added.error().message();
      continue;
    }
    module_debuginfo_.push_back(std::move(*d));
    return &module_debuginfo_.back();
  }
  // Files were found, and refused (kNotFound is kept for "no file at all").
  return Error(ErrorCode::kInvalidArgument, fmt::format("{}: no usable debug file:{}", name, rejected));
}

}  // namespace coroner
