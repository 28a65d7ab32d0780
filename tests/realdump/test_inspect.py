"""The inspection commands (mount, swap, files, vm, ipcs) from the dump alone, against the guest's
own view saved just before the crash (guest-view/mounts.txt, swaps.txt, helper-fd.txt,
helper-fdinfo.txt, helper-maps.txt, sysvipc-*.txt, helper.txt) on every kernel, and against crash
8.0.2's output on the kernels it opens (5.10 and 6.1; on 6.1 crash finds only the active tasks and
has no maple-tree `vm`, so there it is compared on PID 1's files only).

After the snapshot the guest unmounts its scratch ext4 disk from /mnt: the one mount allowed to
be missing from the dump.
"""
import json
import re
import unittest

from common import coroner_commands, crash_commands, extra_pids, require_dumps, run

# Forms that keep slab pages (dentries, files, VMAs) on every kernel: makedumpfile 1.7.2's
# -d 31 drops them on 6.12+.
FORM = "vmcore.elf"


def coroner_json(d, command, form=FORM):
    return json.loads(run([d / form, "--json", "-c", command]).stdout)


def lines(text):
    return [l.rstrip() for l in text.splitlines() if l.strip() and not l.startswith("WARNING")]


# The kernels crash 8.0.2 opens, with the commands it runs right there.
CRASH_COMMANDS = {
    "5.10-4level": lambda pids: ["mount", "swap", f"files {pids['helper']}", "files", f"vm {pids['helper']}", "vm",
                              "ipcs", "ipcs -m", "ipcs -s", "ipcs -q"],
    "6.1-4level": lambda pids: ["mount", "swap", "files", "ipcs", "ipcs -q"],
}


