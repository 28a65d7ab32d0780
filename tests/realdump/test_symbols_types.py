"""sym, struct, union and whatis with no vmlinux (kallsyms and BTF read from the dump) against
crash 8.0.2 with the DWARF vmlinux on the same dump, and against drgn where crash cannot open
the dump (6.12 and later)."""
import json
import re
import unittest

from common import coroner_commands, coroner_members, crash_commands, drgn_json, require_dumps, run

STRUCTS = ["task_struct", "page", "mm_struct", "zone", "printk_ringbuffer"]
SYMBOLS = ["jiffies", "init_task", "schedule", "sysrq_handle_crash", "init_uts_ns"]
# Per-CPU symbols are offsets into the per-CPU area: kallsyms types them 'A' (absolute) where
# the vmlinux symtab crash reads says 'D', so they are checked by address only.
PERCPU = ["__per_cpu_start", "runqueues"]


def crash(d, commands):
    return crash_commands(d, commands)


def coroner(d, commands):
    return coroner_commands(d, commands)


def normalize(text):
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("WARNING: active task"):
            continue
        # crash adds "FILE: LINE" to `sym` lines from DWARF; kallsyms has no line numbers.
        line = re.sub(r"^([0-9a-f]{16} \(\w\) \S+) .*: \d+$", r"\1", line)
        lines.append(line)
    return "\n".join(lines)


def drgn_members(d, struct):
    """(name, byte offset) of every member, anonymous members flattened, from drgn + DWARF."""
    return drgn_json(d, f"""
out = []
def walk(t, base):
    for m in t.members:
        if m.name is None:
            walk(m.type.unqualified(), base + m.bit_offset)
        else:
            out.append([m.name, (base + m.bit_offset) // 8])
t = prog.type('struct {struct}')
walk(t, 0)
print(json.dumps({{'size': t.size, 'members': out}}))
""")



class SymbolsAndTypes(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_same_as_crash_where_crash_works(self):
        compared = 0
        for d in self.dirs:
            cmds = [f"sym {s}" for s in SYMBOLS if s not in PERCPU]
            for s in STRUCTS:
                cmds += [f"struct {s}", f"struct -o {s}"]
            cmds += ["whatis atomic_t", "whatis u64", "whatis spinlock_t", "whatis list_head"]
            theirs = crash(d, cmds)
            if "struct task_struct {" not in theirs:
                continue  # crash 8.0.2 cannot open this dump: see the drgn test
            with self.subTest(kernel=d.name):
                ours = coroner(d, cmds)
                self.assertEqual(normalize(ours), normalize(theirs))
            compared += 1
        self.assertGreater(compared, 0, "crash opened no test dump (it opens 6.1)")

    def test_layouts_match_drgn_on_every_kernel(self):
        for d in self.dirs:
            for s in STRUCTS:
                with self.subTest(kernel=d.name, struct=s):
                    self.assertEqual(coroner_members(d, s), drgn_members(d, s))

    def test_symbols_agree_with_system_map(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                info = json.loads(run(["info", "--json", d / "vmcore.kdump-zlib"]).stdout)
                slide = int(info["vmcoreinfo"]["kernel_offset"], 16)
                smap = {}
                for line in (d / "System.map").read_text().splitlines():
                    addr, typ, name = line.split()[:3]
                    smap.setdefault(name, int(addr, 16) + slide)
                out = run([d / "vmcore.kdump-zlib", "--json", "-c", "sym " + " ".join(SYMBOLS + PERCPU)]).stdout
                for entry in json.loads(out):
                    want = smap[entry["name"]]
                    if entry["name"] in PERCPU and entry["type"] == "A":
                        # Kernels with absolute per-CPU kallsyms (x86_64 before 6.15) keep per-CPU
                        # symbols as offsets that KASLR does not move; later ones relocate them.
                        want -= slide
                    self.assertEqual(int(entry["address"], 16), want, entry["name"])

    def test_kaslr_off(self):
        """6.1-nokaslr boots with nokaslr: no KERNELOFFSET (or 0), symbols at their System.map
        addresses exactly, and the kernel image at __START_KERNEL_map + phys_base."""
        dirs = [d for d in self.dirs if d.name.endswith("nokaslr")]
        self.assertTrue(dirs, "no KASLR-off test dump (6.1-nokaslr)")
        for d in dirs:
            info = json.loads(run(["info", "--json", d / "vmcore.kdump-zlib"]).stdout)
            self.assertEqual(int(info["vmcoreinfo"].get("kernel_offset") or "0", 16), 0)
            smap = dict((l.split()[2], int(l.split()[0], 16)) for l in (d / "System.map").read_text().splitlines())
            out = json.loads(run([d / "vmcore.kdump-zlib", "--json", "-c", "sym jiffies init_task linux_banner"]).stdout)
            for e in out:
                self.assertEqual(int(e["address"], 16), smap[e["name"]], e["name"])
            self.assertEqual(smap["_text"], 0xffffffff81000000)
            self.assertIn("nokaslr", (d / "guest-view/cmdline.txt").read_text())

    def test_errors_are_clear(self):
        d = self.dirs[0]
        p = run([d / "vmcore.kdump-zlib", "-c", "struct no_such_struct"], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("invalid data structure reference: no_such_struct", p.stderr)
        p = run([d / "vmcore.kdump-zlib", "-c", "sym no_such_symbol_xyz"], check=False)
        self.assertIn("no_such_symbol_xyz: symbol not found", p.stderr)
        p = run([d / "vmcore.kdump-zlib", "-c", "union pipe_inode_info"], check=False)
        self.assertIn("data type mismatch: pipe_inode_info is not a union", p.stderr)


if __name__ == "__main__":
    unittest.main()
