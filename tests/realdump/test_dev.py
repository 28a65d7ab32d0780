"""dev: character and block devices, crash's text on 5.10 and 6.1, and on every kernel the
devices every guest has (mem on major 1, misc on 10, the virtio disks' virtblk with its gendisk).
dev -i: the I/O memory resource tree equals the guest's /proc/iomem (same resources, ranges,
names and nesting, in the same order) on every kernel, and the text equals crash 8.0.2's on 5.10
and 6.1 (I/O ports included)."""
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


if __name__ == "__main__":
    unittest.main()
