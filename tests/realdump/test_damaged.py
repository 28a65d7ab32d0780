"""Damaged kernel data: a copy of a real dump with garbage written into the task list gets a clear
error naming the list and the bad entry (never a crash, a hang or a silent short list), and what
does not depend on the list still works (log, sym, and everything in --minimal mode).

The copy is the 5.10 `makedumpfile -E -d 31` ELF file (uncompressed, so a physical address maps to
one file offset through its PT_LOAD headers)."""
import json
import re
import shutil
import struct
import tempfile
import unittest
from pathlib import Path

from common import require_dumps, run


def phys_to_offset(path, phys):
    with open(path, "rb") as f:
        ehdr = f.read(64)
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        f.seek(phoff)
        for _ in range(phnum):
            ph = f.read(phentsize)
            p_type, _flags, p_offset, _vaddr, p_paddr, p_filesz = struct.unpack_from("<IIQQQQ", ph)
            if p_type == 1 and p_paddr <= phys < p_paddr + p_filesz:
                return p_offset + phys - p_paddr
    raise AssertionError(f"physical {phys:#x} is not in the file")


class DamagedTaskList(unittest.TestCase):
    def setUp(self):
        dirs = [d for d in require_dumps(self) if d.name.startswith("5.10")]
        if not dirs:
            self.skipTest("needs the 5.10 dump")
        self.src = dirs[0] / "vmcore.elf-d31"
        self.ref_log = (dirs[0] / "vmcore-dmesg.txt").read_text(errors="surrogateescape")
        self.tmp = tempfile.TemporaryDirectory()
        self.copy = Path(self.tmp.name) / "vmcore.elf-d31"
        shutil.copyfile(self.src, self.copy)
        init_task = int(run([self.copy, "-c", "sym init_task"]).stdout.split()[0], 16)
        layout = run([self.copy, "-c", "struct -o task_struct"]).stdout
        tasks_off = int(re.search(r"\[(\d+)\] struct list_head tasks;", layout).group(1))
        self.head = init_task + tasks_off

    def tearDown(self):
        self.tmp.cleanup()

    def poke(self, vaddr, value):
        walk = json.loads(run([self.copy, "--json", "-c", f"vtop {vaddr:x}"]).stdout)
        phys = int(walk[0]["physical"], 16)
        with open(self.copy, "r+b") as f:
            f.seek(phys_to_offset(self.copy, phys))
            f.write(struct.pack("<Q", value))

    def check_rest_still_works(self):
        self.assertEqual(run([self.copy, "-c", "log"]).stdout, self.ref_log)
        self.assertEqual(run([self.copy, "--minimal", "-c", "log"]).stdout, self.ref_log)
        self.assertIn("(D) jiffies", run([self.copy, "--minimal", "-c", "sym jiffies"]).stdout)
        p = run([self.copy, "--minimal", "-c", "ps"], check=False)
        self.assertIn("not available in --minimal mode", p.stderr)

    def test_garbage_pointer(self):
        self.poke(self.head, 0x0000DEAD0000BEEF)
        for cmd in ("ps", "bt", "foreach bt"):
            p = run([self.copy, "-c", cmd], check=False)
            self.assertEqual(p.returncode, 1, cmd)
            self.assertIn(f"task_struct.tasks list at {self.head:#x}", p.stderr)
            self.assertIn("0xdead0000beef, not a kernel address", p.stderr)
            self.assertEqual(p.stdout, "")
        # sys still prints everything else and says why TASKS is missing.
        p = run([self.copy, "-c", "sys"], check=False)
        self.assertIn("RELEASE: 5.10.0-32-cloud-amd64", p.stdout)
        self.assertIn("TASKS: ", p.stdout)
        self.assertIn("not a kernel address", p.stdout)
        self.check_rest_still_works()

    def test_loop(self):
        first = int(run([self.copy, "-c", f"rd -64 {self.head:x} 1"]).stdout.split()[1], 16)
        self.poke(first, first)  # the first entry's next points to itself
        p = run([self.copy, "-c", "ps"], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"loops back to {first:#x} without reaching the head", p.stderr)
        self.check_rest_still_works()


