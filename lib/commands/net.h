// `net`: the network devices of the initial namespace (init_net.dev_base_head) with their IPv4
// addresses, and `net -s [PID|TASK]...`: the sockets among a task's open files (family, type,
// IPv4 local and remote address and port, state; a UNIX socket's bound path), as crash 8.0.2.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct NetDevice {
  uint64_t net_device = 0;
  std::string name;
  std::vector<std::string> ipv4;  // dotted quads, in ifa_list order
};

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
  std::string unix_path;  // AF_UNIX: the bound path ("@name" for the abstract namespace)
};

struct TaskSockets {
  TaskInfo task;
  std::vector<SocketInfo> sockets;
};

struct NetResult {
  bool sockets_mode = false;
  std::vector<NetDevice> devices;
  std::vector<TaskSockets> tasks;
};

Result<NetResult> RunNet(const Session& s, const std::vector<std::string>& args);

// "127.0.0.1" from a host-order IPv4 address.
std::string Ipv4String(uint32_t host_order);

}  // namespace coroner
