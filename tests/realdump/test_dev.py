"""dev: character and block devices, crash's text on 5.10 and 6.1, and on every kernel the
devices every guest has (mem on major 1, misc on 10, the virtio disks' virtblk with its gendisk).
dev -i: the I/O memory resource tree equals the guest's /proc/iomem (same resources, ranges,
names and nesting, in the same order) on every kernel, and the text equals crash 8.0.2's on 5.10
and 6.1 (I/O ports included).
dev -d / dev -D: the text equals crash 8.0.2's on 5.10 and 6.1 (ASYNC/SYNC columns on 5.10,
READ/WRITE on 6.1); on every kernel the two virtio disks (vda, vdb: the guest's /mnt and swap),
their gendisks the ones `dev` finds through the block-device inodes, their request queues
gendisk.queue, counted through the blk-mq tags of one hardware queue per guest CPU."""
import json
import re
import unittest

from common import crash_commands, require_dumps, run


def guest_iomem(d):
    out = []
    for line in (d / "guest-view/iomem.txt").read_text().splitlines():
        m = re.match(r"^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$", line)
        out.append((len(m.group(1)) // 2 + 1, int(m.group(2), 16), int(m.group(3), 16), m.group(4)))
    return out


class DevResources(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_iomem_equals_proc_iomem(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                # vmcore.elf: makedumpfile 1.7.2 -d 31 drops the slab pages of 6.12+.
                ours = json.loads(run([d / "vmcore.elf", "--json", "-c", "dev -i"]).stdout)
                mem = [(r["depth"], int(r["start"], 16), int(r["end"], 16), r["name"]) for r in ours["iomem_resource"]]
                self.assertEqual(mem[0][3], "PCI mem")
                self.assertEqual(mem[1:], guest_iomem(d))
                ports = ours["ioport_resource"]
                self.assertEqual(ports[0]["name"], "PCI IO")
                self.assertIn("serial", [p["name"] for p in ports])

    def test_devices_everywhere(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                dev = json.loads(run([d / "vmcore.elf", "--json", "-c", "dev"]).stdout)
                chr_ = {(c["major"], c["name"]): c for c in dev["chrdevs"]}
                self.assertEqual(chr_[(1, "mem")]["operations"], "memory_fops")
                self.assertEqual(chr_[(10, "misc")]["operations"], "misc_fops")
                blk = {b["name"]: b for b in dev["blkdevs"]}
                self.assertEqual(blk["virtblk"]["operations"], "virtblk_fops")
                self.assertEqual(blk["virtblk"]["major"], 254)

    def test_text_equals_crash(self):
        for d in self.dirs:
            if not d.name.startswith(("5.10-", "6.1-4level")):
                continue
            with self.subTest(kernel=d.name):
                ours = run([d / "vmcore.kdump-zlib", "-c", "dev; dev -i"]).stdout
                theirs = crash_commands(d, ["dev", "dev -i"])
                theirs = "".join(l for l in theirs.splitlines(True) if not l.startswith("WARNING")).lstrip("\n")
                self.assertEqual(ours, theirs)


class DiskIo(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_text_equals_crash(self):
        for d in self.dirs:
            if not d.name.startswith(("5.10-", "6.1-4level")):
                continue
            with self.subTest(kernel=d.name):
                ours = run([d / "vmcore.kdump-zlib", "-c", "dev -d; dev -D"]).stdout
                theirs = crash_commands(d, ["dev -d", "dev -D"])
                theirs = "".join(l for l in theirs.splitlines(True) if not l.startswith("WARNING")).lstrip("\n")
                self.assertEqual(ours, theirs)
                self.assertIn(" ASYNC  SYNC " if d.name.startswith("5.10") else "  READ WRITE ", ours.splitlines()[0])

    def test_disks_everywhere(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                cpus = sum(1 for l in (d / "guest-view/cpuinfo.txt").read_text().splitlines()
                           if l.startswith("processor"))
                guest = (d / "guest-view/mounts.txt").read_text() + (d / "guest-view/swaps.txt").read_text()
                # vmcore.elf: makedumpfile 1.7.2 -d 31 drops the slab pages of 6.12+.
                disks = json.loads(run([d / "vmcore.elf", "--json", "-c", "dev -d"]).stdout)["disks"]
                self.assertEqual([x["name"] for x in disks], ["vda", "vdb"])
                for x in disks:
                    self.assertIn(f"/dev/{x['name']}", guest)
                    self.assertEqual((x["major"], x["mq"], x["method"]), (254, True, "blk-mq tags (sbitmap)"))
                    self.assertEqual(x["hw_queues"], cpus)  # virtio-blk: one virtqueue per vCPU
                    self.assertGreater(x["tag_depth"], 0)
                    self.assertEqual(x["tag_depth"] % cpus, 0)
                    self.assertEqual(x["total"], x["read"] + x["write"])
                    self.assertLessEqual(x["total"], x["busy_tags"])
                    q = run([d / "vmcore.elf", "-c", f"struct gendisk.queue {x['gendisk']}"]).stdout
                    self.assertEqual(int(re.search(r"queue = (0x[0-9a-f]+)", q).group(1), 16),
                                     int(x["request_queue"], 16))
                # `dev` names one gendisk per major (found another way): one of these.
                blk = {b["name"]: b for b in json.loads(run([d / "vmcore.elf", "--json", "-c", "dev"]).stdout)["blkdevs"]}
                self.assertIn(blk["virtblk"]["gendisk"], [x["gendisk"] for x in disks])
                idle = json.loads(run([d / "vmcore.elf", "--json", "-c", "dev -D"]).stdout)["disks"]
                self.assertEqual([x["name"] for x in idle], [x["name"] for x in disks if x["total"]])


if __name__ == "__main__":
    unittest.main()
