#include "lib/commands/net.h"

#include <fmt/format.h>

#include "lib/commands/fs_commands.h"

namespace coroner {
namespace {

// A __be32 as read little-endian from memory, to host order.
uint32_t FromBe32(uint64_t v) { return __builtin_bswap32(static_cast<uint32_t>(v)); }
uint16_t FromBe16(uint64_t v) { return __builtin_bswap16(static_cast<uint16_t>(v)); }

constexpr int kAfUnix = 1;
constexpr int kAfInet = 2;

Result<std::vector<NetDevice>> ReadDevices(const Kernel& k) {
  // init_net is a struct net (net/core/net_namespace.c); BTF does not type globals.
  CORONER_TRY(uint64_t net, k.SymbolAddress("init_net"));
  CORONER_TRY(uint64_t head, k.FieldAddress(net, "net", "dev_base_head"));
  CORONER_TRY(std::vector<uint64_t> devs, k.ListEntries(head, "net_device", "dev_list", 1 << 16));
  std::vector<NetDevice> out;
  for (uint64_t dev : devs) {
    NetDevice d;
    d.net_device = dev;
    CORONER_TRY(d.name, k.ReadCharArray(dev, "net_device", "name"));
    CORONER_TRY(uint64_t in_dev, k.ReadField(dev, "net_device", "ip_ptr"));
    if (in_dev) {
      CORONER_TRY(uint64_t ifa, k.ReadField(in_dev, "in_device", "ifa_list"));
      for (int n = 0; ifa && n < 4096; ++n) {
        CORONER_TRY(uint64_t addr, k.ReadField(ifa, "in_ifaddr", "ifa_address"));
        d.ipv4.push_back(Ipv4String(FromBe32(addr)));
        CORONER_TRY(ifa, k.ReadField(ifa, "in_ifaddr", "ifa_next"));
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<SocketInfo> ReadSocket(const Kernel& k, const OpenFile& of) {
  SocketInfo si;
  si.fd = of.fd;
  si.inode_number = of.file.inode_number;
  CORONER_TRY(Field vfs_inode, k.FieldOf("socket_alloc", "vfs_inode"));
  si.socket = of.file.inode - vfs_inode.offset;
  CORONER_TRY(si.sock, k.ReadField(si.socket, "socket", "sk"));
  if (!si.sock) return si;
  uint64_t sk = si.sock;
  CORONER_TRY(uint64_t family, k.ReadField(sk, "sock", "__sk_common.skc_family"));
  si.family = static_cast<int>(family);
  CORONER_TRY(uint64_t type, k.ReadField(sk, "sock", "sk_type"));
  si.type = static_cast<int>(type);
  CORONER_TRY(uint64_t state, k.ReadField(sk, "sock", "__sk_common.skc_state"));
  si.state = static_cast<int>(state);
  CORONER_TRY(uint64_t prot, k.ReadField(sk, "sock", "__sk_common.skc_prot"));
  if (prot) {
    CORONER_TRY(si.protocol, k.ReadCharArray(prot, "proto", "name"));
  }
  if (si.family == kAfInet) {
    CORONER_TRY(uint64_t saddr, k.ReadField(sk, "sock", "__sk_common.skc_rcv_saddr"));
    CORONER_TRY(uint64_t daddr, k.ReadField(sk, "sock", "__sk_common.skc_daddr"));
    CORONER_TRY(uint64_t dport, k.ReadField(sk, "sock", "__sk_common.skc_dport"));
    CORONER_TRY(uint64_t sport, k.ReadField(sk, "inet_sock", "inet_sport"));
    si.local_addr = FromBe32(saddr);
    si.remote_addr = FromBe32(daddr);
    si.local_port = FromBe16(sport);
    si.remote_port = FromBe16(dport);
  } else if (si.family == kAfUnix) {
    CORONER_TRY(uint64_t addr, k.ReadField(sk, "unix_sock", "addr"));
    if (addr) {
      CORONER_TRY(int64_t len, k.ReadSignedField(addr, "unix_address", "len"));
      CORONER_TRY(Field name, k.FieldOf("unix_address", "name"));
      // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
      if (len > 2 && len <= 110) {
        std::string path(static_cast<size_t>(len - 2), '\0');
        CORONER_TRY_VOID(k.memory().Read(addr + name.offset + 2, std::as_writable_bytes(std::span(path))));
        if (path[0] == '\0') {
          path[0] = '@';
        } else {
          path.resize(std::min(path.find('\0'), path.size()));
        }
        si.unix_path = path;
      }
    }
  }
  return si;
}

}  // namespace

std::string Ipv4String(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

Result<NetResult> RunNet(const Session& s, const std::vector<std::string>& args) {
  NetResult r;
  std::vector<std::string> selectors;
  for (const std::string& a : args) {
    if (a == "-s") {
      r.sockets_mode = true;
    } else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else {
      selectors.push_back(a);
    }
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  if (!r.sockets_mode) {
    if (!selectors.empty()) return Error(ErrorCode::kInvalidArgument, "net: a task argument needs -s");
    CORONER_TRY(r.devices, ReadDevices(*k));
    return r;
  }
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, selectors));
  for (const TaskInfo* t : tasks) {
    TaskSockets ts;
    ts.task = *t;
    CORONER_TRY(std::vector<OpenFile> files, ReadOpenFiles(*k, *t));
    for (const OpenFile& of : files) {
      if (of.file.type != InodeType::kSocket || !of.file.inode) continue;
      auto si = ReadSocket(*k, of);
      if (!si) return std::move(si).error().WithContext(fmt::format("socket of fd {} of PID {}", of.fd, t->pid));
      ts.sockets.push_back(std::move(*si));
    }
    r.tasks.push_back(std::move(ts));
  }
  return r;
}

}  // namespace coroner
