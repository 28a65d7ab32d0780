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


if __name__ == "__main__":
    unittest.main()
