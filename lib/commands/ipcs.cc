#include "lib/commands/ipcs.h"

#include <fmt/format.h>

#include "lib/kernel/containers.h"

namespace coroner {
namespace {

// include/linux/ipc_namespace.h: ids[IPC_SEM_IDS = 0, IPC_MSG_IDS = 1, IPC_SHM_IDS = 2].
enum IpcKind { kSem = 0, kMsg = 1, kShm = 2 };

// The PID number of a struct pid * member (a pid_t before 4.17): numbers[0].nr.
Result<int32_t> PidMember(const Kernel& k, uint64_t obj, std::string_view type, std::string_view member) {
  CORONER_TRY(Field f, k.FieldOf(type, member));
  CORONER_TRY(uint64_t v, k.ReadField(obj, type, member));
  if (f.size == 4) return static_cast<int32_t>(v);
  if (!v) return 0;
  CORONER_TRY(Field numbers, k.FieldOf("pid", "numbers"));
  CORONER_TRY(Field nr, k.FieldOf("upid", "nr"));
  CORONER_TRY(uint32_t n, k.ReadU32(v + numbers.offset + nr.offset));
  return static_cast<int32_t>(n);
}

Result<std::vector<IpcObject>> ReadIds(const Kernel& k, uint64_t ns, IpcKind kind) {
  static constexpr std::string_view kTypes[] = {"sem_array", "msg_queue", "shmid_kernel"};
  static constexpr std::string_view kPerm[] = {"sem_perm", "q_perm", "shm_perm"};
  std::string_view type = kTypes[kind];
  std::string_view perm_member = kPerm[kind];
  CORONER_TRY(Field ids, k.FieldOf("ipc_namespace", "ids"));
  CORONER_TRY(uint64_t ids_size, k.SizeOf("ipc_ids"));
  uint64_t ipc_ids = ns + ids.offset + ids_size * static_cast<uint64_t>(kind);
  CORONER_TRY(uint64_t in_use, k.ReadField(ipc_ids, "ipc_ids", "in_use"));
  std::vector<IpcObject> out;
  if (!in_use) return out;
  CORONER_TRY(uint64_t idr, k.FieldAddress(ipc_ids, "ipc_ids", "ipcs_idr"));
  CORONER_TRY(uint64_t xa, k.FieldAddress(idr, "idr", "idr_rt"));
  auto entries = XArrayEntries(k, xa);
  if (!entries) return std::move(entries).error().WithContext(fmt::format("{} ids (ipc_ids at {:#x})", type, ipc_ids));
  CORONER_TRY(Field perm, k.FieldOf(type, perm_member));
  for (const auto& [index, p] : *entries) {
    IpcObject o;
    o.address = p - perm.offset;
    CORONER_TRY(uint64_t key, k.ReadField(p, "kern_ipc_perm", "key"));
    o.key = static_cast<uint32_t>(key);
    CORONER_TRY(int64_t id, k.ReadSignedField(p, "kern_ipc_perm", "id"));
    o.id = static_cast<int32_t>(id);
    CORONER_TRY(uint64_t uid, k.ReadField(p, "kern_ipc_perm", "uid.val"));
    CORONER_TRY(uint64_t gid, k.ReadField(p, "kern_ipc_perm", "gid.val"));
    CORONER_TRY(uint64_t cuid, k.ReadField(p, "kern_ipc_perm", "cuid.val"));
    CORONER_TRY(uint64_t cgid, k.ReadField(p, "kern_ipc_perm", "cgid.val"));
    o.uid = static_cast<uint32_t>(uid);
    o.gid = static_cast<uint32_t>(gid);
    o.cuid = static_cast<uint32_t>(cuid);
    o.cgid = static_cast<uint32_t>(cgid);
    CORONER_TRY(uint64_t mode, k.ReadField(p, "kern_ipc_perm", "mode"));
    o.mode = static_cast<uint32_t>(mode);
    switch (kind) {
      case kShm: {
        CORONER_TRY(o.size, k.ReadField(o.address, type, "shm_segsz"));
        CORONER_TRY(o.nattch, k.ReadField(o.address, type, "shm_nattch"));
        CORONER_TRY(o.cpid, PidMember(k, o.address, type, "shm_cprid"));
        CORONER_TRY(o.lpid, PidMember(k, o.address, type, "shm_lprid"));
        break;
      }
      case kSem: {
        CORONER_TRY(o.nsems, k.ReadField(o.address, type, "sem_nsems"));
        break;
      }
      case kMsg: {
        CORONER_TRY(o.cbytes, k.ReadField(o.address, type, "q_cbytes"));
        CORONER_TRY(o.qnum, k.ReadField(o.address, type, "q_qnum"));
        CORONER_TRY(o.lspid, PidMember(k, o.address, type, "q_lspid"));
        CORONER_TRY(o.lrpid, PidMember(k, o.address, type, "q_lrpid"));
        break;
      }
    }
    out.push_back(o);
  }
  return out;
}

}  // namespace

Result<IpcsResult> RunIpcs(const Session& s, const std::vector<std::string>& args) {
  IpcsResult r;
  for (const std::string& a : args) {
    if (a.size() < 2 || a[0] != '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("ipcs {}: selecting objects by id or address is not supported yet", a));
    }
    for (char c : a.substr(1)) {
      switch (c) {
        case 'm': r.shm = true; break;
        case 's': r.sem = true; break;
        case 'q': r.msg = true; break;
        default: return Error(ErrorCode::kUnsupported, fmt::format("option -{} is not supported yet", c));
      }
    }
  }
  if (!r.shm && !r.sem && !r.msg) r.shm = r.sem = r.msg = true;
  CORONER_TRY(const Kernel* k, s.GetKernel());
  // init_ipc_ns is a struct ipc_namespace (ipc/msgutil.c); BTF does not type globals.
  CORONER_TRY(uint64_t ns, k->SymbolAddress("init_ipc_ns"));
  if (r.shm) {
    CORONER_TRY(r.shms, ReadIds(*k, ns, kShm));
  }
  if (r.sem) {
    CORONER_TRY(r.sems, ReadIds(*k, ns, kSem));
  }
  if (r.msg) {
    CORONER_TRY(r.msgs, ReadIds(*k, ns, kMsg));
  }
  return r;
}

}  // namespace coroner
