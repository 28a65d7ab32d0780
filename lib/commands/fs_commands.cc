#include "lib/commands/fs_commands.h"

#include <fmt/format.h>

#include "lib/commands/vm.h"

#include <cerrno>
#include <cstdlib>

namespace coroner {

Result<MountResult> RunMount(const Session& s, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Error(ErrorCode::kUnsupported, fmt::format("mount {}: only the mount list is supported yet", args[0]));
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  MountResult r;
  // Reachability as init (PID 1) sees it, when its fs_struct is readable.
  uint64_t reader_root = 0;
  if (auto tl = s.Tasks()) {
    for (const TaskInfo* t : (*tl)->FindPid(1)) {
      if (auto fs = k->ReadField(t->task, "task_struct", "fs"); fs && *fs) {
        reader_root = k->ReadField(*fs, "fs_struct", "root.mnt").value_or(0);
      }
    }
  }
  CORONER_TRY(r.mounts, ReadMounts(*k, reader_root));
  return r;
}

Result<SwapResult> RunSwap(const Session& s, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("swap takes no arguments ({})", args[0]));
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  // mm/swapfile.c: struct swap_info_struct *swap_info[MAX_SWAPFILES]; unsigned int nr_swapfiles.
  CORONER_TRY(uint64_t nr_addr, k->SymbolAddress("nr_swapfiles"));
  CORONER_TRY(uint64_t info_addr, k->SymbolAddress("swap_info"));
  CORONER_TRY(uint32_t nr, k->ReadU32(nr_addr));
  if (nr > 64) return Error(ErrorCode::kBadData, fmt::format("nr_swapfiles is {}: not a swap count", nr));
  constexpr uint64_t kSwpUsed = 1;  // SWP_USED, include/linux/swap.h
  SwapResult r;
  for (uint32_t i = 0; i < nr; ++i) {
    CORONER_TRY(uint64_t si, k->ReadU64(info_addr + 8 * i));
    if (!si) continue;
    CORONER_TRY(uint64_t flags, k->ReadField(si, "swap_info_struct", "flags"));
    if (!(flags & kSwpUsed)) continue;
    SwapDevice d;
    d.swap_info = si;
    CORONER_TRY(d.pages, k->ReadField(si, "swap_info_struct", "pages"));
    CORONER_TRY(d.used, k->ReadField(si, "swap_info_struct", "inuse_pages"));
    CORONER_TRY(d.priority, k->ReadSignedField(si, "swap_info_struct", "prio"));
    CORONER_TRY(uint64_t file, k->ReadField(si, "swap_info_struct", "swap_file"));
    if (file) {
      CORONER_TRY(FileInfo fi, ReadFileInfo(*k, file));
      d.filename = fi.path.path;
      // The swap file's inode is the block device's for a partition (what crash 8.0.2 reads
      // from swap_device/old_block_size before 6.10).
      d.partition = fi.type == InodeType::kBlockDevice;
    } else {
      d.filename = "(unknown)";
    }
    r.devices.push_back(std::move(d));
  }
  return r;
}

std::string FileTypeName(const FileInfo& f) {
  switch (f.type) {
    case InodeType::kRegular: return "REG";
    case InodeType::kDirectory: return "DIR";
    case InodeType::kCharDevice: return "CHR";
    case InodeType::kBlockDevice: return "BLK";
    case InodeType::kFifo: return f.pipe ? "PIPE" : "FIFO";
    case InodeType::kSymlink: return "LNK";
    case InodeType::kSocket: return "SOCK";
    case InodeType::kUnknown: break;
  }
  return "UNKN";
}

Result<std::vector<OpenFile>> ReadOpenFiles(const Kernel& k, const TaskInfo& t) {
  std::vector<OpenFile> out;
  CORONER_TRY(uint64_t files, k.ReadField(t.task, "task_struct", "files"));
  if (!files) return out;
  CORONER_TRY(uint64_t fdt, k.ReadField(files, "files_struct", "fdt"));
  if (!fdt) return out;
  CORONER_TRY(uint64_t max_fds, k.ReadField(fdt, "fdtable", "max_fds"));
  CORONER_TRY(uint64_t fd_array, k.ReadField(fdt, "fdtable", "fd"));
  CORONER_TRY(uint64_t open_fds, k.ReadField(fdt, "fdtable", "open_fds"));
  if (max_fds > (1u << 20)) {
    return Error(ErrorCode::kBadData, fmt::format("task {:#x}: fdtable {:#x} has max_fds {}", t.task, fdt, max_fds));
  }
  for (uint64_t word = 0; word * 64 < max_fds; ++word) {
    CORONER_TRY(uint64_t bits, k.ReadU64(open_fds + 8 * word));
    for (uint64_t b = 0; bits && b < 64; ++b, bits >>= 1) {
      if (!(bits & 1)) continue;
      uint64_t fd = word * 64 + b;
      CORONER_TRY(uint64_t file, k.ReadU64(fd_array + 8 * fd));
      if (!file) continue;  // reserved by open_fds but not installed yet
      OpenFile of;
      of.fd = static_cast<int>(fd);
      auto fi = ReadFileInfo(k, file);
      if (!fi) return std::move(fi).error().WithContext(fmt::format("fd {} of PID {} (file {:#x})", fd, t.pid, file));
      of.file = std::move(*fi);
      out.push_back(std::move(of));
    }
  }
  return out;
}

