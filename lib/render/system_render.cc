#include "lib/render/system_render.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "lib/render/memory_render.h"
#include "lib/render/task_render.h"

namespace coroner {

std::string CenterText(std::string_view s, size_t width, bool right_bias) {
  if (s.size() >= width) return std::string(s);
  size_t pad = width - s.size();
  size_t left = right_bias ? (pad + 1) / 2 : pad / 2;
  return std::string(left, ' ') + std::string(s) + std::string(pad - left, ' ');
}

std::string TaskHeaderLine(const TaskInfo& t) {
  return fmt::format("PID: {:<8} TASK: {:016x}  CPU: {:<4} COMMAND: \"{}\"\n", t.pid, t.task, t.cpu, t.comm);
}

namespace {

std::string Hex(uint64_t v) { return fmt::format("{:#x}", v); }

}  // namespace

std::string RenderMountText(const MountResult& r) {
  // filesys.c show_mounts(): TYPE at least as wide as "rootfs", DEVNAME as "DEVNAME"+2; when
  // the two overflow, crash trims the run of spaces before DIRNAME to one.
  std::string out = fmt::format("{} {} {:<6} {:<9} DIRNAME\n", CenterText("MOUNT", 16), CenterText("SUPERBLK", 16),
                                "TYPE", "DEVNAME");
  for (const MountInfo& m : r.mounts) {
    std::string mid = fmt::format("{:<6} {:<9} ", m.type, m.devname);
    while (mid.size() > 17 && mid[mid.size() - 2] == ' ') mid.erase(mid.size() - 1);
    out += fmt::format("{:016x} {:016x} {}{:<10}\n", m.mount, m.superblock, mid, m.dirname);
  }
  return out;
}

nlohmann::ordered_json RenderMountJson(const MountResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const MountInfo& m : r.mounts) {
    nlohmann::ordered_json j;
    j["mount"] = Hex(m.mount);
    j["vfsmount"] = Hex(m.vfsmount);
    j["superblock"] = Hex(m.superblock);
    j["type"] = m.type;
    j["devname"] = m.devname;
    j["dirname"] = m.dirname;
    j["mount_id"] = m.mount_id;
    j["in_proc_mounts"] = m.reachable;
    arr.push_back(j);
  }
  nlohmann::ordered_json j;
  j["mounts"] = arr;
  return j;
}

std::string RenderSwapText(const SwapResult& r) {
  std::string out = "SWAP_INFO_STRUCT    TYPE       SIZE       USED     PCT  PRI  FILENAME\n";
  for (const SwapDevice& d : r.devices) {
    uint64_t kb = d.page_size / 1024;
    uint64_t pct = d.pages ? d.used * 100 / d.pages : 0;
    out += fmt::format("{}  {} {} {} {} {:>4}  {}\n", CenterText(fmt::format("{:x}", d.swap_info), 16),
                       d.partition ? "PARTITION" : "  FILE   ", CenterText(fmt::format("{}k", d.pages * kb), 10, true),
                       CenterText(fmt::format("{}k", d.used * kb), 10, true),
                       CenterText(fmt::format("{:2}%", pct), 4, true), d.priority, d.filename);
  }
  return out;
}

nlohmann::ordered_json RenderSwapJson(const SwapResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const SwapDevice& d : r.devices) {
    nlohmann::ordered_json j;
    j["swap_info_struct"] = Hex(d.swap_info);
    j["type"] = d.partition ? "partition" : "file";
    j["size_kb"] = d.pages * d.page_size / 1024;
    j["used_kb"] = d.used * d.page_size / 1024;
    j["priority"] = d.priority;
    j["filename"] = d.filename;
    arr.push_back(j);
  }
  nlohmann::ordered_json j;
  j["swap"] = arr;
  return j;
}

std::string RenderFilesText(const FilesResult& r) {
  std::string out;
  bool first = true;
  for (const TaskFiles& tf : r.tasks) {
    if (!first) out += "\n";
    first = false;
    out += TaskHeaderLine(tf.task);
    if (tf.has_fs) out += fmt::format("ROOT: {}    CWD: {}\n", tf.root, tf.cwd);
    if (!tf.has_files || tf.fds.empty()) {
      out += "No open files\n";
      continue;
    }
    out += fmt::format(" FD {} {} {} TYPE PATH\n", CenterText("FILE", 16), CenterText("DENTRY", 16),
                       CenterText("INODE", 16));
    for (const OpenFile& of : tf.fds) {
      const FileInfo& f = of.file;
      std::string path = f.path.path;
      if (f.type == InodeType::kSocket && path == "/") path.clear();
      if (f.pipe) path.clear();
      out += fmt::format("{:3} {:016x} {:016x} {:016x} {:<4} {}\n", of.fd, f.file, f.dentry, f.inode, FileTypeName(f),
                         path);
    }
  }
  return out;
}

nlohmann::ordered_json RenderFilesJson(const FilesResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const TaskFiles& tf : r.tasks) {
    nlohmann::ordered_json j = TaskJson(tf.task);
    j["root"] = tf.has_fs ? nlohmann::ordered_json(tf.root) : nlohmann::ordered_json(nullptr);
    j["cwd"] = tf.has_fs ? nlohmann::ordered_json(tf.cwd) : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json fds = nlohmann::ordered_json::array();
    for (const OpenFile& of : tf.fds) {
      const FileInfo& f = of.file;
      nlohmann::ordered_json e;
      e["fd"] = of.fd;
      e["file"] = Hex(f.file);
      e["dentry"] = Hex(f.dentry);
      e["inode"] = Hex(f.inode);
      e["type"] = FileTypeName(f);
      e["path"] = f.path.path;
      e["proc_link"] = f.proc_link;
      e["inode_number"] = f.inode_number;
      e["mount_id"] = f.mount_id;
      e["mode"] = fmt::format("{:o}", f.mode);
      e["fs_type"] = f.fs_type;
      fds.push_back(e);
    }
    j["files"] = fds;
    arr.push_back(j);
  }
  nlohmann::ordered_json j;
  j["tasks"] = arr;
  return j;
}


