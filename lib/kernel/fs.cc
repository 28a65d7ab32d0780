#include "lib/kernel/fs.h"

#include <fmt/format.h>

#include <algorithm>

#include "lib/kernel/containers.h"

namespace coroner {
namespace {

constexpr int kMaxPathDepth = 4096;

// container_of(vfsmount, struct mount, mnt).
Result<uint64_t> MountOfVfsmount(const Kernel& k, uint64_t vfsmount) {
  CORONER_TRY(Field mnt, k.FieldOf("mount", "mnt"));
  return vfsmount - mnt.offset;
}

Result<std::string> ReadKernelString(const Kernel& k, uint64_t addr, size_t max_len, std::string_view what) {
  if (!addr) return std::string();
  auto s = k.memory().ReadCString(addr, max_len);
  if (!s) return std::move(s).error().WithContext(fmt::format("reading {} at {:#x}", what, addr));
  return s;
}

Result<std::string> FsTypeName(const Kernel& k, uint64_t sb) {
  CORONER_TRY(uint64_t type, k.ReadField(sb, "super_block", "s_type"));
  if (!type) return std::string();
  CORONER_TRY(uint64_t name, k.ReadField(type, "file_system_type", "name"));
  return ReadKernelString(k, name, 64, "file_system_type.name");
}

}  // namespace

Result<std::string> DentryName(const Kernel& k, uint64_t dentry) {
  CORONER_TRY(uint64_t len, k.ReadField(dentry, "dentry", "d_name.len"));
  CORONER_TRY(uint64_t name, k.ReadField(dentry, "dentry", "d_name.name"));
  if (len == 0 || !name) return std::string();
  if (len > 4096) {
    return Error(ErrorCode::kBadData, fmt::format("dentry {:#x}: d_name.len {} is too long", dentry, len));
  }
  std::string s(len, '\0');
  auto r = k.memory().Read(name, std::as_writable_bytes(std::span(s)));
  if (!r) return std::move(r).error().WithContext(fmt::format("reading dentry {:#x}'s name", dentry));
  return s;
}

Result<DentryPath> PathOfDentry(const Kernel& k, uint64_t dentry, uint64_t vfsmount) {
  std::vector<std::string> parts;  // leaf first
  uint64_t mount = 0;
  if (vfsmount) {
    CORONER_TRY(mount, MountOfVfsmount(k, vfsmount));
  }
  DentryPath out;
  uint64_t cur = dentry;
  for (int step = 0;; ++step) {
    if (step > kMaxPathDepth) {
      return Error(ErrorCode::kRecursion,
                   fmt::format("path of dentry {:#x}: more than {} components", dentry, kMaxPathDepth));
    }
    if (!IsKernelAddress(cur)) {
      return Error(ErrorCode::kBadData, fmt::format("path of dentry {:#x}: {:#x} is not a dentry", dentry, cur));
    }
    if (mount) {
      CORONER_TRY(uint64_t root, k.ReadField(mount, "mount", "mnt.mnt_root"));
      if (cur == root) {
        CORONER_TRY(uint64_t parent, k.ReadField(mount, "mount", "mnt_parent"));
        if (!parent || parent == mount) break;  // the namespace's root, or an internal mount
        CORONER_TRY(cur, k.ReadField(mount, "mount", "mnt_mountpoint"));
        mount = parent;
        continue;
      }
    }
    CORONER_TRY(uint64_t parent, k.ReadField(cur, "dentry", "d_parent"));
    CORONER_TRY(std::string name, DentryName(k, cur));
    if (parent == cur) {
      // A filesystem root that is not the mount's: a pseudo file's own dentry.
      if (name != "/") {
        out.detached = true;
        parts.push_back(name);
      }
      break;
    }
    parts.push_back(std::move(name));
    cur = parent;
  }
  if (out.detached) {
    // crash prints such a name as it stands ("TCP", "SYSV434f5201"; a pipe's is empty).
    std::string s;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) s += (s.empty() ? "" : "/") + *it;
    out.path = s;
    return out;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out.path += "/" + *it;
  if (out.path.empty()) out.path = "/";
  return out;
}

Result<std::vector<MountInfo>> ReadNamespaceMounts(const Kernel& k, uint64_t mnt_ns) {
  std::vector<uint64_t> mounts;
  // Before 6.8 mnt_namespace.mounts is a count (unsigned int); the rbtree came with mnt_node.
  if (k.HasField("mnt_namespace", "mounts") && k.HasField("mount", "mnt_node")) {
    // 6.8+: an rbtree ordered by mnt_id_unique, i.e. mount order.
    CORONER_TRY(uint64_t root, k.FieldAddress(mnt_ns, "mnt_namespace", "mounts"));
    CORONER_TRY(Field node, k.FieldOf("mount", "mnt_node"));
    CORONER_TRY(std::vector<uint64_t> nodes, RbTreeNodes(k, root));
    for (uint64_t n : nodes) mounts.push_back(n - node.offset);
  } else if (k.HasField("mnt_namespace", "list")) {
    CORONER_TRY(uint64_t head, k.FieldAddress(mnt_ns, "mnt_namespace", "list"));
    CORONER_TRY(mounts, k.ListEntries(head, "mount", "mnt_list"));
  } else {
    return Error(ErrorCode::kUnsupported,
                 "struct mnt_namespace has neither mounts (6.8+) nor list: cannot find the mounts");
  }
  std::vector<MountInfo> out;
  CORONER_TRY(Field mnt, k.FieldOf("mount", "mnt"));
  for (uint64_t m : mounts) {
    MountInfo mi;
    mi.mount = m;
    mi.vfsmount = m + mnt.offset;
    CORONER_TRY(mi.superblock, k.ReadField(m, "mount", "mnt.mnt_sb"));
    if (!mi.superblock) continue;  // a /proc/mounts reader's cursor (MNT_CURSOR, before 6.8)
    CORONER_TRY(mi.type, FsTypeName(k, mi.superblock));
    CORONER_TRY(uint64_t dev, k.ReadField(m, "mount", "mnt_devname"));
    CORONER_TRY(mi.devname, ReadKernelString(k, dev, 4096, "mount.mnt_devname"));
    CORONER_TRY(uint64_t id, k.ReadField(m, "mount", "mnt_id"));
    mi.mount_id = id;
    CORONER_TRY(uint64_t mountpoint, k.ReadField(m, "mount", "mnt_mountpoint"));
    CORONER_TRY(uint64_t parent, k.ReadField(m, "mount", "mnt_parent"));
    CORONER_TRY(Field pmnt, k.FieldOf("mount", "mnt"));
    CORONER_TRY(DentryPath p, PathOfDentry(k, mountpoint, parent + pmnt.offset));
    mi.dirname = p.path;
    out.push_back(std::move(mi));
  }
  return out;
}

Result<std::vector<MountInfo>> ReadMounts(const Kernel& k, uint64_t reader_root) {
  // init_nsproxy is a struct nsproxy (kernel/nsproxy.c); BTF does not type globals.
  CORONER_TRY(uint64_t nsproxy, k.SymbolAddress("init_nsproxy"));
  CORONER_TRY(uint64_t ns, k.ReadField(nsproxy, "nsproxy", "mnt_ns"));
  if (!IsKernelAddress(ns)) {
    return Error(ErrorCode::kBadData, fmt::format("init_nsproxy.mnt_ns is {:#x}, not a mnt_namespace", ns));
  }
  CORONER_TRY(std::vector<MountInfo> mounts, ReadNamespaceMounts(k, ns));
  if (reader_root) {
    // /proc/mounts skips what its reader's root cannot reach (show_vfsmnt's seq_path_root):
    // on 7.x the namespace's nullfs root, which rootfs is mounted over.
    CORONER_TRY(uint64_t root_mount, MountOfVfsmount(k, reader_root));
    for (MountInfo& m : mounts) {
      uint64_t cur = m.mount;
      m.reachable = false;
      for (int depth = 0; depth < kMaxPathDepth && cur; ++depth) {
        if (cur == root_mount) {
          m.reachable = true;
          break;
        }
        CORONER_TRY(uint64_t parent, k.ReadField(cur, "mount", "mnt_parent"));
        if (parent == cur) break;
        cur = parent;
      }
    }
  }
  return mounts;
}

InodeType InodeTypeOfMode(uint32_t mode) {
  switch (mode & 0170000) {
    case 0100000: return InodeType::kRegular;
    case 0040000: return InodeType::kDirectory;
    case 0020000: return InodeType::kCharDevice;
    case 0060000: return InodeType::kBlockDevice;
    case 0010000: return InodeType::kFifo;
    case 0120000: return InodeType::kSymlink;
    case 0140000: return InodeType::kSocket;
    default: return InodeType::kUnknown;
  }
}

Result<FileInfo> ReadFileInfo(const Kernel& k, uint64_t file) {
  FileInfo fi;
  fi.file = file;
  CORONER_TRY(fi.dentry, k.ReadField(file, "file", "f_path.dentry"));
  CORONER_TRY(fi.vfsmount, k.ReadField(file, "file", "f_path.mnt"));
  if (fi.vfsmount) {
    CORONER_TRY(uint64_t mount, MountOfVfsmount(k, fi.vfsmount));
    CORONER_TRY(fi.mount_id, k.ReadField(mount, "mount", "mnt_id"));
  }
  if (fi.dentry) {
    CORONER_TRY(fi.inode, k.ReadField(fi.dentry, "dentry", "d_inode"));
  }
  if (!fi.inode && k.HasField("file", "f_inode")) {
    CORONER_TRY(fi.inode, k.ReadField(file, "file", "f_inode"));
  }
  if (fi.inode) {
    CORONER_TRY(uint64_t mode, k.ReadField(fi.inode, "inode", "i_mode"));
    fi.mode = static_cast<uint32_t>(mode);
    fi.type = InodeTypeOfMode(fi.mode);
    CORONER_TRY(fi.inode_number, k.ReadField(fi.inode, "inode", "i_ino"));
    CORONER_TRY(uint64_t sb, k.ReadField(fi.inode, "inode", "i_sb"));
    if (sb) {
      CORONER_TRY(fi.fs_type, FsTypeName(k, sb));
    }
    if (fi.type == InodeType::kFifo) {
      if (auto pipe_ops = k.SymbolAddress("pipe_inode_operations")) {
        CORONER_TRY(uint64_t iop, k.ReadField(fi.inode, "inode", "i_op"));
        fi.pipe = iop == *pipe_ops;
      }
    }
  }
  if (fi.dentry) {
    CORONER_TRY(fi.path, PathOfDentry(k, fi.dentry, fi.vfsmount));
  }
  // What /proc/PID/fd shows: the pseudo filesystems' d_dname, else d_path.
  if (fi.fs_type == "sockfs") {
    fi.proc_link = fmt::format("socket:[{}]", fi.inode_number);
  } else if (fi.fs_type == "pipefs") {
    fi.proc_link = fmt::format("pipe:[{}]", fi.inode_number);
  } else if (fi.fs_type == "anon_inodefs") {
    fi.proc_link = "anon_inode:" + fi.path.path;
  } else if (fi.path.detached) {
    fi.proc_link = "/" + fi.path.path + " (deleted)";  // simple_dname
  } else {
    fi.proc_link = fi.path.path;
    if (fi.dentry) {
      // d_unlinked: unhashed and not a root.
      CORONER_TRY(uint64_t pprev, k.ReadField(fi.dentry, "dentry", "d_hash.pprev"));
      CORONER_TRY(uint64_t parent, k.ReadField(fi.dentry, "dentry", "d_parent"));
      if (!pprev && parent != fi.dentry) fi.proc_link += " (deleted)";
    }
  }
  return fi;
}

}  // namespace coroner
