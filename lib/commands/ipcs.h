// `ipcs [-m] [-s] [-q]`: the System V IPC objects of the initial IPC namespace (init_ipc_ns):
// shared memory segments, semaphore sets and message queues, found through each ipc_ids'
// IDR (an XArray since 4.20), in crash 8.0.2's layout. No option lists all three.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct IpcObject {
  uint64_t address = 0;  // shmid_kernel, sem_array or msg_queue
  uint32_t key = 0;
  int32_t id = 0;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;  // kern_ipc_perm.mode (permissions, SHM_DEST, SHM_LOCKED)
  // Shared memory.
  uint64_t size = 0, nattch = 0;
  int32_t cpid = 0, lpid = 0;
  // Semaphores.
  uint64_t nsems = 0;
  // Message queues.
  uint64_t cbytes = 0, qnum = 0;
  int32_t lspid = 0, lrpid = 0;
};

struct IpcsResult {
  bool shm = false, sem = false, msg = false;  // which kinds were asked for
  std::vector<IpcObject> shms, sems, msgs;
};

Result<IpcsResult> RunIpcs(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
