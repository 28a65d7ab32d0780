// The net renderers on results no test dump has: an AF_INET6 socket (the guests' only sockets
// are the helper's IPv4 and UNIX ones) and a filled ARP cache (the guests have only lo). The
// expected lines follow crash 8.1+'s net.c (get_sock_info, dump_in6_addr_port, dump_arp).
#include "lib/render/system_render.h"

#include <gtest/gtest.h>

namespace coroner {
namespace {

std::string LineWith(const std::string& text, std::string_view needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  size_t begin = text.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return text.substr(begin, text.find('\n', at) - begin);
}

TEST(NetRender, Ipv6Strings) {
  Ipv6Address lo{};
  lo[15] = 1;
  EXPECT_EQ(Ipv6String(lo), "::1");
  EXPECT_EQ(Ipv6GroupsString(lo), "0:0:0:0:0:0:0:1");
  Ipv6Address a = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56};
  EXPECT_EQ(Ipv6String(a), "fe80::5054:ff:fe12:3456");
  EXPECT_EQ(Ipv6GroupsString(a), "fe80:0:0:0:5054:ff:fe12:3456");
}

TEST(NetRender, Inet6SocketAsCrash) {
  NetResult r;
  r.sockets_mode = true;
  TaskSockets ts;
  SocketInfo si;
  si.fd = 3;
  si.socket = 0xffff888001234500;
  si.sock = 0xffff888005678900;
  si.family = 10;
  si.type = 1;
  si.local_addr6[15] = 1;
  si.local_port = 22;
  ts.sockets.push_back(si);
  si.fd = 4;
  si.local_port = 8080;
  si.remote_addr6[15] = 1;
  si.remote_port = 51234;
  ts.sockets.push_back(si);
  si.fd = 5;
  si.ipv6_error = "struct sock has no member __sk_common.skc_v6_rcv_saddr";
  ts.sockets.push_back(si);
  r.tasks.push_back(ts);
  const std::string text = RenderNetText(r);
  // The source right-aligned in 12, the destination centred in the source's width (the odd
  // space to the right).
  EXPECT_EQ(LineWith(text, " 3 "),
            " 3 ffff888001234500 ffff888005678900 INET6:STREAM 0:0:0:0:0:0:0:1-22 0:0:0:0:0:0:0:0-0 ");
  EXPECT_EQ(LineWith(text, " 4 "),
            " 4 ffff888001234500 ffff888005678900 INET6:STREAM 0:0:0:0:0:0:0:1-8080 0:0:0:0:0:0:0:1-51234");
  EXPECT_EQ(LineWith(text, " 5 "),
            " 5 ffff888001234500 ffff888005678900 INET6:STREAM (cannot get IPv6 addresses: struct sock has no "
            "member __sk_common.skc_v6_rcv_saddr)");
  auto j = RenderNetJson(r);
  EXPECT_EQ(j["tasks"][0]["sockets"][1]["local_address"], "::1");
  EXPECT_EQ(j["tasks"][0]["sockets"][1]["remote_port"], 51234);
  EXPECT_TRUE(j["tasks"][0]["sockets"][2].contains("error"));
}

TEST(NetRender, ArpCacheAsCrash) {
  NetResult r;
  r.arp_mode = true;
  EXPECT_EQ(RenderNetText(r), "");  // crash prints no heading for an empty cache
  ArpEntry e;
  e.neighbour = 0xffff888004a1b000;
  e.ip = "10.0.2.2";
  e.hw_type = 1;
  e.hw_address = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
  e.device = "eth0";
  e.state = 0x02;
  r.arp.entries.push_back(e);
  e.neighbour = 0xffff888004a1b400;
  e.ip = "10.0.2.3";
  e.hw_type = 768;  // ARPHRD_TUNNEL: crash's UNKNOWN, bytes space-separated
  e.hw_address = {0x0a, 0x00};
  e.device = "tun0";
  e.state = 0x40 | 0x80;
  r.arp.entries.push_back(e);
  EXPECT_EQ(RenderNetText(r),
            "NEIGHBOUR        IP ADDRESS      HW TYPE    HW ADDRESS         DEVICE  STATE\n"
            "ffff888004a1b000 10.0.2.2        ETHER      52:55:0a:00:02:02  eth0    REACHABLE\n"
            "ffff888004a1b400 10.0.2.3        UNKNOWN    0a 00  tun0    NOARP|PERMANENT\n");
  auto j = RenderNetJson(r);
  EXPECT_EQ(j["entries"][0]["hw_address"], "52:55:0a:00:02:02");
  EXPECT_EQ(j["entries"][1]["state_flags"], "NOARP|PERMANENT");
}

}  // namespace
}  // namespace coroner