std::string RenderVmText(const VmResult& r) {
  std::string out;
  bool first = true;
  uint64_t kb = r.page_size / 1024;
  for (const TaskVm& tv : r.tasks) {
    if (!first) out += "\n";
    first = false;
    out += TaskHeaderLine(tv.task);
    // memory.c PRINT_VM_DATA and vm_area_dump's header.
    out += fmt::format("{}  {}  {}  {}\n", CenterText("MM", 16), CenterText("PGD", 16), CenterText("RSS", 6),
                       CenterText("TOTAL_VM", 8));
    out += fmt::format("{}  {}  {}  {}\n", CenterText(fmt::format("{:x}", tv.mm), 16),
                       CenterText(fmt::format("{:x}", tv.pgd), 16),
                       CenterText(fmt::format("{}k", tv.mm ? tv.task.rss * kb : 0), 6),
                       CenterText(fmt::format("{}k", tv.mm ? tv.task.total_vm * kb : 0), 8));
    if (!tv.mm) continue;
    std::string header = fmt::format("{} {} {}  FLAGS FILE\n", CenterText("VMA", 16), CenterText("START", 10, true),
                                     CenterText("END", 10, true));
    if (!r.physical) out += header;
    for (const VmArea& a : tv.vmas) {
      // vm -p: memory.c vm_area_page_dump(), the VMA header again before each VMA.
      if (r.physical) out += header;
      out += fmt::format("{:016x} {:>10x} {:>10x} {:6x} {}\n", a.vma, a.start, a.end, a.flags, a.path);
      if (!r.physical) continue;
      out += "VIRTUAL     PHYSICAL\n";
      for (const UserPage& p : a.pages) {
        std::string va = fmt::format("{:<10x}", p.va);
        if (p.mapped) {
          out += fmt::format("{}  {:>8x}\n", va, p.pa);
        } else if (p.swapped) {
          out += fmt::format("{}  SWAP: {}  OFFSET: {}\n", va, p.swap_device, p.swap_offset);
        } else if (a.file) {
          out += fmt::format("{}  FILE: {}  OFFSET: {:x}\n", va, a.path, p.va - a.start + a.pgoff * 4096);
        } else {
          out += fmt::format("{}  (not mapped)\n", va);
        }
      }
    }
  }
  return out;
}

nlohmann::ordered_json RenderVmJson(const VmResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const TaskVm& tv : r.tasks) {
    nlohmann::ordered_json j = TaskJson(tv.task);
    j["mm"] = fmt::format("{:#x}", tv.mm);
    j["pgd"] = fmt::format("{:#x}", tv.pgd);
    j["rss_kb"] = tv.mm ? tv.task.rss * r.page_size / 1024 : 0;
    j["total_vm_kb"] = tv.mm ? tv.task.total_vm * r.page_size / 1024 : 0;
    nlohmann::ordered_json vmas = nlohmann::ordered_json::array();
    for (const VmArea& a : tv.vmas) {
      nlohmann::ordered_json v;
      v["vma"] = fmt::format("{:#x}", a.vma);
      v["start"] = fmt::format("{:#x}", a.start);
      v["end"] = fmt::format("{:#x}", a.end);
      v["flags"] = fmt::format("{:#x}", a.flags);
      v["pgoff"] = a.pgoff;
      v["file"] = a.file ? nlohmann::ordered_json(fmt::format("{:#x}", a.file)) : nlohmann::ordered_json(nullptr);
      v["path"] = a.path;
      v["maps_name"] = a.maps_name;
      if (r.physical) {
        nlohmann::ordered_json pages = nlohmann::ordered_json::array();
        for (const UserPage& p : a.pages) {
          nlohmann::ordered_json pj;
          pj["virtual"] = fmt::format("{:#x}", p.va);
          if (p.mapped) {
            pj["physical"] = fmt::format("{:#x}", p.pa);
          } else if (p.swapped) {
            pj["swap"] = {{"type", p.swap_type}, {"offset", p.swap_offset}, {"device", p.swap_device}};
          } else if (a.file) {
            pj["file_offset"] = p.va - a.start + a.pgoff * 4096;
          } else {
            pj["physical"] = nullptr;
          }
          pages.push_back(pj);
        }
        v["pages"] = pages;
      }
      vmas.push_back(v);
    }
    j["vmas"] = vmas;
    arr.push_back(j);
  }
  nlohmann::ordered_json j;
  j["tasks"] = arr;
  return j;
}


std::string RenderIpcsText(const IpcsResult& r) {
  // ipcs.c: one table per kind, each followed by an empty line.
  constexpr uint32_t kShmDest = 01000, kShmLocked = 02000;
  std::string out;
  auto none = [&](bool empty) {
    if (empty) out += "(none allocated)\n";
    out += "\n";
  };
  if (r.shm) {
    out += fmt::format("{:<16} {:<8} {:<10} {:<5} {:<5} {:<10} {:<6} {:<6}\n", "SHMID_KERNEL", "KEY", "SHMID", "UID",
                       "PERMS", "BYTES", "NATTCH", "STATUS");
    for (const IpcObject& o : r.shms) {
      out += fmt::format("{:<16x} {:08x} {:<10} {:<5} {:<5o} {:<10} {:<6} {} {}\n", o.address, o.key, o.id, o.uid,
                         o.mode & 0777, o.size, o.nattch, (o.mode & kShmDest) ? "dest" : "",
                         (o.mode & kShmLocked) ? "locked" : "");
    }
    none(r.shms.empty());
  }
  if (r.sem) {
    out += fmt::format("{:<16} {:<8} {:<10} {:<5} {:<5} {:<10}\n", "SEM_ARRAY", "KEY", "SEMID", "UID", "PERMS", "NSEMS");
    for (const IpcObject& o : r.sems) {
      out += fmt::format("{:<16x} {:08x} {:<10} {:<5} {:<5o} {:<10}\n", o.address, o.key, o.id, o.uid, o.mode & 0777,
                         o.nsems);
    }
    none(r.sems.empty());
  }
  if (r.msg) {
    out += fmt::format("{:<16} {:<8} {:<10} {:<5} {:<5} {:<12} {:<12}\n", "MSG_QUEUE", "KEY", "MSQID", "UID", "PERMS",
                       "USED-BYTES", "MESSAGES");
    for (const IpcObject& o : r.msgs) {
      out += fmt::format("{:<16x} {:08x} {:<10} {:<5} {:<5o} {:<12} {:<12}\n", o.address, o.key, o.id, o.uid,
                         o.mode & 0777, o.cbytes, o.qnum);
    }
    none(r.msgs.empty());
  }
  return out;
}

nlohmann::ordered_json RenderIpcsJson(const IpcsResult& r) {
  auto common = [](const IpcObject& o) {
    nlohmann::ordered_json j;
    j["address"] = fmt::format("{:#x}", o.address);
    j["key"] = o.key;
    j["id"] = o.id;
    j["perms"] = fmt::format("{:o}", o.mode & 0777);
    j["mode"] = o.mode;
    j["uid"] = o.uid;
    j["gid"] = o.gid;
    j["cuid"] = o.cuid;
    j["cgid"] = o.cgid;
    return j;
  };
  nlohmann::ordered_json j;
  if (r.shm) {
    auto& a = j["shared_memory"] = nlohmann::ordered_json::array();
    for (const IpcObject& o : r.shms) {
      auto e = common(o);
      e["size"] = o.size;
      e["nattch"] = o.nattch;
      e["cpid"] = o.cpid;
      e["lpid"] = o.lpid;
      a.push_back(e);
    }
  }
  if (r.sem) {
    auto& a = j["semaphores"] = nlohmann::ordered_json::array();
    for (const IpcObject& o : r.sems) {
      auto e = common(o);
      e["nsems"] = o.nsems;
      a.push_back(e);
    }
  }
  if (r.msg) {
    auto& a = j["message_queues"] = nlohmann::ordered_json::array();
    for (const IpcObject& o : r.msgs) {
      auto e = common(o);
      e["cbytes"] = o.cbytes;
      e["qnum"] = o.qnum;
      e["lspid"] = o.lspid;
      e["lrpid"] = o.lrpid;
      a.push_back(e);
    }
  }
  return j;
}

