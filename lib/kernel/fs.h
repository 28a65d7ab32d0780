// The VFS as the inspection commands need it: path names built from a dentry and its mount
// (the kernel's d_path, walked by hand: d_name and d_parent up to the mount's root, then
// mnt_mountpoint and mnt_parent), the mounts of a mount namespace (mnt_namespace.list of
// mount.mnt_list before 6.8, the rbtree mnt_namespace.mounts of mount.mnt_node after), an
// inode's type, and the file of an open file descriptor.
//
//   CORONER_TRY(std::vector<MountInfo> mounts, ReadMounts(k));   // init_nsproxy's namespace
//   CORONER_TRY(FilePath p, PathOfFile(k, file));                // "/tmp/x", "TCP", ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/kernel/kernel.h"

namespace coroner {

// A path as crash's get_pathname builds it: "/dev/null" for a dentry reachable from the
// namespace root; for a dentry of an internal (pseudo) filesystem that is its own parent — a
// socket ("TCP"), a pipe (""), a SysV shm segment ("SYSV434f5201"), an anon inode — just its
// name, with `detached` set.
struct DentryPath {
  std::string path;
  bool detached = false;
};

// The path of `dentry` seen through `vfsmount` (0: walk dentries only).
Result<DentryPath> PathOfDentry(const Kernel& k, uint64_t dentry, uint64_t vfsmount);
// A dentry's own name (d_name).
Result<std::string> DentryName(const Kernel& k, uint64_t dentry);

struct MountInfo {
  uint64_t mount = 0;       // struct mount
  uint64_t vfsmount = 0;    // its embedded struct vfsmount (mount.mnt)
  uint64_t superblock = 0;  // mnt.mnt_sb
  std::string type;         // mnt_sb->s_type->name
  std::string devname;      // mnt_devname
  std::string dirname;      // where it is mounted
  uint64_t mount_id = 0;    // mnt_id, as /proc/PID/mountinfo and fdinfo's mnt_id
  // Reachable from the reader's root (what /proc/mounts lists); true when no root was given.
  bool reachable = true;
};

// The mounts of a mount namespace (struct mnt_namespace), in mount order. Cursor entries of
// /proc/mounts readers (no superblock) are skipped.
Result<std::vector<MountInfo>> ReadNamespaceMounts(const Kernel& k, uint64_t mnt_ns);
// The mounts of the initial namespace (init_nsproxy.mnt_ns). With `reader_root` (a task's
// fs->root.mnt), marks the mounts that task's /proc/mounts would list.
Result<std::vector<MountInfo>> ReadMounts(const Kernel& k, uint64_t reader_root = 0);

// include/uapi/linux/stat.h S_IFMT values.
enum class InodeType { kUnknown, kRegular, kDirectory, kCharDevice, kBlockDevice, kFifo, kSymlink, kSocket };
InodeType InodeTypeOfMode(uint32_t mode);

// What an open struct file refers to.
struct FileInfo {
  uint64_t file = 0;
  uint64_t dentry = 0;    // f_path.dentry
  uint64_t vfsmount = 0;  // f_path.mnt
  uint64_t mount_id = 0;  // its mount's mnt_id (fdinfo's mnt_id)
  uint64_t inode = 0;     // dentry->d_inode (f_inode when the dentry has none)
  uint64_t inode_number = 0;
  uint32_t mode = 0;      // i_mode
  InodeType type = InodeType::kUnknown;
  bool pipe = false;      // a pipe (pipe_inode_operations), not a named FIFO
  std::string fs_type;    // inode->i_sb->s_type->name
  DentryPath path;
  // /proc/PID/fd's link text: "socket:[4040]", "pipe:[4037]", "anon_inode:[eventfd]", or the
  // path ("/SYSV434f5201 (deleted)" for an unlinked dentry).
  std::string proc_link;
};

Result<FileInfo> ReadFileInfo(const Kernel& k, uint64_t file);

}  // namespace coroner
