// The filesystem-side inspection commands, in crash's terms:
//   mount           the mounts of the initial namespace (MOUNT SUPERBLK TYPE DEVNAME DIRNAME)
//   swap            the swap devices (SWAP_INFO_STRUCT TYPE SIZE USED PCT PRI FILENAME)
//   files [PID|TASK]...  a task's root and cwd, then every open fd (FD FILE DENTRY INODE TYPE PATH)
// (They pick tasks with SelectTasks, lib/commands/session.h.)
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/fs.h"

namespace coroner {

struct MountResult {
  std::vector<MountInfo> mounts;
};
Result<MountResult> RunMount(const Session& s, const std::vector<std::string>& args);

struct SwapDevice {
  uint64_t swap_info = 0;  // struct swap_info_struct
  bool partition = false;  // a block device (else a swap file)
  uint64_t pages = 0;      // usable pages (/proc/swaps Size, in pages)
  uint64_t used = 0;       // inuse_pages
  int64_t priority = 0;
  std::string filename;
  uint64_t page_size = 4096;
};
struct SwapResult {
  std::vector<SwapDevice> devices;
};
Result<SwapResult> RunSwap(const Session& s, const std::vector<std::string>& args);

struct OpenFile {
  int fd = 0;
  FileInfo file;
};
struct TaskFiles {
  TaskInfo task;
  std::string root, cwd;
  bool has_fs = false;
  bool has_files = false;
  std::vector<OpenFile> fds;
};
struct FilesResult {
  std::vector<TaskFiles> tasks;
};
// A task's open files (files->fdt: fd[] where open_fds has a bit set), in fd order.
Result<std::vector<OpenFile>> ReadOpenFiles(const Kernel& k, const TaskInfo& t);
Result<FilesResult> RunFiles(const Session& s, const std::vector<std::string>& args);

// `files -d DENTRY`: one dentry, its inode, superblock, type and path.
struct DentryResult {
  uint64_t dentry = 0, inode = 0, superblock = 0;
  FileInfo info;  // type and path (file = 0)
};
Result<DentryResult> RunFilesDentry(const Session& s, uint64_t dentry);

// `fuser PATH|ADDRESS...`: the tasks using a file, as root, cwd, an open fd or a mapping
// ("root cwd fd mmap"). A path matches exactly (crash matches the text of its files/vm output,
// so also a path's trailing part); a hex address matches a fd's file, dentry or inode.
struct FuserUser {
  TaskInfo task;
  std::vector<std::string> uses;
};
struct FuserResult {
  std::string spec;
  std::vector<FuserUser> users;
};
Result<std::vector<FuserResult>> RunFuser(const Session& s, const std::vector<std::string>& args);

// crash's TYPE column: "REG", "DIR", "CHR", "BLK", "FIFO" ("PIPE" for pipes where the kernel
// has pipe_inode_operations), "LNK", "SOCK", "UNKN".
std::string FileTypeName(const FileInfo& f);

}  // namespace coroner