Result<FilesResult> RunFiles(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, args));
  CORONER_TRY(const Kernel* k, s.GetKernel());
  FilesResult r;
  for (const TaskInfo* t : tasks) {
    TaskFiles tf;
    tf.task = *t;
    CORONER_TRY(uint64_t fs, k->ReadField(t->task, "task_struct", "fs"));
    if (fs) {
      tf.has_fs = true;
      CORONER_TRY(uint64_t rd, k->ReadField(fs, "fs_struct", "root.dentry"));
      CORONER_TRY(uint64_t rm, k->ReadField(fs, "fs_struct", "root.mnt"));
      CORONER_TRY(uint64_t pd, k->ReadField(fs, "fs_struct", "pwd.dentry"));
      CORONER_TRY(uint64_t pm, k->ReadField(fs, "fs_struct", "pwd.mnt"));
      if (rd) {
        CORONER_TRY(DentryPath p, PathOfDentry(*k, rd, rm));
        tf.root = p.path;
      }
      if (pd) {
        CORONER_TRY(DentryPath p, PathOfDentry(*k, pd, pm));
        tf.cwd = p.path;
      }
    }
    CORONER_TRY(uint64_t files, k->ReadField(t->task, "task_struct", "files"));
    tf.has_files = files != 0;
    if (files) {
      CORONER_TRY(tf.fds, ReadOpenFiles(*k, *t));
    }
    r.tasks.push_back(std::move(tf));
  }
  return r;
}

Result<DentryResult> RunFilesDentry(const Session& s, uint64_t dentry) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  DentryResult r;
  r.dentry = dentry;
  CORONER_TRY(r.inode, k->ReadField(dentry, "dentry", "d_inode"));
  CORONER_TRY(r.superblock, k->ReadField(dentry, "dentry", "d_sb"));
  r.info.dentry = dentry;
  r.info.inode = r.inode;
  if (r.inode) {
    CORONER_TRY(uint64_t mode, k->ReadField(r.inode, "inode", "i_mode"));
    r.info.mode = static_cast<uint32_t>(mode);
    r.info.type = InodeTypeOfMode(r.info.mode);
    CORONER_TRY(r.info.inode_number, k->ReadField(r.inode, "inode", "i_ino"));
  }
  // No mount is known for a bare dentry: the path within its filesystem, as crash prints it.
  CORONER_TRY(r.info.path, PathOfDentry(*k, dentry, 0));
  return r;
}

Result<std::vector<FuserResult>> RunFuser(const Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return Error(ErrorCode::kInvalidArgument, "fuser needs a path or an address");
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(const TaskList* tl, s.Tasks());
  // What each task holds, read once for all the specs.
  struct Held {
    const TaskInfo* task;
    std::string root, cwd;
    std::vector<OpenFile> fds;
    std::vector<std::string> maps;
  };
  std::vector<Held> held;
  for (const TaskInfo& t : tl->tasks) {
    Held h{&t, {}, {}, {}, {}};
    CORONER_TRY(uint64_t fs, k->ReadField(t.task, "task_struct", "fs"));
    if (fs) {
      CORONER_TRY(uint64_t rd, k->ReadField(fs, "fs_struct", "root.dentry"));
      CORONER_TRY(uint64_t rm, k->ReadField(fs, "fs_struct", "root.mnt"));
      CORONER_TRY(uint64_t pd, k->ReadField(fs, "fs_struct", "pwd.dentry"));
      CORONER_TRY(uint64_t pm, k->ReadField(fs, "fs_struct", "pwd.mnt"));
      if (rd) {
        CORONER_TRY(DentryPath p, PathOfDentry(*k, rd, rm));
        h.root = p.path;
      }
      if (pd) {
        CORONER_TRY(DentryPath p, PathOfDentry(*k, pd, pm));
        h.cwd = p.path;
      }
    }
    CORONER_TRY(h.fds, ReadOpenFiles(*k, t));
    if (t.mm && t.pid == t.tgid) {
      CORONER_TRY(VmResult vm, RunVm(s, {fmt::format("{:x}", t.task)}));
      for (const VmArea& a : vm.tasks.front().vmas) {
        if (a.file) h.maps.push_back(a.path);
      }
    }
    held.push_back(std::move(h));
  }
  std::vector<FuserResult> out;
  for (const std::string& spec : args) {
    FuserResult r;
    r.spec = spec;
    std::string hex = spec.rfind("0x", 0) == 0 ? spec.substr(2) : spec;
    char* end = nullptr;
    uint64_t addr = spec.empty() || spec[0] == '/' ? 0 : std::strtoull(hex.c_str(), &end, 16);
    bool is_addr = addr && end && !*end;
    for (const Held& h : held) {
      FuserUser u;
      u.task = *h.task;
      if (h.root == spec) u.uses.push_back("root");
      if (h.cwd == spec) u.uses.push_back("cwd");
      for (const OpenFile& of : h.fds) {
        const FileInfo& f = of.file;
        if (f.path.path == spec || (is_addr && (f.file == addr || f.dentry == addr || f.inode == addr))) {
          u.uses.push_back("fd");
          break;
        }
      }
      for (const std::string& m : h.maps) {
        if (m == spec) {
          u.uses.push_back("mmap");
          break;
        }
      }
      if (!u.uses.empty()) r.users.push_back(std::move(u));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace coroner