namespace {

// net.c get_sock_info(): "INET:STREAM", "UNIX:DGRAM " (DGRAM keeps crash's trailing space).
std::string FamilyType(const SocketInfo& si) {
  std::string out;
  switch (si.family) {
    case 0: out = "UNSPEC:"; break;
    case 1: out = "UNIX:"; break;
    case 2: out = "INET:"; break;
    case 10: out = "INET6:"; break;
    case 16: out = "NETLINK/ROUTE:"; break;
    case 17: out = "PACKET:"; break;
    default: out = fmt::format("{}:", si.family); break;
  }
  switch (si.type) {
    case 1: out += "STREAM"; break;
    case 2: out += "DGRAM "; break;
    case 3: out += "RAW"; break;
    case 4: out += "RDM"; break;
    case 5: out += "SEQPACKET"; break;
    case 10: out += "PACKET"; break;
    default: out += fmt::format("{}", si.type); break;
  }
  return out;
}

// net.c print_neighbour_q(): crash's names for the ARPHRD_* device types.
std::string ArpHwType(int type) {
  switch (type) {
    case 0: return "NETROM";
    case 1: return "ETHER";
    case 2: return "EETHER";
    case 3: return "AX25";
    case 4: return "PRONET";
    case 5: return "CHAOS";
    case 6: return "IEEE802";
    case 7: return "ARCNET";
    case 8: return "APPLETLK";
    case 15: return "DLCI";
    case 23: return "METRICOM";
    default: return "UNKNOWN";
  }
}

// net.c arp_state_to_flags(): the NUD_* bits (include/net/neighbour.h), '|'-separated.
std::string NudStateFlags(uint8_t state) {
  static constexpr std::pair<uint8_t, const char*> kFlags[] = {
      {0x01, "INCOMPLETE"}, {0x02, "REACHABLE"}, {0x04, "STALE"}, {0x08, "DELAY"},
      {0x10, "PROBE"},      {0x20, "FAILED"},    {0x40, "NOARP"}, {0x80, "PERMANENT"}};
  std::string out;
  for (const auto& [bit, name] : kFlags) {
    if (state & bit) out += (out.empty() ? "" : "|") + std::string(name);
  }
  return out;
}

}  // namespace

std::string RenderNetText(const NetResult& r) {
  std::string out;
  if (r.arp_mode) {
    // net.c dump_arp(): the heading only above a non-empty bucket, so an empty cache prints nothing.
    if (r.arp.entries.empty()) return out;
    out += "NEIGHBOUR        IP ADDRESS      HW TYPE    HW ADDRESS         DEVICE  STATE\n";
    for (const ArpEntry& e : r.arp.entries) {
      out += fmt::format("{:<16x} {:<16}{:<10} ", e.neighbour, e.ip, ArpHwType(e.hw_type));
      for (size_t i = 0; i < e.hw_address.size(); ++i) {
        // Ethernet: colon-separated, a space after the last byte; others: each byte and a space.
        char sep = e.hw_type == 1 && i + 1 < e.hw_address.size() ? ':' : ' ';
        out += fmt::format("{:02x}{}", e.hw_address[i], sep);
      }
      out += fmt::format(" {:<6}  {}\n", e.device, NudStateFlags(e.state));
    }
    return out;
  }
  if (!r.sockets_mode) {
    // crash 8.1+ (net.c show_net_devices_v3 with get_device_ip6_address): a 10-wide NAME, the
    // IPv4 then the IPv6 addresses. crash 8.0.2 has NAME 6 wide and no IPv6.
    out += fmt::format("{}  NAME       IP ADDRESS(ES)\n", CenterText("NET_DEVICE", 16));
    for (const NetDevice& d : r.devices) {
      std::string ips;
      for (const std::string& ip : d.ipv4) ips += (ips.empty() ? "" : ", ") + ip;
      for (const std::string& ip : d.ipv6) ips += (ips.empty() ? "" : ", ") + ip;
      out += fmt::format("{:016x}  {:<10} {}\n", d.net_device, d.name, ips);
    }
    return out;
  }
  for (const TaskSockets& ts : r.tasks) {
    out += TaskHeaderLine(ts.task);
    if (ts.sockets.empty()) {
      out += "No open sockets.\n";
      continue;
    }
    out += "FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT\n";
    for (const SocketInfo& si : ts.sockets) {
      std::string info = FamilyType(si) + " ";
      if (si.family == 2) {
        info += fmt::format(" {}-{} {}-{}", Ipv4String(si.local_addr), si.local_port, Ipv4String(si.remote_addr),
                            si.remote_port);
      } else if (si.family == 10) {
        // crash 8.1+ get_sock_info(): every group in hex ("0:0:0:0:0:0:0:1-22"), the source right
        // aligned in 12, the destination centred in the source's width.
        if (!si.ipv6_error.empty()) {
          info += fmt::format("(cannot get IPv6 addresses: {})", si.ipv6_error);
        } else {
          std::string src = fmt::format("{}-{}", Ipv6GroupsString(si.local_addr6), si.local_port);
          std::string dst = fmt::format("{}-{}", Ipv6GroupsString(si.remote_addr6), si.remote_port);
          size_t extra = dst.size() < src.size() ? src.size() - dst.size() : 0;
          info += fmt::format("{:>12} {}{}{}", src, std::string(extra / 2, ' '), dst,
                              std::string(extra - extra / 2, ' '));
        }
      }
      out += fmt::format("{:2} {:016x} {:016x} {}\n", si.fd, si.socket, si.sock, info);
    }
  }
  return out;
}

