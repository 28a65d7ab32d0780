"""`p` with no vmlinux (BTF types, kallsyms, a table of well-known globals) against crash 8.0.2
with the DWARF vmlinux, and against drgn where crash cannot open the dump."""
import json
import re
import unittest

from common import crash_commands, drgn_json, require_dumps, run
from test_symbols_types import coroner, crash, normalize

EXPRESSIONS = [
    "p nr_cpu_ids", "p jiffies", "p init_uts_ns", "p init_uts_ns.name.sysname", "p avenrun",
    "p init_task.pid", "p init_task.comm", "p &init_task", "p init_task.tasks", "p prb",
    "p prb->desc_ring.count_bits", "p panic_cpu", "p system_state", "p max_pfn", "p init_task.se.load",
]


def drgn_values(d):
    return drgn_json(d, f"""
print(json.dumps({{
  'nr_cpu_ids': prog['nr_cpu_ids'].value_(),
  'jiffies': prog['jiffies_64'].value_(),  # jiffies is a linker alias of jiffies_64
  'pid': prog['init_task'].pid.value_(),
  'comm': prog['init_task'].comm.string_().decode(),
  'count_bits': prog['prb'].desc_ring.count_bits.value_(),
  'max_pfn': prog['max_pfn'].value_(),
  'release': prog['init_uts_ns'].name.release.string_().decode(),
}}))
""")


def value(d, expr):
    return json.loads(run([d / "vmcore.kdump-zlib", "--json", "-c", "p " + expr]).stdout)["value"]


class PrintAgainstReferences(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_same_as_crash_where_crash_works(self):
        compared = 0
        for d in self.dirs:
            theirs = crash(d, EXPRESSIONS)
            if "nr_cpu_ids = $1" not in theirs:
                continue
            with self.subTest(kernel=d.name):
                self.assertEqual(normalize(coroner(d, EXPRESSIONS)), normalize(theirs))
            compared += 1
        self.assertGreater(compared, 0)

    def test_values_match_drgn_on_every_kernel(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                ref = drgn_values(d)
                self.assertEqual(int(value(d, "nr_cpu_ids")), ref["nr_cpu_ids"])
                self.assertEqual(int(value(d, "jiffies")), ref["jiffies"])
                self.assertEqual(int(value(d, "init_task.pid")), ref["pid"])
                self.assertEqual(value(d, "init_task.comm").strip('"').split("\\000")[0], ref["comm"])
                self.assertEqual(int(value(d, "prb->desc_ring.count_bits")), ref["count_bits"])
                self.assertEqual(int(value(d, "max_pfn")), ref["max_pfn"])
                self.assertEqual(value(d, "init_uts_ns.name.release").strip('"').split("\\000")[0],
                                 ref["release"])

    def test_unknown_global_says_why(self):
        d = self.dirs[0]
        p = run([d / "vmcore.kdump-zlib", "-c", "p sysctl_sched_latency"], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not known without a vmlinux", p.stderr)
        p = run([d / "vmcore.kdump-zlib", "-c", "p init_task.no_such_member"], check=False)
        self.assertIn("There is no member named no_such_member", p.stderr)



class PrintPerCpu(unittest.TestCase):
    """p of per-CPU variables with crash's cpuspec (NAME:N, NAME:a, NAME:0-1) and without one
    (the type and every CPU's address). Types from the vmlinux, or with no vmlinux from BTF's
    per-CPU VARs (6.1 and later; 5.10's BTF has none, and coroner says so)."""

    CMDS = ["p irq_stat:a", "p this_cpu_off:all", "p this_cpu_off", "p this_cpu_off:0-1", "p runqueues:1"]

    def setUp(self):
        self.dirs = require_dumps(self)

    def ours(self, d, vmlinux, cmds=CMDS):
        args = [d / "vmcore.kdump-zlib"] + ([d / "vmlinux"] if vmlinux else [])
        return run([*args, "-c", "; ".join(cmds)]).stdout

    def test_equals_crash(self):
        for d in self.dirs:
            if not d.name.startswith(("5.10-", "6.1-4level")):
                continue
            with self.subTest(kernel=d.name):
                theirs = crash_commands(d, self.CMDS)
                theirs = "".join(l for l in theirs.splitlines(True) if not l.startswith("WARNING") and l != "\n")
                vmlinux = d.name.startswith("5.10")
                self.assertEqual(self.ours(d, vmlinux), theirs)
                self.assertIn("per_cpu(runqueues, 1) = $", theirs)

    def test_btf_types_equal_dwarf_types(self):
        """this_cpu_off holds each CPU's own per-CPU offset: its value on CPU N is its address
        there minus its symbol's (per-CPU) address."""
        cmds = self.CMDS[:4]  # runqueues: 7.2's DWARF and BTF differ in one pointer annotation
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                with_v = self.ours(d, True, cmds)
                offsets = [int(v, 10) for v in re.findall(r"^per_cpu\(this_cpu_off, \d\) = \$\d+ = (\d+)$", with_v, re.M)]
                addrs = [int(a, 16) for a in re.findall(r"^  \[\d\]: ([0-9a-f]+)$", with_v, re.M)]
                sym = int(run([d / "vmcore.kdump-zlib", "-c", "sym this_cpu_off"]).stdout.split()[0], 16)
                self.assertEqual(len(addrs), 2)
                self.assertEqual(offsets, [(a - sym) % 2**64 for a in addrs] * 2)
                if d.name.startswith("5.10"):
                    p = run([d / "vmcore.kdump-zlib", "-c", "p this_cpu_off:0"], check=False)
                    self.assertIn("BTF has no variables", p.stdout + p.stderr)
                    continue
                self.assertTrue(self.ours(d, False, cmds) == with_v, "BTF and DWARF values differ")

if __name__ == "__main__":
    unittest.main()