class Inspect(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_mount_equals_proc_mounts(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                guest = [l.split()[:3] for l in (d / "guest-view/mounts.txt").read_text().splitlines()]
                # Unmounted after the snapshot.
                guest = [g for g in guest if g[1] != "/mnt"]
                mounts = coroner_json(d, "mount")["mounts"]
                ours = [[m["devname"], m["dirname"], m["type"]] for m in mounts if m["in_proc_mounts"]]
                self.assertEqual(ours, guest)
                # What /proc/mounts hides is only a root the reader's root is mounted over (7.x nullfs).
                for m in mounts:
                    if not m["in_proc_mounts"]:
                        self.assertEqual((m["type"], m["dirname"]), ("nullfs", "/"))

    def test_swap_equals_proc_swaps(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                rows = (d / "guest-view/swaps.txt").read_text().splitlines()[1:]
                guest = [(f, t, int(size), int(used), int(prio))
                         for f, t, size, used, prio in (r.split() for r in rows)]
                ours = [(s["filename"], s["type"], s["size_kb"], s["used_kb"], s["priority"])
                        for s in coroner_json(d, "swap")["swap"]]
                self.assertEqual(ours, guest)

    def test_files_of_the_helper_equal_proc_fd(self):
        for d in self.dirs:
            pids = extra_pids(d)
            with self.subTest(kernel=d.name):
                guest = {}
                for l in (d / "guest-view/helper-fd.txt").read_text().splitlines()[1:]:
                    m = re.search(r" (\d+) -> (.*)$", l)
                    guest[int(m.group(1))] = m.group(2)
                fdinfo = {}
                for block in (d / "guest-view/helper-fdinfo.txt").read_text().split("== ")[1:]:
                    fd, *rest = block.splitlines()
                    fdinfo[int(fd)] = dict(l.split(":\t", 1) for l in rest if ":\t" in l)
                [task] = coroner_json(d, f"files {pids['helper']}")["tasks"]
                self.assertEqual(task["pid"], pids["helper"])
                self.assertEqual((task["root"], task["cwd"]), ("/", "/"))
                ours = {f["fd"]: f for f in task["files"]}
                self.assertEqual(sorted(ours), sorted(guest))
                for fd, link in guest.items():
                    self.assertEqual(ours[fd]["proc_link"], link, fd)
                    self.assertEqual(ours[fd]["mount_id"], int(fdinfo[fd]["mnt_id"]), fd)
                    if "ino" in fdinfo[fd]:  # 5.10's fdinfo has none
                        self.assertEqual(ours[fd]["inode_number"], int(fdinfo[fd]["ino"]), fd)
                # The types the helper set up (guest-view/helper.txt).
                types = {fd: ours[fd]["type"] for fd in ours}
                self.assertEqual([types[fd] for fd in range(3, 12)],
                                 ["REG", "DIR", "CHR", "FIFO", "FIFO", "SOCK", "SOCK", "SOCK", "REG"])
                self.assertEqual(ours[8]["path"], "TCP")
                self.assertEqual(ours[9]["path"], "UDP")
                self.assertTrue(ours[10]["path"].startswith("UNIX"))

    def test_ipcs_equals_proc_sysvipc(self):
        # /proc/sysvipc columns, and the JSON member each one is.
        columns = {
            "shm": ("shared_memory", {"key": "key", "shmid": "id", "size": "size", "cpid": "cpid", "lpid": "lpid",
                                      "nattch": "nattch"}),
            "sem": ("semaphores", {"key": "key", "semid": "id", "nsems": "nsems"}),
            "msg": ("message_queues", {"key": "key", "msqid": "id", "cbytes": "cbytes", "qnum": "qnum",
                                       "lspid": "lspid", "lrpid": "lrpid"}),
        }
        ids = ["uid", "gid", "cuid", "cgid"]
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                ours = coroner_json(d, "ipcs")
                for kind, (member, cols) in columns.items():
                    rows = (d / f"guest-view/sysvipc-{kind}.txt").read_text().splitlines()
                    head = rows[0].split()
                    guest = [dict(zip(head, r.split())) for r in rows[1:]]
                    self.assertEqual(len(ours[member]), len(guest), kind)
                    for g, o in zip(guest, ours[member]):
                        for col, key in list(cols.items()) + [(i, i) for i in ids]:
                            self.assertEqual(o[key], int(g[col]), (kind, col))
                        self.assertEqual(o["perms"], g["perms"])
                    # The helper's own object ("shmid=0 key=0x434f5201" in helper.txt).
                    idname = {"shm": "shmid", "sem": "semid", "msg": "msqid"}[kind]
                    line = next(l for l in (d / "guest-view/helper.txt").read_text().splitlines()
                                if l.startswith(idname + "="))
                    fields = dict(kv.split("=", 1) for kv in line.split())
                    self.assertIn((int(fields[idname]), int(fields["key"], 16)),
                                  [(o["id"], o["key"]) for o in ours[member]])

    def test_net_devices_equal_proc_net_dev(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                rows = (d / "guest-view/net-dev.txt").read_text().splitlines()[2:]
                guest = [r.split(":")[0].strip() for r in rows]
                devices = coroner_json(d, "net")["devices"]
                self.assertEqual([x["name"] for x in devices], guest)
                lo = next(x for x in devices if x["name"] == "lo")
                self.assertEqual(lo["ipv4"], ["127.0.0.1"])
                self.assertEqual(lo["ipv6"], ["::1"])  # the guests run with IPv6 on
                text = run([d / FORM, "-c", "net"]).stdout.splitlines()
                self.assertEqual(text[1], f"{int(lo['net_device'], 16):016x}  lo         127.0.0.1, ::1")

    def test_net_text_equals_crash(self):
        # crash 8.0.2 prints NAME 6 wide and no IPv6; crash 8.1+ (whose layout coroner follows)
        # widens NAME to 10 and appends the IPv6 addresses, which are checked above.
        for d in self.dirs:
            if d.name not in CRASH_COMMANDS:
                continue
            with self.subTest(kernel=d.name):
                theirs = lines(crash_commands(d, ["net"]))
                devices = coroner_json(d, "net", "vmcore.kdump-zlib")["devices"]
                expect = [theirs[0].replace("NAME   ", "NAME       ")]
                for line, dev in zip(theirs[1:], devices):
                    addr, name, ips = line[:16], line[18:25].rstrip(), line[25:]
                    expect.append(f"{addr}  {name:<10} {', '.join(filter(None, [ips] + dev['ipv6']))}")
                self.assertEqual(len(theirs), len(devices) + 1)
                self.assertEqual(lines(run([d / "vmcore.kdump-zlib", "-c", "net"]).stdout), expect)

    def test_arp_cache_equals_proc_net_arp(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                head, *rows = (d / "guest-view/net-arp.txt").read_text().splitlines()
                self.assertTrue(head.startswith("IP address"))
                guest = [(f[0], f[3], f[5]) for f in (r.split() for r in rows)]
                arp = coroner_json(d, "net -a")
                self.assertEqual([(e["ip"], e["hw_address"], e["device"]) for e in arp["entries"]], guest)
                # The walk read the real table: arp_tbl's address, its nht, and the hash table's
                # shift and bucket array as coroner's struct command shows them (BTF's layout).
                sym = run([d / FORM, "-c", "sym arp_tbl"]).stdout.split()
                self.assertEqual(int(sym[0], 16), int(arp["arp_tbl"], 16))
                nht = run([d / FORM, "-c", "struct neigh_table.nht arp_tbl"]).stdout
                self.assertEqual(int(re.search(r"nht = (0x[0-9a-f]+)", nht).group(1), 16), int(arp["nht"], 16))
                member = "hash_heads" if d.name.startswith("7.") else "hash_buckets"  # hlists since 6.13
                self.assertEqual(arp["bucket_member"], member)
                body = run([d / FORM, "-c", f"struct neigh_hash_table {arp['nht']}"]).stdout
                self.assertEqual(int(re.search(r"hash_shift = (\d+)", body).group(1)), arp["hash_shift"])
                self.assertEqual(int(re.search(member + r" = (0x[0-9a-f]+)", body).group(1), 16),
                                 int(arp["buckets"], 16))
                self.assertEqual(arp["bucket_count"], 1 << arp["hash_shift"])
                self.assertEqual(arp["key_len"], 4)
                self.assertEqual(run([d / FORM, "-c", "net -a"]).stdout, "")  # crash: no heading when empty

    def test_arp_text_and_table_equal_crash(self):
        for d in self.dirs:
            if d.name not in CRASH_COMMANDS:
                continue
            with self.subTest(kernel=d.name):
                out = crash_commands(d, ["net -a", "p arp_tbl.nht", "p/x arp_tbl.nht->hash_shift",
                                         "p arp_tbl.nht->hash_buckets"])
                out = [l for l in out.splitlines() if l.strip() and not l.startswith("WARNING")]
                arp = coroner_json(d, "net -a", "vmcore.kdump-zlib")
                # net -a printed nothing (empty cache), then the three values.
                self.assertEqual(len(out), 3, out)
                self.assertEqual(int(out[0].split()[-1], 16), int(arp["nht"], 16))
                self.assertEqual(int(out[1].split()[-1], 16), arp["hash_shift"])
                self.assertEqual(int(out[2].split()[-1], 16), int(arp["buckets"], 16))
                self.assertEqual(run([d / "vmcore.kdump-zlib", "-c", "net -a"]).stdout, "")

    def test_net_sockets_of_the_helper_equal_proc_net(self):
        def inet(hexaddr):
            a, p = hexaddr.split(":")
            return ".".join(str(b) for b in reversed(bytes.fromhex(a))), int(p, 16)

        for d in self.dirs:
            pids = extra_pids(d)
            with self.subTest(kernel=d.name):
                guest = {}
                for proto in ("tcp", "udp"):
                    head, *rows = (d / f"guest-view/net-{proto}.txt").read_text().splitlines()
                    for r in rows:
                        f = r.split()
                        guest[int(f[9])] = (proto.upper(), inet(f[1]), inet(f[2]), int(f[3], 16))
                unix = {}
                for r in (d / "guest-view/net-unix.txt").read_text().splitlines()[1:]:
                    f = r.split()
                    unix[int(f[6])] = (int(f[3], 16), int(f[4], 16), f[7] if len(f) > 7 else "")
                [task] = coroner_json(d, f"net -s {pids['helper']}")["tasks"]
                socks = {x["fd"]: x for x in task["sockets"]}
                self.assertEqual(sorted(socks), [8, 9, 10])
                for fd in (8, 9):
                    x = socks[fd]
                    self.assertEqual((x["protocol"], (x["local_address"], x["local_port"]),
                                      (x["remote_address"], x["remote_port"]), x["state"]),
                                     guest[x["inode_number"]], fd)
                self.assertEqual((socks[8]["local_port"], socks[9]["local_port"]), (47011, 47012))
                u = socks[10]
                flags, utype, path = unix[u["inode_number"]]
                self.assertEqual((u["type"], u["unix_path"]), (utype, path))
                self.assertEqual(u["state"] == 10, bool(flags & 0x10000))  # __SO_ACCEPTCON: listening

    def test_irq_counts_equal_proc_interrupts(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                head, *rows = (d / "guest-view/interrupts.txt").read_text().splitlines()
                ncpu = len(head.split())
                guest = {}
                for r in rows:
                    f = r.split()
                    if not f[0].rstrip(":").isdigit():
                        continue  # NMI, LOC, ...: the architecture's own counters
                    counts = [int(x) for x in f[1:1 + ncpu]]
                    chip, hwirq_flow = f[1 + ncpu], f[2 + ncpu]
                    actions = " ".join(f[3 + ncpu:]).split(", ")
                    guest[int(f[0].rstrip(":"))] = (counts, chip, hwirq_flow.split("-", 1)[1], actions)
                ours = coroner_json(d, "irq -s")
                self.assertEqual(ours["cpus"], ncpu)
                irqs = {i["irq"]: i for i in ours["irqs"]}
                self.assertEqual(sorted(irqs), sorted(guest))
                for irq, (counts, chip, flow, actions) in guest.items():
                    o = irqs[irq]
                    self.assertEqual((o["chip"], o["flow"], o["actions"]), (chip, flow, actions), irq)
                    # The guest kept running between its snapshot and the crash: counts only grow.
                    for ours_c, guest_c in zip(o["counts"], counts):
                        self.assertGreaterEqual(ours_c, guest_c, irq)

    def test_vtop_u_finds_the_helpers_magic_buffer(self):
        # The helper filled magic_buf (1 MiB of anonymous memory) with its magic string: the
        # physical page vtop -u finds for each of a few of its pages must hold it.
        for d in self.dirs:
            pids = extra_pids(d)
            helper = dict(kv.split("=", 1) for kv in (d / "guest-view/helper.txt").read_text().split() if "=" in kv)
            base = int(helper["magic_buf_addr"], 16)
            with self.subTest(kernel=d.name):
                addrs = [base, base + 0x1000, base + 0x80000 + 0x10, base + int(helper["magic_buf_size"]) - 8]
                results = json.loads(run([d / FORM, "--json", "-c",
                                          f"vtop -c {pids['helper']} -u " + " ".join(f"{a:x}" for a in addrs)]).stdout)
                for a, r in zip(addrs, results):
                    self.assertTrue(r["mapped"], hex(a))
                    self.assertEqual(int(r["physical"], 16) & 0xfff, a & 0xfff)
                    self.assertEqual(len(r["walk"]), 5 if "5level" in d.name else 4)
                    self.assertEqual(r["vma"]["path"], "")
                    text = run([d / FORM, "-c", f"rd -p -a {int(r['physical'], 16) & ~0xf:x}"]).stdout
                    self.assertIn("CORONER-MAGIC-01", text, hex(a))
                # Outside every VMA.
                [r] = json.loads(run([d / FORM, "--json", "-c", f"vtop -c {pids['helper']} -u 1000"]).stdout)
                self.assertFalse(r["in_vma"])

    def test_swapped_out_pages(self):
        """The helper pushed a 64 KiB region out to swap (madvise MADV_PAGEOUT) and printed each
        page's swap entry from /proc/self/pagemap: vtop -u and vm -p show the same type and
        offset, on the swap device `swap` lists, and the page is not resident."""
        for d in self.dirs:
            pids = extra_pids(d)
            helper = dict(kv.split("=", 1) for kv in (d / "guest-view/helper.txt").read_text().split() if "=" in kv)
            with self.subTest(kernel=d.name):
                entries = {int(k.rsplit("_", 1)[1]): tuple(map(int, v.split(":")))
                           for k, v in helper.items() if k.startswith("swap_entry_")}
                self.assertGreater(int(helper["swap_pages"]), 0, "the guest swapped nothing out")
                self.assertEqual(len(entries), int(helper["swap_pages"]))
                base = int(helper["swap_addr"], 16)
                devices = [s["filename"] for s in coroner_json(d, "swap")["swap"]]
                addrs = [base + 4096 * i for i in sorted(entries)]
                results = json.loads(run([d / FORM, "--json", "-c",
                                          f"vtop -c {pids['helper']} -u " + " ".join(f"{a:x}" for a in addrs)]).stdout)
                for i, r in zip(sorted(entries), results):
                    self.assertFalse(r["mapped"])
                    self.assertEqual((r["swap"]["type"], r["swap"]["offset"]), entries[i])
                    self.assertEqual(r["swap"]["device"], devices[entries[i][0]])
                [task] = coroner_json(d, f"vm -p {pids['helper']}")["tasks"]
                pages = {int(p["virtual"], 16): p for v in task["vmas"] for p in v["pages"]}
                for i in sorted(entries):
                    p = pages[base + 4096 * i]
                    self.assertNotIn("physical", p)
                    self.assertIn("swap", json.dumps(p))

    def test_vm_p_pages_of_the_helper(self):
        for d in self.dirs:
            pids = extra_pids(d)
            helper = dict(kv.split("=", 1) for kv in (d / "guest-view/helper.txt").read_text().split() if "=" in kv)
            magic, size = int(helper["magic_buf_addr"], 16), int(helper["magic_buf_size"])
            with self.subTest(kernel=d.name):
                [task] = coroner_json(d, f"vm -p {pids['helper']}")["tasks"]
                for v in task["vmas"]:
                    start, end = int(v["start"], 16), int(v["end"], 16)
                    self.assertEqual([int(p["virtual"], 16) for p in v["pages"]], list(range(start, end, 4096)))
                    for p in v["pages"]:
                        if v["file"] and "physical" not in p and "swap" not in p:
                            self.assertEqual(p["file_offset"], int(p["virtual"], 16) - start + v["pgoff"] * 4096)
                # The helper wrote every page of its magic buffer: all resident, and where vtop -u says.
                pages = {int(p["virtual"], 16): p for v in task["vmas"] for p in v["pages"]}
                magic_pages = [pages[a] for a in range(magic, magic + size, 4096)]
                self.assertTrue(all(p.get("physical") for p in magic_pages))
                [r] = json.loads(run([d / FORM, "--json", "-c", f"vtop -c {pids['helper']} -u {magic:x}"]).stdout)
                self.assertEqual(magic_pages[0]["physical"], r["physical"])

    def test_fuser_and_files_d(self):
        for d in self.dirs:
            pids = extra_pids(d)
            with self.subTest(kernel=d.name):
                [r] = coroner_json(d, "fuser /tmp/helper-map.bin")
                self.assertEqual([(u["pid"], u["uses"]) for u in r["users"]], [(pids["helper"], ["fd", "mmap"])])
                [r] = coroner_json(d, "fuser /tmp/helper-file.txt")
                self.assertEqual([(u["pid"], u["uses"]) for u in r["users"]], [(pids["helper"], ["fd"])])
                [r] = coroner_json(d, "fuser /")
                users = {u["pid"]: u["uses"] for u in r["users"]}
                self.assertEqual(users[pids["helper"]], ["root", "cwd", "fd"])  # fd 4 is "/"
                self.assertEqual(users[1][:2], ["root", "cwd"])
                # files -d on the helper's mapped file's dentry.
                [task] = coroner_json(d, f"files {pids['helper']}")["tasks"]
                f11 = next(f for f in task["files"] if f["fd"] == 11)
                dj = coroner_json(d, f"files -d {f11['dentry']}")
                self.assertEqual((dj["inode"], dj["type"], dj["path"], dj["inode_number"]),
                                 (f11["inode"], "REG", "/tmp/helper-map.bin", f11["inode_number"]))
                if d.name == "5.10-4level":
                    cmd = f"files -d {int(f11['dentry'], 16):x}"
                    self.assertEqual(lines(coroner_commands(d, [cmd])), lines(crash_commands(d, [cmd])))

    def test_waitq_of_the_shell_waiting_for_its_child(self):
        # The guest's shell loop waits in wait4 for its `sleep`: it is on its own
        # signal->wait_chldexit.
        for d in self.dirs:
            loop = extra_pids(d)["loop"]
            with self.subTest(kernel=d.name):
                task = run([d / FORM, "-c", f"task {loop}"]).stdout
                signal = re.search(r"^  signal = (0x[0-9a-f]+),", task, re.M).group(1)
                cmd = f"waitq signal_struct.wait_chldexit {signal}"
                w = coroner_json(d, cmd)
                self.assertEqual([e["pid"] for e in w["entries"]], [loop])
                if d.name == "5.10-4level":
                    self.assertEqual(lines(coroner_commands(d, [cmd], dump=FORM)),
                                     lines(crash_commands(d, [cmd])))

    def test_sig_equals_proc_status(self):
        for d in self.dirs:
            pids = extra_pids(d)
            status = (d / "guest-view/helper-status.txt").read_text()
            field = lambda name: int(re.search(rf"^{name}:\s+([0-9a-f]+)$", status, re.M).group(1), 16)
            with self.subTest(kernel=d.name):
                [t] = coroner_json(d, f"sig {pids['helper']}")["tasks"]
                self.assertEqual(len(t["actions"]), 64)
                handlers = [int(a["handler"], 16) for a in t["actions"]]
                ign = sum(1 << i for i, h in enumerate(handlers) if h == 1)
                cgt = sum(1 << i for i, h in enumerate(handlers) if h > 1)
                self.assertEqual((ign, cgt), (field("SigIgn"), field("SigCgt")))
                self.assertEqual(int(t["blocked"], 16), field("SigBlk"))
                self.assertEqual(int(t["private_pending"], 16), field("SigPnd"))
                self.assertEqual(int(t["shared_pending"], 16), field("ShdPnd"))
                self.assertEqual(t["nr_threads"], int(re.search(r"^Threads:\s+(\d+)$", status, re.M).group(1)))

    def test_vm_m_is_the_helpers_mm_struct(self):
        for d in self.dirs:
            pids = extra_pids(d)
            with self.subTest(kernel=d.name):
                [vm] = coroner_json(d, f"vm {pids['helper']}")["tasks"]
                [m] = json.loads(run([d / FORM, "--json", "-c", f"vm -m {pids['helper']}"]).stdout)
                self.assertEqual(m["mm"], vm["mm"])
                self.assertIn(f"pgd = {vm['pgd']},", m["mm_struct"])
                self.assertRegex(m["mm_struct"], rf"total_vm = {vm['total_vm_kb'] // 4},")

    def test_every_task_decodes(self):
        # files, vm, sig and net -s of every task (kernel threads included) read without an error
        # on every kernel, and every VMA of every process is inside its task size.
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                tasks = json.loads(run([d / FORM, "--json", "-c", "ps"]).stdout)["tasks"]
                addrs = [t["task"] for t in tasks]
                cmds = [f"{c} {a}" for a in addrs for c in ("files", "vm", "sig", "net -s")]
                p = run([d / FORM, "-c", ";".join(cmds)], check=False)
                self.assertEqual(p.stderr, "")
                self.assertEqual(p.returncode, 0)
                vms = coroner_json(d, "vm " + " ".join(addrs))["tasks"]
                for t in vms:
                    for v in t["vmas"]:
                        self.assertLess(int(v["start"], 16), int(v["end"], 16))
                        self.assertLessEqual(int(v["end"], 16), 1 << (56 if "5level" in d.name else 47))
                    starts = [int(v["start"], 16) for v in t["vmas"]]
                    self.assertEqual(starts, sorted(starts))

    def test_timer_wheel(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                t = coroner_json(d, "timer")
                self.assertEqual(sorted({b["cpu"] for b in t["bases"]}), [0, 1])
                # NR_BASES: STD and DEF; LOCAL, GLOBAL and DEF since 6.9.
                new = d.name.startswith(("6.12", "7."))
                self.assertEqual([b["base"] for b in t["bases"] if b["cpu"] == 0],
                                 ["BASE_LOCAL", "BASE_GLOBAL", "BASE_DEF"] if new else ["BASE_STD", "BASE_DEF"])
                functions = set()
                for b in t["bases"]:
                    expires = [x["expires"] for x in b["timers"]]
                    self.assertEqual(expires, sorted(expires))
                    for x in b["timers"]:
                        self.assertEqual(x["tte"], x["expires"] - t["jiffies"])
                        self.assertTrue(x["symbol"], x)
                        functions.add(x["symbol"])
                # Sleeping kthreads (khungtaskd, ...) wait in schedule_timeout; workqueues delay.
                self.assertIn("process_timeout", functions)
                self.assertIn("delayed_work_timer_fn", functions)
                if d.name == "5.10-4level":
                    # crash 8.0.2 prints each base's header (the TTE column as wide as the
                    # farthest timer) but none of the rows here: its lines must be ours.
                    theirs = lines(crash_commands(d, ["timer"]))
                    ours = lines(coroner_commands(d, ["timer"]))
                    it = iter(ours)
                    self.assertTrue(all(any(o == l for o in it) for l in theirs), theirs)

    def test_hrtimers_hold_the_sleeping_sleep(self):
        # The guest's shell loop runs `sleep`: its nanosleep is an hrtimer_sleeper (struct hrtimer
        # then the task) with hrtimer_wakeup, on CLOCK_MONOTONIC.
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                t = coroner_json(d, "timer -r")
                self.assertEqual(len({b["cpu"] for b in t["clock_bases"]}), 2)
                size = int(re.search(r"SIZE: (\d+)", run([d / FORM, "-c", "struct hrtimer"]).stdout).group(1))
                tasks = {x["task"]: x for x in json.loads(run([d / FORM, "--json", "-c", "ps"]).stdout)["tasks"]}
                sleepers = []
                for b in t["clock_bases"]:
                    expires = [h["expires"] for h in b["timers"]]
                    self.assertEqual(expires, sorted(expires))
                    for h in b["timers"]:
                        self.assertEqual(h["tte"], h["expires"] - b["current"])
                        if h["symbol"] == "hrtimer_wakeup":
                            rd = run([d / FORM, "-c", f"rd -64 {int(h['hrtimer'], 16) + size:x} 1"]).stdout
                            task = "0x" + rd.split()[1]
                            sleepers.append((b["get_time"], tasks[task]["comm"]))
                self.assertIn(("ktime_get", "sleep"), sleepers)

    def test_vtop_u_layout_equals_crash(self):
        for d in self.dirs:
            if d.name != "5.10-4level":
                continue
            pids = extra_pids(d)
            helper = dict(kv.split("=", 1) for kv in (d / "guest-view/helper.txt").read_text().split() if "=" in kv)
            addrs = ["400000", f"{int(helper['shm_addr'], 16):x}", f"{int(helper['magic_buf_addr'], 16):x}", "1000"]
            out = crash_commands(d, [f"set {pids['helper']}"] + [f"vtop -u {a}" for a in addrs]).splitlines()
            blocks, cur = [], None
            for l in out:
                if l.startswith("VIRTUAL"):
                    cur = []
                    blocks.append(cur)
                # Each block ends with the resident page's struct page line, as coroner's; crash
                # prints that line's PAGE header only the first time in a session.
                if cur is not None and not re.match(r"^\s+PAGE\s+PHYSICAL\s+MAPPING", l):
                    cur.append(l)
            self.assertEqual(len(blocks), len(addrs))
            for a, theirs in zip(addrs, blocks):
                with self.subTest(address=a):
                    ours = run([d / "vmcore.kdump-zlib", "-c", f"vtop -c {pids['helper']} -u {a}"]).stdout
                    ours = "\n".join(l for l in ours.splitlines() if not re.match(r"^\s+PAGE\s+PHYSICAL\s+MAPPING", l))
                    self.assertEqual(lines(ours), lines("\n".join(theirs)))

    def test_runq_current_and_queued_tasks(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                tasks = json.loads(run([d / FORM, "--json", "-c", "ps"]).stdout)["tasks"]
                by_task = {t["task"]: t for t in tasks}
                runq = coroner_json(d, "runq")
                self.assertEqual(runq["warnings"], [])
                self.assertEqual(len(runq["cpus"]), 2)
                for c in runq["cpus"]:
                    cur = by_task[c["current"]]
                    self.assertTrue(cur["active"], c)
                    self.assertEqual(cur["cpu"], c["cpu"])
                    # Everything queued is a runnable task of that CPU, not its current one.
                    for q in c["rt"] + c["cfs"] + c["dl"]:
                        t = by_task[q["task"]]
                        self.assertEqual((t["state"], t["cpu"]), ("RU", c["cpu"]), q)
                        self.assertNotEqual(q["task"], c["current"])

    def test_irq_list_and_softirqs(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                counts = {i["irq"]: i for i in coroner_json(d, "irq -s")["irqs"]}
                listed = coroner_json(d, "irq")
                self.assertGreater(listed["nr_irqs"], max(counts))
                with_actions = {i["irq"]: [a["name"] for a in i["actions"]] for i in listed["irqs"] if i["actions"]}
                self.assertEqual(with_actions, {n: i["actions"] for n, i in counts.items()})
                soft = coroner_json(d, "irq -b")["softirqs"]
                self.assertEqual([s["vec"] for s in soft], list(range(10)))
                self.assertEqual(soft[1]["symbol"], "run_timer_softirq")
                self.assertEqual(soft[3]["symbol"], "net_rx_action")

    def test_layout_equals_crash(self):
        for d in self.dirs:
            if d.name not in CRASH_COMMANDS:
                continue
            with self.subTest(kernel=d.name):
                cmds = CRASH_COMMANDS[d.name](extra_pids(d))
                theirs = lines(crash_commands(d, cmds))
                ours = lines(coroner_commands(d, cmds))
                # vm's RSS: crash 8.0.2 adds MM_FILEPAGES and MM_ANONPAGES only; coroner also
                # MM_SHMEMPAGES, as the kernel's get_mm_rss (/proc VmRSS, checked in test_tasks).
                mm_line = re.compile(r"^([0-9a-f]{16}  [0-9a-f]{16}  ) *\d+k +(\d+k) *$")
                norm = lambda ls: [mm_line.sub(r"\1RSS \2", l) for l in ls]
                self.assertEqual(norm(ours), norm(theirs))

    def test_vm_of_the_helper_equals_proc_maps(self):
        for d in self.dirs:
            pids = extra_pids(d)
            with self.subTest(kernel=d.name):
                guest = []
                for l in (d / "guest-view/helper-maps.txt").read_text().splitlines():
                    f = l.split(None, 5)
                    start, end = (int(x, 16) for x in f[0].split("-"))
                    guest.append((start, end, int(f[2], 16), f[5] if len(f) > 5 else ""))
                [task] = coroner_json(d, f"vm {pids['helper']}")["tasks"]
                ours = [(int(v["start"], 16), int(v["end"], 16), v["pgoff"] * 4096 if v["file"] else 0,
                         v["maps_name"]) for v in task["vmas"]]
                self.assertEqual(ours, guest)
                helper = dict(kv.split("=", 1) for kv in (d / "guest-view/helper.txt").read_text().split() if "=" in kv)
                def vma_of(addr):
                    a = int(helper[addr], 16)
                    [v] = [v for v in task["vmas"] if int(v["start"], 16) <= a < int(v["end"], 16)]
                    return v
                self.assertEqual(vma_of("file_map_addr")["path"], helper["file_map_path"])
                # crash's FILE column for the SysV segment is the dentry's name.
                self.assertEqual(vma_of("shm_addr")["path"], "SYSV434f5201")
                self.assertIsNone(vma_of("anon_map_addr")["file"])
                self.assertIsNone(vma_of("magic_buf_addr")["file"])


if __name__ == "__main__":
    unittest.main()