nlohmann::ordered_json RenderNetJson(const NetResult& r) {
  nlohmann::ordered_json j;
  if (r.arp_mode) {
    const ArpTable& t = r.arp;
    j["arp_tbl"] = fmt::format("{:#x}", t.table);
    j["nht"] = fmt::format("{:#x}", t.hash_table);
    j["bucket_member"] = t.bucket_member;
    j["buckets"] = fmt::format("{:#x}", t.buckets);
    j["hash_shift"] = t.hash_shift;
    j["bucket_count"] = t.bucket_count;
    j["key_len"] = t.key_len;
    auto& a = j["entries"] = nlohmann::ordered_json::array();
    for (const ArpEntry& e : t.entries) {
      std::string hw;
      for (uint8_t b : e.hw_address) hw += fmt::format("{}{:02x}", hw.empty() ? "" : ":", b);
      a.push_back({{"neighbour", fmt::format("{:#x}", e.neighbour)}, {"ip", e.ip}, {"hw_type", e.hw_type},
                   {"hw_type_name", ArpHwType(e.hw_type)}, {"hw_address", hw}, {"device", e.device},
                   {"state", e.state}, {"state_flags", NudStateFlags(e.state)}});
    }
    return j;
  }
  if (!r.sockets_mode) {
    auto& a = j["devices"] = nlohmann::ordered_json::array();
    for (const NetDevice& d : r.devices) {
      nlohmann::ordered_json e;
      e["net_device"] = fmt::format("{:#x}", d.net_device);
      e["name"] = d.name;
      e["ipv4"] = d.ipv4;
      e["ipv6"] = d.ipv6;
      a.push_back(e);
    }
    return j;
  }
  auto& a = j["tasks"] = nlohmann::ordered_json::array();
  for (const TaskSockets& ts : r.tasks) {
    nlohmann::ordered_json t = TaskJson(ts.task);
    auto& socks = t["sockets"] = nlohmann::ordered_json::array();
    for (const SocketInfo& si : ts.sockets) {
      nlohmann::ordered_json e;
      e["fd"] = si.fd;
      e["socket"] = fmt::format("{:#x}", si.socket);
      e["sock"] = fmt::format("{:#x}", si.sock);
      e["inode_number"] = si.inode_number;
      e["family"] = si.family;
      e["type"] = si.type;
      e["state"] = si.state;
      e["protocol"] = si.protocol;
      if (si.family == 2) {
        e["local_address"] = Ipv4String(si.local_addr);
        e["local_port"] = si.local_port;
        e["remote_address"] = Ipv4String(si.remote_addr);
        e["remote_port"] = si.remote_port;
      }
      if (si.family == 10) {
        if (!si.ipv6_error.empty()) {
          e["error"] = si.ipv6_error;
        } else {
          e["local_address"] = Ipv6String(si.local_addr6);
          e["local_port"] = si.local_port;
          e["remote_address"] = Ipv6String(si.remote_addr6);
          e["remote_port"] = si.remote_port;
        }
      }
      if (si.family == 1) e["unix_path"] = si.unix_path;
      socks.push_back(e);
    }
    a.push_back(t);
  }
  return j;
}


std::string RenderIrqText(const IrqResult& r) {
  if (r.mode == IrqResult::Mode::kList) {
    // kernel.c generic_dump_irq(), irq_desc_format_v2.
    std::string out = fmt::format(" IRQ  {}  {}  NAME\n", CenterText("IRQ_DESC/_DATA", 16), CenterText("IRQACTION", 16));
    for (const IrqResult::Line& l : r.lines) {
      out += CenterText(std::to_string(l.irq), 4, true) + "  ";
      out += (l.desc ? fmt::format("{:016x}", l.desc) : CenterText("(unused)", 16)) + "  ";
      if (l.actions.empty()) {
        out += CenterText("(unused)", 16) + "  \n";
        continue;
      }
      for (size_t i = 0; i < l.actions.size(); ++i) {
        if (i) out += "\n" + std::string(4 + 2 + 16 + 2, ' ');
        out += fmt::format("{:016x}  \"{}\"", l.actions[i].first, l.actions[i].second);
      }
      out += "\n";
    }
    return out;
  }
  if (r.mode == IrqResult::Mode::kSoftirqs) {
    // kernel.c display_bh_4().
    std::string out = fmt::format("SOFTIRQ_VEC {}\n", CenterText("ACTION", 16, true));
    for (const SoftirqAction& a : r.softirqs) {
      out += fmt::format("    [{}]{} {:016x}  <{}>\n", a.vec, a.vec < 10 ? "    " : "   ", a.action, a.symbol);
    }
    return out;
  }
  // kernel.c generic_show_interrupts(): "%3d: ", "%10u " per CPU, "%8s" chip, "-%-8s" flow.
  std::string out = "     ";
  for (int cpu = 0; cpu < r.cpus; ++cpu) out += fmt::format("{:>10} ", fmt::format("CPU{}", cpu));
  out += "\n";
  for (const IrqInfo& i : r.irqs) {
    out += fmt::format("{:3}: ", i.irq);
    for (uint64_t c : i.counts) out += fmt::format("{:10} ", c);
    out += fmt::format("{:>8}", i.chip);
    if (!i.flow.empty()) out += fmt::format("-{:<8}", i.flow);
    std::string names;
    for (const std::string& a : i.actions) {
      if (a.empty()) continue;
      names += (names.empty() ? "" : ",") + a;
    }
    out += " " + names + "\n";
  }
  return out;
}

nlohmann::ordered_json RenderIrqJson(const IrqResult& r) {
  nlohmann::ordered_json j;
  if (r.mode == IrqResult::Mode::kList) {
    auto& a = j["irqs"] = nlohmann::ordered_json::array();
    for (const IrqResult::Line& l : r.lines) {
      if (!l.desc) continue;
      nlohmann::ordered_json e;
      e["irq"] = l.irq;
      e["irq_desc"] = fmt::format("{:#x}", l.desc);
      auto& acts = e["actions"] = nlohmann::ordered_json::array();
      for (const auto& [addr, name] : l.actions) acts.push_back({{"irqaction", fmt::format("{:#x}", addr)}, {"name", name}});
      a.push_back(e);
    }
    j["nr_irqs"] = r.lines.size();
    return j;
  }
  if (r.mode == IrqResult::Mode::kSoftirqs) {
    auto& a = j["softirqs"] = nlohmann::ordered_json::array();
    for (const SoftirqAction& s : r.softirqs) {
      a.push_back({{"vec", s.vec}, {"action", fmt::format("{:#x}", s.action)}, {"symbol", s.symbol}});
    }
    return j;
  }
  j["cpus"] = r.cpus;
  auto& a = j["irqs"] = nlohmann::ordered_json::array();
  for (const IrqInfo& i : r.irqs) {
    nlohmann::ordered_json e;
    e["irq"] = i.irq;
    e["irq_desc"] = fmt::format("{:#x}", i.desc);
    e["chip"] = i.chip;
    e["flow"] = i.flow;
    e["actions"] = i.actions;
    e["counts"] = i.counts;
    a.push_back(e);
  }
  return j;
}

namespace {

std::string VmaHeader() {
  return fmt::format("{} {} {}  FLAGS FILE\n", CenterText("VMA", 16), CenterText("START", 10, true),
                     CenterText("END", 10, true));
}

std::string VmaRow(const VmArea& a) {
  return fmt::format("{:016x} {:>10x} {:>10x} {:6x} {}\n", a.vma, a.start, a.end, a.flags, a.path);
}

}  // namespace

