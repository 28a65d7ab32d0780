// `net`: the network devices of the initial namespace (init_net.dev_base_head) with their IPv4
// and IPv6 addresses (in_device.ifa_list, inet6_dev.addr_list), as crash 8.1+ lists them;
// `net -s [PID|TASK]...`: the sockets among a task's open files (family, type, IPv4 or IPv6
// local and remote address and port, state; a UNIX socket's bound path);
// `net -a`: the ARP cache, every neighbour in arp_tbl's hash table (neigh_table.nht: an array
// of neighbour chains through neighbour.next, or of hlist heads through neighbour.hash on
// 6.13+), as crash prints it.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct NetDevice {
  uint64_t net_device = 0;
  std::string name;
  std::vector<std::string> ipv4;  // dotted quads, in ifa_list order
  std::vector<std::string> ipv6;  // inet_ntop form ("::1"), in addr_list order
};

using Ipv6Address = std::array<uint8_t, 16>;  // network byte order, as in struct in6_addr

struct SocketInfo {
  int fd = 0;
  uint64_t socket = 0;  // struct socket (the socket_alloc around the inode)
  uint64_t sock = 0;    // socket->sk
  uint64_t inode_number = 0;
  int family = 0;       // AF_*
  int type = 0;         // SOCK_*
  int state = 0;        // skc_state (TCP_LISTEN = 10, ...)
  std::string protocol; // sk_prot->name ("TCP", "UDP", "UNIX-STREAM")
  // AF_INET only: host-order addresses and ports.
  uint32_t local_addr = 0, remote_addr = 0;
  uint16_t local_port = 0, remote_port = 0;
  // AF_INET6 only (sock_common.skc_v6_rcv_saddr / skc_v6_daddr); ports as for AF_INET.
  Ipv6Address local_addr6{}, remote_addr6{};
  std::string ipv6_error;  // why the IPv6 addresses could not be read (a member is missing)
  std::string unix_path;  // AF_UNIX: the bound path ("@name" for the abstract namespace)
};

struct TaskSockets {
  TaskInfo task;
  std::vector<SocketInfo> sockets;
};

// One entry of the ARP cache (struct neighbour).
struct ArpEntry {
  uint64_t neighbour = 0;
  std::string ip;           // primary_key, dotted quad
  int hw_type = 0;          // the device's net_device.type (ARPHRD_*)
  std::vector<uint8_t> hw_address;  // ha[], net_device.addr_len bytes
  std::string device;
  uint8_t state = 0;        // nud_state (NUD_*)
};

struct ArpTable {
  uint64_t table = 0;       // arp_tbl (struct neigh_table)
  uint64_t hash_table = 0;  // arp_tbl.nht (struct neigh_hash_table)
  uint64_t buckets = 0;     // nht->hash_buckets or nht->hash_heads
  std::string bucket_member;  // "hash_buckets" (neighbour chains) or "hash_heads" (hlists, 6.13+)
  unsigned hash_shift = 0;
  uint64_t bucket_count = 0;  // 1 << hash_shift
  unsigned key_len = 0;
  std::vector<ArpEntry> entries;
};

struct NetResult {
  bool sockets_mode = false;
  bool arp_mode = false;
  ArpTable arp;
  std::vector<NetDevice> devices;
  std::vector<TaskSockets> tasks;
};

Result<NetResult> RunNet(const Session& s, const std::vector<std::string>& args);

// "127.0.0.1" from a host-order IPv4 address.
std::string Ipv4String(uint32_t host_order);
// "::1" (inet_ntop's form) and crash's socket form "0:0:0:0:0:0:0:1" (every group, no "::").
std::string Ipv6String(const Ipv6Address& a);
std::string Ipv6GroupsString(const Ipv6Address& a);

}  // namespace coroner
