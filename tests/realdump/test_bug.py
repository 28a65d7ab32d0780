"""The BUG()/WARN() table read from the dump alone equals the DWARF line table of the vmlinux:
for a sample of every kernel's entries, `bug` gives the file and line addr2line gives for the same
address (the ud2 the macro left), and the bytes there are a ud instruction. `bt` prints the same
"kernel BUG at FILE:LINE!" under an exception frame whose RIP is one of these addresses.

5.10 stores the file pointer relative to the entry, later kernels relative to the field, and 7.x
adds a format pointer; all are covered."""
import json
import subprocess
import unittest

from common import require_dumps, run


class BugTableAgainstDwarf(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_sample_matches_addr2line(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                bugs = json.loads(run([d / "vmcore.elf", "--json", "-c", "bug"]).stdout)
                self.assertGreater(len(bugs), 5000)
                stext = int(run([d / "vmcore.elf", "-c", "sym _stext"]).stdout.split()[0], 16)
                mapped = int(next(l for l in (d / "System.map").read_text().splitlines()
                                  if l.endswith(" _stext")).split()[0], 16)
                sample = bugs[::97]
                addrs = [hex(int(b["address"], 16) - stext + mapped) for b in sample]
                out = subprocess.run(["addr2line", "-e", str(d / "vmlinux"), *addrs],
                                     capture_output=True, text=True, check=True).stdout.splitlines()
                agree = 0
                for b, line in zip(sample, out):
                    path, _, num = line.rpartition(":")
                    if path.endswith("/" + b["file"]) and num.split()[0] == str(b["line"]):
                        agree += 1
                # Trace-event macros are attributed to another line of the same header by DWARF.
                self.assertGreaterEqual(agree, len(sample) - 2, d.name)
                # Each address holds a ud instruction (0f 0b ud2, 0f b9 ud1); 7.x WARNs with a
                # format string trap through a longer sequence that starts there.
                for b in [b for b in sample if not b["format"]][:10]:
                    word = run([d / "vmcore.elf", "-c", f"rd -8 {b['address']} 2"]).stdout.split()
                    self.assertEqual(word[1], "0f", b)
                    self.assertIn(word[2], ("0b", "b9", "ff"), b)

    def test_single_lookup(self):
        d = self.dirs[0]
        bugs = json.loads(run([d / "vmcore.elf", "--json", "-c", "bug"]).stdout)
        b = bugs[len(bugs) // 2]
        out = run([d / "vmcore.elf", "-c", f"bug {b['address']}"]).stdout
        kind = "WARNING: at" if b["warning"] else "kernel BUG at"
        self.assertIn(f"{kind} {b['file']}:{b['line']}", out)
        p = run([d / "vmcore.elf", "-c", "bug ffffffff81000000"], check=False)
        self.assertIn("is not a BUG()/WARN() site", p.stderr)


if __name__ == "__main__":
    unittest.main()