std::string RenderUserVtopText(const std::vector<UserVtopResult>& results) {
  // memory.c cmd_vtop (UVADDR) and x86_64.c x86_64_uvtop_level4 / x86_64_translate_pte.
  std::string out;
  for (const UserVtopResult& r : results) {
    out += fmt::format("{:<10}  {:<16}\n", "VIRTUAL", "PHYSICAL");
    std::string va = fmt::format("{:x}", r.va);
    if (!r.in_vma) {
      out += fmt::format("{:<10}  (not accessible)\n\n", va);
      continue;
    }
    const UserPage& pg = r.page;
    if (pg.mapped) {
      out += fmt::format("{:<10}  {:<16}\n\n", va, fmt::format("{:x}", pg.pa));
    } else {
      out += fmt::format("{:<10}  (not mapped)\n\n", va);
    }
    const bool five = !pg.walk.steps.empty() && std::string_view(pg.walk.steps[0].level) == "PGD";
    for (const PageWalkStep& st : pg.walk.steps) {
      std::string_view name = st.level;
      if (name == "PML4") name = five ? "P4D" : "PGD";
      out += fmt::format("   {}: {:x} => {:x}\n", name, st.entry_addr.value, st.entry);
    }
    uint64_t leaf = pg.walk.steps.empty() ? 0 : pg.walk.steps.back().entry;
    std::string pte = fmt::format("{:x}", leaf);
    size_t len1 = std::max<size_t>(pte.size(), 3);
    if (pg.mapped) {
      uint64_t base = pg.pa & ~(pg.walk.page_size - 1);
      std::string suffix = pg.walk.page_size == (1ull << 30) ? "  (1GB)" : pg.walk.page_size == (2ull << 20) ? "  (2MB)" : "";
      out += fmt::format("  PAGE: {:x}{}\n\n", base, suffix);
      std::string phys = fmt::format("{:x}", base);
      size_t len2 = std::max<size_t>(phys.size(), 8);
      out += fmt::format("{}  {}  FLAGS\n", CenterText("PTE", len1), CenterText("PHYSICAL", len2));
      out += fmt::format("{}  {}  ({})\n", CenterText(pte, len1, true), CenterText(phys, len2, true),
                         PteFlags(leaf, pg.walk.page_size > 4096));
    } else if (pg.swapped) {
      std::string off = fmt::format("{}", pg.swap_offset);
      size_t len2 = std::max<size_t>(pg.swap_device.size(), 4), len3 = std::max<size_t>(off.size(), 6);
      out += "\n";
      out += fmt::format("{}  {}  {}\n", CenterText("PTE", len1), CenterText("SWAP", len2), CenterText("OFFSET", len3));
      out += fmt::format("{}  {}  {}\n", CenterText(pte, len1, true), CenterText(pg.swap_device, len2, true),
                         CenterText(off, len3, true));
    }
    out += "\n";
    out += VmaHeader();
    out += VmaRow(*r.vma);
    if (!pg.mapped) {
      if (pg.swapped) {
        out += fmt::format("\nSWAP: {}  OFFSET: {}\n", pg.swap_device, pg.swap_offset);
      } else if (r.vma->file) {
        out += fmt::format("\nFILE: {}  OFFSET: {:x}\n", r.vma->path, r.va - r.vma->start + r.vma->pgoff * 4096);
      }
    }
    // crash: a resident page ends with its struct page line, anything else with a blank line.
    out += r.page_line ? "\n" + RenderPageLine(*r.page_line) : "\n";
  }
  return out;
}

nlohmann::ordered_json RenderUserVtopJson(const std::vector<UserVtopResult>& results) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const UserVtopResult& r : results) {
    nlohmann::ordered_json j;
    j["pid"] = r.task.pid;
    j["task"] = fmt::format("{:#x}", r.task.task);
    j["virtual"] = fmt::format("{:#x}", r.va);
    j["in_vma"] = r.in_vma;
    j["mapped"] = r.page.mapped;
    j["physical"] = r.page.mapped ? nlohmann::ordered_json(fmt::format("{:#x}", r.page.pa)) : nlohmann::ordered_json(nullptr);
    j["page_size"] = r.page.mapped ? r.page.walk.page_size : 0;
    nlohmann::ordered_json steps = nlohmann::ordered_json::array();
    for (const PageWalkStep& st : r.page.walk.steps) {
      steps.push_back({{"level", st.level},
                       {"entry_address", fmt::format("{:#x}", st.entry_addr.value)},
                       {"entry", fmt::format("{:#x}", st.entry)}});
    }
    j["walk"] = steps;
    if (r.vma) {
      j["vma"] = {{"vma", fmt::format("{:#x}", r.vma->vma)}, {"start", fmt::format("{:#x}", r.vma->start)},
                  {"end", fmt::format("{:#x}", r.vma->end)}, {"path", r.vma->path}};
    }
    if (r.page.swapped) {
      j["swap"] = {{"type", r.page.swap_type}, {"offset", r.page.swap_offset}, {"device", r.page.swap_device}};
    }
    arr.push_back(j);
  }
  return arr;
}


std::string RenderRunqText(const RunqResult& r) {
  // task.c dump_CFS_runqueues(), dump_RT_prio_array(), dump_task_runq_entry().
  std::string out;
  if (r.timestamps) {
    // task.c dump_on_rq_timestamp(): the task's stamp zero-padded to the clock's width.
    for (const CpuRunqueue& q : r.cpus) {
      std::string clock = std::to_string(q.clock);
      out += fmt::format("{}CPU {}: {}\n", q.cpu < 10 ? " " : "", q.cpu, clock);
      if (!q.current_task) {
        out += "\n";
        continue;
      }
      size_t indent = q.cpu < 10 ? 8 : q.cpu < 100 ? 8 : 9;
      out += fmt::format("{}{:0{}}  PID: {:<5}  TASK: {:x}  COMMAND: \"{}\"\n", std::string(indent, ' '),
                         q.current_arrival, clock.size(), q.current_task->pid, q.current_task->task,
                         q.current_task->comm);
    }
    return out;
  }
  auto entry = [&](const QueuedTask& q) {
    out += fmt::format("     [{:3}] PID: {:<5}  TASK: {:x}  COMMAND: \"{}\"\n", q.prio, q.task.pid, q.task.task, q.task.comm);
  };
  bool first = true;
  for (const CpuRunqueue& q : r.cpus) {
    out += fmt::format("{}CPU {} RUNQUEUE: {:x}\n", first ? "" : "\n", q.cpu, q.rq);
    first = false;
    if (q.current_task) {
      out += fmt::format("  CURRENT: PID: {:<5}  TASK: {:x}  COMMAND: \"{}\"\n", q.current_task->pid,
                         q.current_task->task, q.current_task->comm);
    } else {
      out += fmt::format("  CURRENT: {:x}\n", q.current);
    }
    out += fmt::format("  RT PRIO_ARRAY: {:x}\n", q.rt_prio_array);
    for (const QueuedTask& t : q.rt) entry(t);
    if (q.rt.empty()) out += "     [no tasks queued]\n";
    out += fmt::format("  CFS RB_ROOT: {:x}\n", q.cfs_root);
    for (const QueuedTask& t : q.cfs) entry(t);
    if (q.cfs.empty()) out += "     [no tasks queued]\n";
  }
  for (const std::string& w : r.warnings) out += "runq: warning: " + w + "\n";
  return out;
}

