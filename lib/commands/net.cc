#include "lib/commands/net.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <set>

#include "lib/commands/fs_commands.h"

namespace coroner {
namespace {

// A __be32 as read little-endian from memory, to host order.
uint32_t FromBe32(uint64_t v) { return __builtin_bswap32(static_cast<uint32_t>(v)); }
uint16_t FromBe16(uint64_t v) { return __builtin_bswap16(static_cast<uint16_t>(v)); }

constexpr int kAfUnix = 1;
constexpr int kAfInet = 2;
constexpr int kAfInet6 = 10;

Result<Ipv6Address> ReadIpv6(const Kernel& k, uint64_t addr) {
  Ipv6Address a{};
  CORONER_TRY_VOID(k.memory().Read(addr, std::as_writable_bytes(std::span(a))));
  return a;
}

// inet6_dev.addr_list: the device's inet6_ifaddr entries (if_list), in list order.
Result<std::vector<std::string>> ReadIpv6Addresses(const Kernel& k, uint64_t inet6_dev) {
  CORONER_TRY(uint64_t head, k.FieldAddress(inet6_dev, "inet6_dev", "addr_list"));
  CORONER_TRY(std::vector<uint64_t> ifas, k.ListEntries(head, "inet6_ifaddr", "if_list", 4096));
  CORONER_TRY(Field addr, k.FieldOf("inet6_ifaddr", "addr"));
  std::vector<std::string> out;
  for (uint64_t ifa : ifas) {
    CORONER_TRY(Ipv6Address a, ReadIpv6(k, ifa + addr.offset));
    out.push_back(Ipv6String(a));
  }
  return out;
}

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
    CORONER_TRY(uint64_t in6_dev, k.ReadField(dev, "net_device", "ip6_ptr"));
    if (in6_dev) {
      auto v6 = ReadIpv6Addresses(k, in6_dev);
      if (!v6) return std::move(v6).error().WithContext(fmt::format("IPv6 addresses of {}", d.name));
      d.ipv6 = std::move(*v6);
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
  } else if (si.family == kAfInet6) {
    CORONER_TRY(uint64_t dport, k.ReadField(sk, "sock", "__sk_common.skc_dport"));
    CORONER_TRY(uint64_t sport, k.ReadField(sk, "inet_sock", "inet_sport"));
    si.local_port = FromBe16(sport);
    si.remote_port = FromBe16(dport);
    // Since 3.13 the addresses live in sock_common (before: ipv6_pinfo.rcv_saddr/daddr).
    auto saddr = k.FieldOf("sock", "__sk_common.skc_v6_rcv_saddr");
    auto daddr = k.FieldOf("sock", "__sk_common.skc_v6_daddr");
    if (!saddr || !daddr) {
      si.ipv6_error = (!saddr ? saddr.error() : daddr.error()).message();
    } else {
      CORONER_TRY(si.local_addr6, ReadIpv6(k, sk + saddr->offset));
      CORONER_TRY(si.remote_addr6, ReadIpv6(k, sk + daddr->offset));
    }
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

constexpr unsigned kMaxHashShift = 24;     // neigh_hash_alloc grows the table far below this
constexpr size_t kMaxNeighbours = 1 << 20;

// arp_tbl's hash table (net/core/neighbour.c): nht->hash_buckets[1 << hash_shift] heads chains
// through neighbour.next; 6.13 made the buckets hlist_heads (nht->hash_heads) chaining
// neighbour.hash. Which one is probed from the types.
Result<ArpTable> ReadArp(const Kernel& k) {
  ArpTable t;
  CORONER_TRY(t.table, k.SymbolAddress("arp_tbl"));
  CORONER_TRY(uint64_t key_len, k.ReadField(t.table, "neigh_table", "key_len"));
  t.key_len = static_cast<unsigned>(key_len);
  CORONER_TRY(t.hash_table, k.ReadField(t.table, "neigh_table", "nht"));
  if (!t.hash_table) return Error(ErrorCode::kBadData, "arp_tbl.nht is NULL");
  CORONER_TRY(std::string_view member, k.FirstField("neigh_hash_table", {"hash_buckets", "hash_heads"}));
  t.bucket_member = std::string(member);
  const bool hlist = member == "hash_heads";
  CORONER_TRY(uint64_t shift, k.ReadField(t.hash_table, "neigh_hash_table", "hash_shift"));
  if (shift > kMaxHashShift) {
    return Error(ErrorCode::kBadData, fmt::format("arp_tbl.nht {:#x}: hash_shift {} is implausible", t.hash_table, shift));
  }
  t.hash_shift = static_cast<unsigned>(shift);
  t.bucket_count = uint64_t{1} << shift;
  CORONER_TRY(t.buckets, k.ReadField(t.hash_table, "neigh_hash_table", member));
  if (!t.buckets) return Error(ErrorCode::kBadData, fmt::format("arp_tbl.nht->{} is NULL", member));
  if (t.key_len != 4) return Error(ErrorCode::kBadData, fmt::format("arp_tbl.key_len is {}, not 4 (IPv4)", t.key_len));
  CORONER_TRY(Field next, k.FieldOf("neighbour", hlist ? "hash" : "next"));
  CORONER_TRY(Field key, k.FieldOf("neighbour", "primary_key"));
  CORONER_TRY(Field ha, k.FieldOf("neighbour", "ha"));
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < t.bucket_count; ++i) {
    // Both a neighbour pointer and an hlist_head are one pointer wide.
    CORONER_TRY(uint64_t link, k.ReadU64(t.buckets + 8 * i));
    while (link) {
      if (!IsKernelAddress(link)) {
        return Error(ErrorCode::kBadData, fmt::format("arp_tbl bucket {}: {:#x} is not a kernel address", i, link));
      }
      uint64_t n = hlist ? link - next.offset : link;
      if (!seen.insert(n).second || seen.size() > kMaxNeighbours) {
        return Error(ErrorCode::kBadData, fmt::format("arp_tbl bucket {}: neighbour {:#x} loops", i, n));
      }
      ArpEntry e;
      e.neighbour = n;
      CORONER_TRY(uint32_t ip, k.ReadU32(n + key.offset));
      e.ip = Ipv4String(FromBe32(ip));
      CORONER_TRY(uint64_t state, k.ReadField(n, "neighbour", "nud_state"));
      e.state = static_cast<uint8_t>(state);
      CORONER_TRY(uint64_t dev, k.ReadField(n, "neighbour", "dev"));
      if (dev) {
        CORONER_TRY(e.device, k.ReadCharArray(dev, "net_device", "name"));
        CORONER_TRY(uint64_t type, k.ReadField(dev, "net_device", "type"));
        e.hw_type = static_cast<int>(type);
        CORONER_TRY(uint64_t len, k.ReadField(dev, "net_device", "addr_len"));
        e.hw_address.resize(std::min<uint64_t>(len, ha.size));
        CORONER_TRY_VOID(k.memory().Read(n + ha.offset, std::as_writable_bytes(std::span(e.hw_address))));
      }
      t.entries.push_back(std::move(e));
      CORONER_TRY(link, k.ReadU64(link + (hlist ? 0 : next.offset)));
    }
  }
  return t;
}

}  // namespace

std::string Ipv6String(const Ipv6Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

std::string Ipv6GroupsString(const Ipv6Address& a) {
  std::string out;
  for (size_t i = 0; i < 16; i += 2) {
    out += fmt::format("{}{:x}", i ? ":" : "", (a[i] << 8) | a[i + 1]);
  }
  return out;
}

std::string Ipv4String(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

Result<NetResult> RunNet(const Session& s, const std::vector<std::string>& args) {
  NetResult r;
  std::vector<std::string> selectors;
  for (const std::string& a : args) {
    if (a == "-s") {
      r.sockets_mode = true;
    } else if (a == "-a") {
      r.arp_mode = true;
    } else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else {
      selectors.push_back(a);
    }
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  if (r.arp_mode) {
    if (r.sockets_mode || !selectors.empty()) return Error(ErrorCode::kInvalidArgument, "net -a takes no other argument");
    auto arp = ReadArp(*k);
    if (!arp) return std::move(arp).error().WithContext("the ARP cache (arp_tbl)");
    r.arp = std::move(*arp);
    return r;
  }
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
