"""`log` from the dump alone equals makedumpfile --dump-dmesg (vmcore-dmesg.txt), line for line,
on every kernel and every form of the dump; a cut dump still yields what it holds."""
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import re
from datetime import datetime, timezone

from common import crash_commands, require_dumps, run

FORMS = [["vmcore.kdump-zlib"], ["vmcore.elf"], ["vmcore.flat-zlib"], ["vmcore.kdump-lzo"],
         ["vmcore.elf-d31"], ["vmcore.split-zlib.1", "vmcore.split-zlib.2"],
         ["vmcore.kdump-snappy"], ["vmcore.kdump-zstd"]]


class LogAgainstMakedumpfile(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_log_equals_vmcore_dmesg(self):
        for d in self.dirs:
            ref = (d / "vmcore-dmesg.txt").read_text(errors="surrogateescape")
            self.assertIn("Linux version", ref)
            for form in FORMS:
                with self.subTest(kernel=d.name, form=form[0]):
                    out = run([*(d / f for f in form), "-c", "log"]).stdout
                    self.assertEqual(out, ref)

    def test_panic_is_in_the_log(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                out = run([d / "vmcore.kdump-zlib", "-c", "log -t"]).stdout
                # The test dumps crash with `echo c > /proc/sysrq-trigger`.
                self.assertIn("sysrq: Trigger a crash", out)
                self.assertRegex(out, r"Kernel panic - not syncing|Oops|BUG: kernel NULL pointer")
                self.assertFalse(out.startswith("["), "log -t must drop timestamps")

    def test_levels(self):
        d = self.dirs[0]
        out = run([d / "vmcore.kdump-zlib", "-c", "log -m"]).stdout.splitlines()
        self.assertRegex(out[0], r"^\[\s+0\.000000\] <[0-7]>Linux version ")
        self.assertTrue(all(l.startswith("[") or l.startswith(" ") for l in out))

    def test_cut_dump_keeps_what_it_holds(self):
        d = self.dirs[0]
        ref = (d / "vmcore-dmesg.txt").read_text(errors="surrogateescape").splitlines()
        with tempfile.TemporaryDirectory() as tmp:
            for frac in (0.6, 0.3):
                cut = Path(tmp) / "cut"
                with open(d / "vmcore.kdump-zlib", "rb") as f:
                    cut.write_bytes(f.read(int((d / "vmcore.kdump-zlib").stat().st_size * frac)))
                p = run([cut, "-c", "log"], check=False)
                self.assertLess(p.returncode, 128)
                lines = [l for l in p.stdout.splitlines() if not l.startswith("log: warning")]
                if p.returncode == 0:
                    # Every record it could read is one makedumpfile printed, in order.
                    ok = [l for l in lines if "page the dump lacks" not in l]
                    it = iter(ref)
                    self.assertTrue(all(any(l == r for r in it) for l in ok))
                else:
                    self.assertRegex(p.stderr, r"missing|incomplete")  # says which page, and why


class LogOptions(unittest.TestCase):
    """log -T (dates), -d (dev_printk's dictionary), -c (the caller): crash 8.0.2's text on 5.10
    and 6.1 (-T, -d, -m with them); on every kernel against what the guest knew: the panic
    record's date against the guest's clock when it crashed, virtio_blk's dictionary, and the
    caller of the sysrq record, the task that wrote to /proc/sysrq-trigger (the panic task)."""

    def setUp(self):
        self.dirs = require_dumps(self)

    def test_equal_crash_on_5_10_and_6_1(self):
        compared = 0
        for d in self.dirs:
            if not (d.name.startswith("5.10") or d.name == "6.1-4level"):
                continue
            with self.subTest(kernel=d.name):
                cmds = ["log -T", "log -d", "log -Tdm"]
                with tempfile.NamedTemporaryFile("w", suffix=".cmds") as f:
                    f.write("\n".join(cmds) + "\n")
                    f.flush()
                    ours = run([d / "vmcore.kdump-zlib", "-i", f.name]).stdout.splitlines()
                theirs = crash_commands(d, cmds).splitlines()
                while theirs and (theirs[0].startswith("WARNING:") or not theirs[0].strip()):
                    theirs.pop(0)
                self.assertEqual(ours, theirs)
                compared += 1
        self.assertGreater(compared, 0)

    def test_against_the_guest(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                out = run([d / "vmcore.kdump-zlib", "-c", "log -T"]).stdout
                m = re.search(r"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) UTC (\d{4})\] sysrq: Trigger a crash$", out, re.M)
                self.assertTrue(m, out[-2000:])
                when = datetime.strptime(f"{m.group(1)} {m.group(2)}", "%a %b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
                guest = datetime.fromisoformat((d / "guest-view/crash-time.txt").read_text().strip().replace("Z", "+00:00"))
                self.assertLessEqual(abs((when - guest).total_seconds()), 5)
                # dev_printk's dictionary of the virtio disk's first message.
                out = run([d / "vmcore.kdump-zlib", "-c", "log -d"]).stdout
                self.assertRegex(out, r"\] virtio_blk virtio0: .*\n {15}SUBSYSTEM=virtio\n {15}DEVICE=\+virtio:virtio0\n")
                # The caller of the sysrq record: the task that wrote c to /proc/sysrq-trigger
                # (the panic task; the ELF copy: 6.12's -d 31 kdump lacks the slab pages).
                pid = int(re.search(r"PID: (\d+)", run([d / "vmcore.elf", "-c", "set"]).stdout).group(1))
                out = run([d / "vmcore.kdump-zlib", "-c", "log -c"]).stdout
                self.assertRegex(out, rf"(?m)^\[ *\d+\.\d{{6}}\] \[ *T{pid}\] sysrq: Trigger a crash$")
                self.assertRegex(out, r"^\[    0\.000000\] \[    T0\] Linux version ")


if __name__ == "__main__":
    unittest.main()