nlohmann::ordered_json RenderRunqJson(const RunqResult& r) {
  nlohmann::ordered_json j;
  auto& cpus = j["cpus"] = nlohmann::ordered_json::array();
  auto list = [](const std::vector<QueuedTask>& v) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const QueuedTask& q : v) {
      a.push_back({{"prio", q.prio}, {"pid", q.task.pid}, {"task", fmt::format("{:#x}", q.task.task)}, {"comm", q.task.comm}});
    }
    return a;
  };
  for (const CpuRunqueue& q : r.cpus) {
    nlohmann::ordered_json c;
    c["cpu"] = q.cpu;
    c["rq"] = fmt::format("{:#x}", q.rq);
    c["current"] = fmt::format("{:#x}", q.current);
    c["current_pid"] = q.current_task ? nlohmann::ordered_json(q.current_task->pid) : nlohmann::ordered_json(nullptr);
    c["rt_prio_array"] = fmt::format("{:#x}", q.rt_prio_array);
    c["rt"] = list(q.rt);
    c["cfs_root"] = fmt::format("{:#x}", q.cfs_root);
    c["cfs"] = list(q.cfs);
    c["dl_root"] = fmt::format("{:#x}", q.dl_root);
    c["dl"] = list(q.dl);
    c["clock"] = q.clock;
    c["current_last_arrival"] = q.current_arrival;
    cpus.push_back(c);
  }
  j["warnings"] = r.warnings;
  return j;
}


std::string RenderFilesDentryText(const DentryResult& r) {
  std::string out = fmt::format("{}{}{}{}{}TYPE PATH\n", CenterText("DENTRY", 16), " ", CenterText("INODE", 16), " ",
                                CenterText("SUPERBLK", 16, false) + " ");
  out += fmt::format("{:016x} {:016x} {:016x} {:<4} {}\n", r.dentry, r.inode, r.superblock, FileTypeName(r.info),
                     r.info.path.path);
  return out;
}

nlohmann::ordered_json RenderFilesDentryJson(const DentryResult& r) {
  nlohmann::ordered_json j;
  j["dentry"] = fmt::format("{:#x}", r.dentry);
  j["inode"] = fmt::format("{:#x}", r.inode);
  j["superblock"] = fmt::format("{:#x}", r.superblock);
  j["type"] = FileTypeName(r.info);
  j["inode_number"] = r.info.inode_number;
  j["path"] = r.info.path.path;
  return j;
}

std::string RenderFuserText(const std::vector<FuserResult>& results) {
  // filesys.c cmd_fuser() / show_fuser().
  std::string out;
  for (const FuserResult& r : results) {
    if (r.users.empty()) {
      out += fmt::format("No users of {} found\n", r.spec);
      continue;
    }
    out += fmt::format(" PID   {}  COMM             USAGE\n", CenterText("TASK", 16));
    for (const FuserUser& u : r.users) {
      std::string comm = "\"" + u.task.comm + "\"";
      comm = comm.size() >= 16 ? comm.substr(0, 15) + " " : comm + std::string(16 - comm.size(), ' ');
      std::string uses;
      for (const std::string& w : u.uses) uses += w + " ";
      out += fmt::format("{:>5}  {:>16x}  {} {}\n", u.task.pid, u.task.task, comm, uses);
    }
  }
  return out;
}

nlohmann::ordered_json RenderFuserJson(const std::vector<FuserResult>& results) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const FuserResult& r : results) {
    nlohmann::ordered_json j;
    j["spec"] = r.spec;
    auto& users = j["users"] = nlohmann::ordered_json::array();
    for (const FuserUser& u : r.users) {
      nlohmann::ordered_json e = TaskJson(u.task);
      e["uses"] = u.uses;
      users.push_back(e);
    }
    arr.push_back(j);
  }
  return arr;
}


std::string RenderWaitqText(const WaitqResult& r) {
  // kernel.c dump_waitq(): one task header per waiter, up to the first that is not a task.
  if (r.entries.empty()) {
    if (!r.name.empty()) return fmt::format("wait queue \"{}\" ({:x}) is empty\n", r.name, r.head);
    return fmt::format("wait queue {:x} is empty\n", r.head);
  }
  std::string out;
  size_t i = 0;
  for (uint64_t priv : r.privates) {
    if (i >= r.tasks.size() || r.tasks[i].task != priv) break;
    out += TaskHeaderLine(r.tasks[i++]);
  }
  return out;
}

nlohmann::ordered_json RenderWaitqJson(const WaitqResult& r) {
  nlohmann::ordered_json j;
  j["wait_queue_head"] = fmt::format("{:#x}", r.head);
  auto& a = j["entries"] = nlohmann::ordered_json::array();
  size_t t = 0;
  for (size_t i = 0; i < r.entries.size(); ++i) {
    nlohmann::ordered_json e;
    e["wait_queue_entry"] = fmt::format("{:#x}", r.entries[i]);
    e["private"] = fmt::format("{:#x}", r.privates[i]);
    if (t < r.tasks.size() && r.tasks[t].task == r.privates[i]) {
      e["pid"] = r.tasks[t].pid;
      e["comm"] = r.tasks[t].comm;
      ++t;
    } else {
      e["pid"] = nullptr;
    }
    a.push_back(e);
  }
  return j;
}


