"""Types of loaded modules with no vmlinux: each module's split BTF, read from the kernel's
btf_modules list (module.btf_data itself is freed after loading), on top of the kernel's BTF.
Compared with pahole (dwarves) reading the same module's .ko file with the vmlinux as its BTF
base: the same members at the same offsets, and the same size. 5.10 was built without
CONFIG_DEBUG_INFO_BTF_MODULES."""
import re
import subprocess
import unittest

from common import CACHE, require_dumps, run

STRUCTS = [("virtio_blk", "virtio_blk")]


def release(d):
    return (d / "capture-uname.txt").read_text().split()[2]


def pahole(d, struct, module):
    kdir = CACHE / "_kernels" / release(d)
    out = subprocess.run(["pahole", "-C", struct, "--btf_base", str(kdir / "vmlinux"), str(kdir / "modules" / f"{module}.ko")],
                         capture_output=True, text=True, check=True).stdout
    members = re.findall(r"^\t[^\t/].*?(\w+)(?:\[\d+\])*;\s+/\*\s+(\d+)\s+\d+\s+\*/$", out, re.M)
    size = int(re.search(r"/\* size: (\d+),", out).group(1))
    return [(n, int(o)) for n, o in members], size


def ours(d, struct):
    out = run([d / "vmcore.elf", "-c", f"struct {struct} -o"]).stdout
    members = re.findall(r"^ {0,4}\s?\[(\d+)\] .*?(\w+)(?:\[\d+\])*;$", out, re.M)
    return [(n, int(o)) for o, n in members], int(re.search(r"^SIZE: (\d+)$", out, re.M).group(1))


class ModuleBtf(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_module_types_equal_pahole(self):
        compared = 0
        for d in self.dirs:
            if d.name.startswith("5.10"):
                p = run([d / "vmcore.elf", "-c", "struct virtio_blk"], check=False)
                self.assertNotEqual(p.returncode, 0)
                continue
            for struct, module in STRUCTS:
                with self.subTest(kernel=d.name, struct=struct):
                    self.assertEqual(ours(d, struct), pahole(d, struct, module))
                    compared += 1
        self.assertGreater(compared, 0)


if __name__ == "__main__":
    unittest.main()
