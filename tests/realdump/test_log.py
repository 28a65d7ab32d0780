"""`log` from the dump alone equals makedumpfile --dump-dmesg (vmcore-dmesg.txt), line for line,
on every kernel and every form of the dump; a cut dump still yields what it holds."""
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from common import require_dumps, run

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


if __name__ == "__main__":
    unittest.main()