std::string RenderSigText(const SigResult& r) {
  // task.c do_sig() / dump_signal_data() / sigqueue_list().
  std::string out;
  auto queue = [&](const std::vector<QueuedSignal>& q) {
    if (q.empty()) {
      out += "  SIGQUEUE: (empty)\n";
      return;
    }
    out += fmt::format("  SIGQUEUE:  SIG  {}\n", CenterText("SIGINFO", 16));
    for (const QueuedSignal& s : q) out += fmt::format("             {:3}  {:x}\n", s.signal, s.siginfo);
  };
  for (const TaskSignals& ts : r.tasks) {
    out += TaskHeaderLine(ts.task);
    out += fmt::format("SIGNAL_STRUCT: {:x}  ", ts.signal_struct);
    if (!ts.signal_struct) {
      out += "\n";
      continue;
    }
    out += fmt::format("NR_THREADS: {}\n", ts.nr_threads);
    out += fmt::format(" SIG {} {:>10} {} {:<16}\n", CenterText("SIGACTION", 16), "HANDLER", CenterText("MASK", 16),
                       "FLAGS");
    for (const SigAction& a : ts.actions) {
      std::string handler = a.handler == 0   ? "SIG_DFL"
                            : a.handler == 1 ? "SIG_IGN"
                            : a.handler == ~uint64_t{0} ? "SIG_ERR"
                                                        : fmt::format("{:x}", a.handler);
      out += fmt::format("{}[{}] {:<10x} {:>10} {:016x} {:x} {}\n", a.signal < 10 ? " " : "", a.signal, a.k_sigaction,
                         handler, a.mask, a.flags, SigactionFlagNames(a.flags));
    }
    out += fmt::format("SIGPENDING: {}\n", ts.sigpending ? "yes" : "no");
    out += fmt::format("   BLOCKED: {:016x}\n", ts.blocked);
    out += "PRIVATE_PENDING\n";
    out += fmt::format("    SIGNAL: {:016x}\n", ts.private_pending);
    queue(ts.private_queue);
    out += "SHARED_PENDING\n";
    out += fmt::format("    SIGNAL: {:016x}\n", ts.shared_pending);
    queue(ts.shared_queue);
    out += "\n";
  }
  return out;
}

nlohmann::ordered_json RenderSigJson(const SigResult& r) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  auto queue = [](const std::vector<QueuedSignal>& q) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const QueuedSignal& s : q) a.push_back({{"signal", s.signal}, {"siginfo", fmt::format("{:#x}", s.siginfo)}});
    return a;
  };
  for (const TaskSignals& ts : r.tasks) {
    nlohmann::ordered_json j = TaskJson(ts.task);
    j["signal_struct"] = fmt::format("{:#x}", ts.signal_struct);
    j["nr_threads"] = ts.nr_threads;
    auto& acts = j["actions"] = nlohmann::ordered_json::array();
    for (const SigAction& a : ts.actions) {
      acts.push_back({{"signal", a.signal},
                      {"k_sigaction", fmt::format("{:#x}", a.k_sigaction)},
                      {"handler", fmt::format("{:#x}", a.handler)},
                      {"mask", fmt::format("{:#x}", a.mask)},
                      {"flags", fmt::format("{:#x}", a.flags)}});
    }
    j["sigpending"] = ts.sigpending;
    j["blocked"] = fmt::format("{:016x}", ts.blocked);
    j["private_pending"] = fmt::format("{:016x}", ts.private_pending);
    j["private_queue"] = queue(ts.private_queue);
    j["shared_pending"] = fmt::format("{:016x}", ts.shared_pending);
    j["shared_queue"] = queue(ts.shared_queue);
    arr.push_back(j);
  }
  nlohmann::ordered_json j;
  j["tasks"] = arr;
  return j;
}


std::string RenderTimerText(const TimerResult& r) {
  if (r.hrtimers) {
    // kernel.c dump_hrtimer_data() / dump_active_timers() / print_timer(): the column widths
    // come from the last (latest) timer of each base.
    std::string out;
    int cpu = -1;
    for (const HrtimerClockBase& b : r.clock_bases) {
      if (b.cpu != cpu) {
        if (cpu != -1) out += "\n";
        cpu = b.cpu;
        out += fmt::format("CPU: {}  HRTIMER_CPU_BASE: {:x}\n", b.cpu, b.cpu_base);
      } else {
        out += "\n";
      }
      out += fmt::format("  CLOCK: {}  HRTIMER_CLOCK_BASE: {:x}  [{}]\n", b.index, b.clock_base, b.get_time);
      if (b.timers.empty()) {
        out += "  (empty)\n";
        continue;
      }
      const Hrtimer& last = b.timers.back();
      size_t exp_len = std::max<size_t>(std::to_string(last.expires).size(), 7);
      size_t soft_len = std::max<size_t>(std::to_string(last.softexpires).size(), 11);
      size_t tte_len = std::to_string(last.expires - b.now).size();
      out += "  " + CenterText("CURRENT", soft_len, true) + "\n";
      out += "  " + CenterText(std::to_string(b.now), soft_len, true) + "\n";
      out += fmt::format("  {}  {}  {}  {}  {}\n", CenterText("SOFTEXPIRES", soft_len, true),
                         CenterText("EXPIRES", exp_len, true), CenterText("TTE", tte_len, true),
                         CenterText("HRTIMER", 16), CenterText("FUNCTION", 16));
      for (const Hrtimer& h : b.timers) {
        out += fmt::format("  {}  {}  {:>{}}  {:x}  {:x}  <{}>\n", CenterText(std::to_string(h.softexpires), soft_len, true),
                           CenterText(std::to_string(h.expires), exp_len, true), h.expires - b.now, tte_len, h.hrtimer,
                           h.function, h.symbol);
      }
    }
    return out;
  }
  // kernel.c dump_timer_data_timer_bases().
  std::string jiffies = std::to_string(r.jiffies);
  size_t flen = std::max<size_t>(jiffies.size(), 7);
  std::string out = fmt::format("{:<{}}\n{:>{}}\n\n", "JIFFIES", flen, jiffies, flen);
  int last_cpu = -1;
  for (const TimerBase& b : r.bases) {
    if (last_cpu != -1 && b.cpu != last_cpu) out += "\n";
    last_cpu = b.cpu;
    out += fmt::format("TIMER_BASES[{}][{}]: {:x}\n", b.cpu, b.name, b.base);
    uint64_t highest = 0;
    for (const PendingTimer& t : b.timers) highest = std::max<uint64_t>(highest, static_cast<uint64_t>(std::llabs(t.tte)));
    size_t tlen = std::max<size_t>(std::to_string(highest).size() + 1, 3);
    out += fmt::format("  {:<{}}     {:<{}}     TIMER_LIST     FUNCTION\n", "EXPIRES", flen, "TTE", tlen);
    for (const PendingTimer& t : b.timers) {
      out += fmt::format("  {:>{}}  {:>{}}  {}  {:>16x}  <{}>\n", t.expires, flen, t.tte, tlen,
                         CenterText(fmt::format("{:>16x}", t.timer_list), 16), t.function, t.symbol);
    }
    if (b.timers.empty()) out += "  (none)\n";
  }
  return out;
}