class NoBtf(unittest.TestCase):
    """A dump whose BTF cannot be read (its header's magic zeroed in a copy of the 6.1 -E file):
    coroner names the BTF's address and what is wrong with it, log/sym/rd/dis and sys's
    type-free rows still work, and with the DWARF vmlinux every command works again."""

    def setUp(self):
        dirs = [d for d in require_dumps(self) if d.name == "6.1-4level"]
        if not dirs:
            self.skipTest("needs the 6.1-4level dump")
        self.dir = dirs[0]
        self.tmp = tempfile.TemporaryDirectory()
        self.copy = Path(self.tmp.name) / "vmcore.elf-d31"
        shutil.copyfile(self.dir / "vmcore.elf-d31", self.copy)
        self.btf = int(run([self.copy, "-c", "sym __start_BTF"]).stdout.split()[0], 16)
        walk = json.loads(run([self.copy, "--json", "-c", f"vtop {self.btf:x}"]).stdout)
        with open(self.copy, "r+b") as f:
            f.seek(phys_to_offset(self.copy, int(walk[0]["physical"], 16)))
            self.assertEqual(f.read(2), b"\x9f\xeb")  # BTF_MAGIC, little-endian
            f.seek(-2, 1)
            f.write(b"\0\0")

    def tearDown(self):
        self.tmp.cleanup()

    def test_says_what_is_wrong_and_keeps_the_rest(self):
        reason = f"the kernel's BTF at {self.btf:#x} (__start_BTF, "
        for cmd in ("struct task_struct", "ps", "bt", "mod", "kmem -i"):
            with self.subTest(cmd=cmd):
                p = run([self.copy, "-c", cmd], check=False)
                self.assertEqual(p.returncode, 1)
                self.assertIn(reason, p.stderr)
                self.assertIn("magic 0x0000 where BTF has 0xeb9f", p.stderr)
                self.assertIn("give a vmlinux with DWARF", p.stderr)
                self.assertEqual(p.stdout, "")
        ref_log = (self.dir / "vmcore-dmesg.txt").read_text(errors="surrogateescape")
        self.assertEqual(run([self.copy, "-c", "log"]).stdout, ref_log)
        self.assertIn("(D) jiffies", run([self.copy, "-c", "sym jiffies"]).stdout)
        self.assertIn("push", run([self.copy, "-c", "dis schedule 3"]).stdout)
        # sys: what needs no types is there, what does is "(unknown)" or blank with one reason.
        p = run([self.copy, "-c", "sys"], check=False)
        full = run([self.dir / "vmcore.elf-d31", "-c", "sys"]).stdout
        for row in ("CPUS", "DATE", "UPTIME", "LOAD AVERAGE", "RELEASE", "PANIC"):
            self.assertIn(re.search(rf"^ *{row}: .*$", full, re.M).group(0), p.stdout, row)
        self.assertIn("TASKS: (unknown)", p.stdout)
        self.assertIn("sys: warning: TASKS: ", p.stdout)

    def test_the_vmlinux_gives_the_types_back(self):
        vmlinux = self.dir / "vmlinux"
        ours = json.loads(run([self.copy, vmlinux, "--json", "-c", "ps"]).stdout)["tasks"]
        ref = json.loads(run([self.dir / "vmcore.elf-d31", "--json", "-c", "ps"]).stdout)["tasks"]
        self.assertEqual([(t["pid"], t["comm"]) for t in ours], [(t["pid"], t["comm"]) for t in ref])
        self.assertGreater(len(ours), 50)
        out = run([self.copy, vmlinux, "-c", "struct task_struct.comm init_task"]).stdout
        self.assertIn('comm = "swapper/0', out)


if __name__ == "__main__":
    unittest.main()
