"""coroner collect through its command line on the real test dumps.

- crash 8.0.2 opens coroner's -c -d 31 output of the 6.1 dump and `log`, `bt` and `sys` print
  exactly what they print on makedumpfile's (vmcore.kdump-zlib), but for the file name; and
  `log` the same on a 3-file --split set;
- --dump-dmesg writes byte for byte makedumpfile's vmcore-dmesg.txt, on every kernel;
- -F writes the flattened stream to stdout, -R turns it back into the same file -l -d 31 writes;
- an existing output is refused without -f;
- a full disk (a 17 MB loop-mounted ext4: 13.8 MB free for a 16.3 MB dump), Ctrl-C (SIGINT) and an
  unreadable input page each leave a dump marked incomplete that coroner opens, with the right exit
  status; on the full disk crash starts on it and sys, log and bt work.
(Page-by-page checks of every format, libkdumpfile and thread independence are in
collect_roundtrip_realdump_test.cc; the filter against makedumpfile in
collect_filter_realdump_test.cc.)
"""
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from common import CORONER, CACHE, crash_commands, info_json, require_dumps, run

K61 = CACHE / "6.1-4level"


def collect(*args, check=True, **kw):
    p = subprocess.run([CORONER, "collect", *map(str, args)], capture_output=True, timeout=600, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"coroner collect {args} failed ({p.returncode}): {p.stderr.decode()}")
    return p


class CollectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="collect-test."))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_crash_reads_it_as_it_reads_makedumpfiles(self):
        require_dumps(self)
        out = self.tmp / "crash.kdump"
        collect("-c", "--message-level", "1", "-d", "31", K61 / "vmcore.elf", out)
        cmds = ["log", "bt", "sys"]
        ours = crash_commands(K61, cmds, dump=str(out))
        theirs = crash_commands(K61, cmds, dump="vmcore.kdump-zlib")
        norm = lambda s: [l for l in s.splitlines() if "DUMPFILE:" not in l]
        self.assertIn("sysrq triggered crash", ours)
        self.assertIn("write_sysrq_trigger", ours)
        self.assertEqual(norm(ours), norm(theirs))
        # A split set too (crash needs each file to start on a 4096-pfn boundary).
        parts = [self.tmp / f"crash.split.{i}" for i in range(3)]
        collect("-c", "--split", "-d", "31", K61 / "vmcore.elf", *parts)
        with tempfile.NamedTemporaryFile("w", suffix=".crash") as f:
            f.write("log\n")
            f.flush()
            p = subprocess.run(["crash", "-s", str(K61 / "vmlinux"), *map(str, parts), "-i", f.name],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        log_theirs = crash_commands(K61, ["log"], dump="vmcore.kdump-zlib")
        self.assertEqual(p.stdout + p.stderr, log_theirs)

    def test_dump_dmesg_equals_makedumpfiles(self):
        for d in require_dumps(self):
            with self.subTest(kernel=d.name):
                out = self.tmp / f"dmesg.{d.name}"
                collect("--dump-dmesg", d / "vmcore.elf", out)
                self.assertEqual(out.read_bytes(), (d / "vmcore-dmesg.txt").read_bytes())

    def test_flattened_to_stdout_and_reassembled(self):
        require_dumps(self)
        flat = self.tmp / "out.flat"
        with open(flat, "wb") as f:
            p = subprocess.run([CORONER, "collect", "-F", "-l", "-d", "31", K61 / "vmcore.elf"], stdout=f,
                               stderr=subprocess.PIPE, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(flat.read_bytes()[:12], b"makedumpfile")
        j = info_json([flat])
        self.assertEqual(j["format"], "flattened kdump-compressed")
        direct = self.tmp / "direct.kdump"
        collect("-l", "-d", "31", K61 / "vmcore.elf", direct)
        back = self.tmp / "back.kdump"
        with open(flat, "rb") as f:
            collect("-R", back, stdin=f)
        self.assertEqual(back.read_bytes(), direct.read_bytes())
        self.assertEqual(info_json([back])["pages"], info_json([direct])["pages"])

    def test_refuses_to_overwrite_without_f(self):
        require_dumps(self)
        out = self.tmp / "exists"
        out.write_bytes(b"keep me")
        p = collect("-d", "31", K61 / "vmcore.elf", out, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"-f", p.stderr)
        self.assertEqual(out.read_bytes(), b"keep me")
        p = collect("-d", "31", K61 / "vmcore.elf", K61 / "vmcore.elf", check=False)
        self.assertEqual(p.returncode, 1)
        collect("-f", "-l", "-d", "31", K61 / "vmcore.elf", out)
        self.assertEqual(info_json([out])["dump_level"], 31)

    def test_full_disk_leaves_an_incomplete_dump(self):
        require_dumps(self)
        # A small loop-mounted ext4 (a tmpfs would do for the writing, but a full tmpfs cannot
        # even map the file's holes for reading: any mmap reader gets SIGBUS there).
        mnt = self.tmp / "mnt"
        mnt.mkdir()
        img = self.tmp / "disk.img"
        subprocess.run(["truncate", "-s", "17M", img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
        if subprocess.run(["mount", "-o", "loop", img, mnt]).returncode != 0:
            self.skipTest("cannot loop-mount a file system here")
        try:
            out = mnt / "vmcore"
            p = collect("-c", "-d", "31", K61 / "vmcore.elf", out, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"No space left on device", p.stderr)
            self.assertIn(b"marked incomplete", p.stderr)
            j = info_json([out])
            self.assertTrue(j["incomplete"])
            self.assertGreater(j["pages"]["dumped"], 3000)
            self.assertGreater(j["pages"]["truncated"], 3000)
            # The pages analysis needs went first (kernel data, bss, page tables, per-CPU areas,
            # rodata, text, slab), so crash starts on it and sys, log and bt work although 20%
            # of the pages are missing. (makedumpfile 1.7.2 writes in pfn order: on this disk its
            # dump lacks kernel data and crash cannot start: "page incomplete ... current_task".)
            out_crash = crash_commands(K61, ["sys", "log", "bt"], dump=str(out))
            self.assertIn("This dumpfile is incomplete", out_crash)
            self.assertIn('PANIC: "Kernel panic - not syncing: sysrq triggered crash"', out_crash)
            self.assertIn("write_sysrq_trigger at", out_crash)  # bt
            self.assertIn("sysrq: Trigger a crash", out_crash)  # log
            # coroner reads the log from it too.
            self.assertIn("sysrq triggered crash", run([out, "-c", "log"]).stdout)
            # A list of levels falls back to the next one when the output does not fit (here
            # neither fits; the second attempt is made and reported).
            p = collect("-f", "-c", "-d", "1,31", K61 / "vmcore.elf", out, check=False)
            self.assertIn(b"trying level 31", p.stderr)
        finally:
            subprocess.run(["umount", mnt])

    def test_sigint_leaves_an_incomplete_dump(self):
        require_dumps(self)
        out = self.tmp / "interrupted"
        p = subprocess.Popen([CORONER, "collect", "-d", "0", "--num-threads", "2", K61 / "vmcore.elf", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Wait until it has written something, then interrupt.
        for _ in range(200):
            if out.exists() and out.stat().st_size > 50 << 20:
                break
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"interrupted", err)
        j = info_json([out])
        self.assertTrue(j["incomplete"])
        self.assertGreater(j["pages"]["dumped"], 10000)
        self.assertGreater(j["pages"]["truncated"], 0)

    def test_mem_usage_adds_up_to_what_collect_writes(self):
        require_dumps(self)
        p = collect("--mem-usage", K61 / "vmcore.elf")
        rows = {}
        for line in p.stdout.decode().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("ZERO", "NON_PRI_CACHE", "PRI_CACHE", "USER", "FREE", "KERN_DATA"):
                rows[parts[0]] = int(parts[1])
        self.assertEqual(len(rows), 6, p.stdout)
        d31 = self.tmp / "mu31"
        d16 = self.tmp / "mu16"
        collect("-l", "-d", "31", K61 / "vmcore.elf", d31)
        collect("-l", "-d", "16", K61 / "vmcore.elf", d16)
        j31, j16 = info_json([d31]), info_json([d16])
        # zero pages stay in a kdump's bitmap (one shared descriptor)
        self.assertEqual(j31["pages"]["dumped"], rows["KERN_DATA"] + rows["ZERO"])
        self.assertEqual(j16["pages"]["excluded"], rows["FREE"])
        self.assertEqual(sum(rows.values()), j31["pages"]["present"])
        self.assertGreater(rows["FREE"], 100000)

    def test_unreadable_input_page_is_counted_not_fatal(self):
        require_dumps(self)
        src = self.tmp / "src.kdump"
        collect("-d", "31", K61 / "vmcore.elf", src)  # uncompressed: raw page data
        # Turn the first page's descriptor into a zlib page whose data does not inflate.
        raw = bytearray(src.read_bytes())
        block = struct.unpack_from("<I", raw, 428)[0]
        sub_hdr, bitmap_blocks = struct.unpack_from("<iI", raw, 432)
        desc = (1 + sub_hdr + bitmap_blocks) * block
        off, size, flags = struct.unpack_from("<qII", raw, desc)
        struct.pack_into("<qII", raw, desc, off, 100, 1)
        raw[off:off + 100] = b"\xff" * 100
        src.write_bytes(bytes(raw))
        out = self.tmp / "from-bad.kdump"
        p = collect("-l", "-d", "31", src, out, check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"read error", p.stderr)
        j = info_json([out])
        self.assertTrue(j["incomplete"])
        self.assertEqual(j["pages"]["truncated"], 1)
        self.assertEqual(j["pages"]["dumped"] + 1, info_json([src])["pages"]["dumped"])


if __name__ == "__main__":
    unittest.main()