nlohmann::ordered_json RenderTimerJson(const TimerResult& r) {
  nlohmann::ordered_json j;
  j["jiffies"] = r.jiffies;
  if (r.hrtimers) {
    auto& bases = j["clock_bases"] = nlohmann::ordered_json::array();
    for (const HrtimerClockBase& b : r.clock_bases) {
      nlohmann::ordered_json e;
      e["cpu"] = b.cpu;
      e["clock"] = b.index;
      e["hrtimer_clock_base"] = fmt::format("{:#x}", b.clock_base);
      e["get_time"] = b.get_time;
      e["current"] = b.now;
      auto& ts = e["timers"] = nlohmann::ordered_json::array();
      for (const Hrtimer& h : b.timers) {
        ts.push_back({{"hrtimer", fmt::format("{:#x}", h.hrtimer)},
                      {"softexpires", h.softexpires},
                      {"expires", h.expires},
                      {"tte", h.expires - b.now},
                      {"function", fmt::format("{:#x}", h.function)},
                      {"symbol", h.symbol}});
      }
      bases.push_back(e);
    }
    return j;
  }
  auto& bases = j["bases"] = nlohmann::ordered_json::array();
  for (const TimerBase& b : r.bases) {
    nlohmann::ordered_json e;
    e["cpu"] = b.cpu;
    e["base"] = b.name;
    e["timer_base"] = fmt::format("{:#x}", b.base);
    auto& ts = e["timers"] = nlohmann::ordered_json::array();
    for (const PendingTimer& t : b.timers) {
      ts.push_back({{"timer_list", fmt::format("{:#x}", t.timer_list)},
                    {"expires", t.expires},
                    {"tte", t.tte},
                    {"function", fmt::format("{:#x}", t.function)},
                    {"symbol", t.symbol}});
    }
    bases.push_back(e);
  }
  return j;
}

std::string RenderDevText(const DevResult& r) {
  std::string out;
  if (r.diskio) {
    // dev.c display_all_diskio() / display_one_diskio().
    out += fmt::format("MAJOR {:<18} NAME       {:<18} TOTAL {:>5} {:>5} {}\n", "GENDISK", "REQUEST_QUEUE",
                       r.sync_columns ? "ASYNC" : "READ", r.sync_columns ? "SYNC" : "WRITE", r.drv_column ? "  DRV" : "");
    for (const DiskIo& d : r.disks) {
      out += fmt::format("{:>5} {:<16x}   {:<10} {:<16x}   {:5} {:5} {:5} ", d.major, d.gendisk, d.name, d.request_queue,
                         d.read + d.write, d.read, d.write);
      if (r.drv_column) out += d.mq ? "N/A(MQ)" : fmt::format("{:5}", d.driver_in_flight.value_or(0));
      out += "\n";
    }
    return out;
  }
  if (!r.resources) {
    // crash's columns (dev.c): CDEV/GENDISK centered, "(none)" when there is no operations table.
    out += "CHRDEV    NAME                 CDEV        OPERATIONS      \n";
    for (const CharDev& c : r.chrdevs) {
      out += fmt::format(" {:3}      {:<13} ", c.major, c.name);
      out += c.ops ? fmt::format(" {:16x}  {}\n", c.cdev, c.ops_symbol.empty() ? fmt::format("{:x}", c.ops) : c.ops_symbol)
                   : "      (none)     \n";
    }
    out += "\nBLKDEV    NAME                GENDISK      OPERATIONS      \n";
    for (const BlockDev& b : r.blkdevs) {
      out += fmt::format(" {:3}      {:<13} ", b.major, b.name);
      out += b.ops ? fmt::format(" {:16x}  {}\n", b.gendisk, b.ops_symbol.empty() ? fmt::format("{:x}", b.ops) : b.ops_symbol)
                   : "      (none)     \n";
    }
    return out;
  }
  for (size_t i = 0; i < r.trees.size(); ++i) {
    const ResourceTree& t = r.trees[i];
    const size_t range_width = t.digits * 2 + 1;
    // crash's mkstring(CENTER|LJUST): the odd space goes right.
    auto center = [](std::string_view v, size_t w) {
      size_t extra = v.size() < w ? w - v.size() : 0;
      return std::string(extra / 2, ' ') + std::string(v) + std::string(extra - extra / 2, ' ');
    };
    out += fmt::format("{}{}  {}  NAME\n", i ? "\n" : "", center("RESOURCE", 16), center("RANGE", range_width));
    const size_t wrap = 16 + 2 + range_width + 2;
    for (const Resource& res : t.resources) {
      out += fmt::format("{:8x}  {:0{}x}-{:0{}x}", res.address, res.start, t.digits, res.end, t.digits);
      // crash folds a name that would pass column 80 at a space, continuing under the names.
      std::string name = res.name, rest;
      if (wrap + name.size() > 80) {
        size_t over = wrap + name.size() - 80;
        for (size_t c = 0, p = name.size() - 1; p > 0; --p, ++c) {
          if (name[p] != ' ') continue;
          if (c >= over) {
            rest = name.substr(p + 1);
            name.resize(p);
            break;
          }
        }
      }
      out += fmt::format("  {}\n", name);
      if (!rest.empty()) out += std::string(wrap, ' ') + rest + "\n";
    }
  }
  return out;
}

nlohmann::ordered_json RenderDevJson(const DevResult& r) {
  nlohmann::ordered_json j;
  if (r.diskio) {
    auto& a = j["disks"] = nlohmann::ordered_json::array();
    for (const DiskIo& d : r.disks) {
      nlohmann::ordered_json e = {{"major", d.major},         {"gendisk", fmt::format("{:#x}", d.gendisk)},
                                  {"name", d.name},           {"request_queue", fmt::format("{:#x}", d.request_queue)},
                                  {"mq", d.mq},               {"method", d.method},
                                  {"total", d.read + d.write}, {"read", d.read},
                                  {"write", d.write}};
      if (d.mq) {
        e["hw_queues"] = d.hw_queues;
        e["tag_depth"] = d.tag_depth;
        e["busy_tags"] = d.busy_tags;
      }
      if (d.driver_in_flight) e["driver_in_flight"] = *d.driver_in_flight;
      a.push_back(e);
    }
    j["columns"] = r.sync_columns ? "ASYNC/SYNC" : "READ/WRITE";
    return j;
  }
  if (!r.resources) {
    auto chr = nlohmann::ordered_json::array(), blk = nlohmann::ordered_json::array();
    for (const CharDev& c : r.chrdevs) {
      chr.push_back({{"major", c.major}, {"name", c.name}, {"cdev", fmt::format("{:#x}", c.cdev)},
                     {"operations", c.ops_symbol}});
    }
    for (const BlockDev& b : r.blkdevs) {
      blk.push_back({{"major", b.major}, {"name", b.name}, {"gendisk", fmt::format("{:#x}", b.gendisk)},
                     {"operations", b.ops_symbol}});
    }
    j["chrdevs"] = chr;
    j["blkdevs"] = blk;
    return j;
  }
  for (const ResourceTree& t : r.trees) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const Resource& res : t.resources) {
      arr.push_back({{"resource", fmt::format("{:#x}", res.address)}, {"start", fmt::format("{:#x}", res.start)},
                     {"end", fmt::format("{:#x}", res.end)}, {"name", res.name}, {"depth", res.depth}});
    }
    j[t.root] = arr;
  }
  return j;
}

}  // namespace coroner
