"""coroner with the DWARF vmlinux (symbols from its symtab, types, globals and lines from its
DWARF, `dis`) against crash 8.0.2 with the same vmlinux on 5.10 and 6.1, and against drgn with
the vmlinux on every kernel; the vmlinux checks (a wrong vmlinux is refused, one without DWARF
still gives symbols, one in a --debuginfo-dir is found).

Known, documented differences (not compared): crash drops gcc's clone suffixes from symbol
names (".part.0", ".isra.0"), so a name two clones share is "duplicate" to crash only; gdb does
not name a %rip target that falls on a section-boundary symbol (find_bug's
__start___bug_table on 5.10), coroner does.
"""
import json
import os
import re
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from common import CACHE, crash_commands, drgn_json, require_dumps, run
from common import coroner_members as dump_members

STRUCTS = ["task_struct", "mm_struct", "page", "zone"]

CRASH_CMDS = [
    "sym jiffies", "sym schedule", "sym sysrq_handle_crash", "sym init_task",
    "struct task_struct", "struct -o mm_struct", "struct page", "struct -o zone",
    "struct printk_ringbuffer",
    "whatis jiffies", "whatis init_task", "whatis schedule", "whatis max_pfn",
    "whatis saved_command_line",
    "p jiffies", "p init_uts_ns.name", "p nr_cpu_ids", "p max_pfn", "p saved_command_line",
    "p panic_timeout", "p loops_per_jiffy", "p init_task.comm", "p init_task.pid",
    "dis schedule", "dis -l schedule", "dis -l sysrq_handle_crash", "dis -r schedule+90",
    "dis -f schedule+150", "dis -r schedule+90 3",
    "dis -l do_exit", "dis vfs_read", "dis -l find_vma", "dis -l panic", "dis copy_process",
]


def crash_cmds(d):
    """CRASH_CMDS and `dis ADDR COUNT` forms at instruction boundaries of this kernel's
    schedule (in the middle of an instruction, gdb and capstone decode garbage differently)."""
    j = json.loads(run([d / "vmcore.kdump-zlib", d / "vmlinux", "--json", "-c", "dis schedule"]).stdout)
    insns = j["instructions"]
    return CRASH_CMDS + [f"dis {insns[10]['location']} 5", f"dis -l {insns[14]['location']} 3",
                         f"dis {insns[20]['address']}", f"dis -r {insns[25]['address']} 4"]

# Globals that are not in coroner's table of well-known globals: only DWARF gives their types.
DRGN_GLOBALS = ["max_pfn", "panic_timeout", "loops_per_jiffy", "nr_cpu_ids"]


def coroner_with(d, commands, vmlinux=None, dump="vmcore.kdump-zlib", extra=(), check=True):
    with tempfile.NamedTemporaryFile("w", suffix=".cmds") as f:
        f.write("\n".join(commands) + "\n")
        f.flush()
        p = run([d / dump, vmlinux or d / "vmlinux", *extra, "-i", f.name], check=check)
    return p


def normalize(text):
    return "\n".join(line for line in text.splitlines()
                     if line.strip() and not line.startswith("WARNING: active task"))


def drgn_reference(d):
    return drgn_json(d, f"""
def members(name):
    out = []
    def walk(t, base):
        for m in t.members:
            if m.name is None:
                walk(m.type.unqualified(), base + m.bit_offset)
            else:
                out.append([m.name, (base + m.bit_offset) // 8])
    t = prog.type('struct ' + name)
    walk(t, 0)
    return {{'size': t.size, 'members': out}}
print(json.dumps({{
  'structs': {{s: members(s) for s in {STRUCTS!r}}},
  'globals': {{g: prog[g].value_() for g in {DRGN_GLOBALS!r}}},
  'cmdline': prog['saved_command_line'].string_().decode(),
  'release': prog['init_uts_ns'].name.release.string_().decode(),
}}))
""")


def coroner_members(d, struct):
    return dump_members(d, struct, extra=(d / "vmlinux",))


def p_value(d, expr):
    out = run([d / "vmcore.kdump-zlib", d / "vmlinux", "--json", "-c", "p " + expr]).stdout
    return json.loads(out)["value"]


class WithVmlinux(unittest.TestCase):
    def setUp(self):
        self.dirs = [d for d in require_dumps(self) if (d / "vmlinux").exists()]
        if not self.dirs:
            self.fail("no test dump has its vmlinux")

    def test_same_as_crash_where_crash_works(self):
        compared = 0
        for d in self.dirs:
            cmds = crash_cmds(d)
            theirs = crash_commands(d, cmds)
            if "struct task_struct {" not in theirs:
                continue  # crash 8.0.2 cannot open this dump (6.12 and later)
            with self.subTest(kernel=d.name):
                p = coroner_with(d, cmds)
                self.assertEqual(p.stderr, "")
                ours = normalize(p.stdout)
                theirs = normalize(theirs)
                if ours != theirs:  # a readable first difference
                    for i, (a, b) in enumerate(zip(ours.splitlines(), theirs.splitlines())):
                        self.assertEqual(a, b, f"line {i + 1}")
                self.assertEqual(ours, theirs)
            compared += 1
        self.assertGreater(compared, 0, "crash opened no test dump (it opens 5.10 and 6.1)")

    def test_types_and_globals_match_drgn_on_every_kernel(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                ref = drgn_reference(d)
                for s in STRUCTS:
                    self.assertEqual(coroner_members(d, s), ref["structs"][s], s)
                for g in DRGN_GLOBALS:
                    self.assertEqual(int(p_value(d, g)), ref["globals"][g], g)
                cmdline = p_value(d, "saved_command_line")
                self.assertTrue(cmdline.endswith(json.dumps(ref["cmdline"])), cmdline)
                release = p_value(d, "init_uts_ns.name.release")
                self.assertEqual(release.strip('"').split("\\000")[0], ref["release"])

    def test_sym_shows_source_lines_and_whatis_any_global(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                out = coroner_with(d, ["sym schedule", "sym jiffies", "whatis jiffies",
                                       "whatis schedule", "dis -l schedule 1"]).stdout
                self.assertRegex(out, r"\(T\) schedule \S+/kernel/sched/core\.c: \d+\n")
                self.assertRegex(out, r"\([DT]\) jiffies\n")  # data: no line
                self.assertIn("volatile unsigned long jiffies;", out)
                self.assertIn("void schedule(void);", out)
                self.assertRegex(out, r"kernel/sched/core\.c: \d+\n0x[0-9a-f]+ <schedule>:\t")

    def test_wrong_vmlinux_is_refused_with_both_banners(self):
        by_name = {d.name: d for d in self.dirs}
        if "6.1-4level" not in by_name or "5.10-4level" not in by_name:
            self.skipTest("needs the 6.1 and 5.10 dumps")
        d, other = by_name["6.1-4level"], by_name["5.10-4level"]
        p = coroner_with(d, ["sym jiffies", "struct list_head"], vmlinux=other / "vmlinux")
        self.assertIn("does not match the dump; not used", p.stderr)
        self.assertRegex(p.stderr, r"dump: +Linux version 6\.1\.")
        self.assertRegex(p.stderr, r"vmlinux: +Linux version 5\.10\.")
        self.assertIn("continuing with the dump's own kallsyms and BTF", p.stderr)
        # The session still works, from kallsyms and BTF.
        slide = int(json.loads(run(["info", "--json", d / "vmcore.kdump-zlib"]).stdout)
                    ["vmcoreinfo"]["kernel_offset"], 16)
        smap = {l.split()[2]: int(l.split()[0], 16) for l in (d / "System.map").read_text().splitlines()}
        self.assertIn(f"{smap['jiffies'] + slide:016x} (D) jiffies", p.stdout)
        self.assertIn("struct list_head *next;", p.stdout)

    def test_vmlinux_without_dwarf_still_gives_symbols(self):
        d = next((x for x in self.dirs if x.name == "6.1-4level"), self.dirs[0])
        with tempfile.TemporaryDirectory() as tmp:
            stripped = Path(tmp) / "vmlinux-nodebug"
            subprocess.run(["objcopy", "--strip-debug", str(d / "vmlinux"), str(stripped)], check=True)
            p = coroner_with(d, ["sym schedule", "struct list_head", "dis -l schedule 1", "p jiffies"],
                             vmlinux=stripped)
        self.assertIn("has no DWARF debug info (stripped?): symbols from its symtab", p.stderr)
        self.assertRegex(p.stdout, r"[0-9a-f]{16} \(T\) schedule\n")  # no line without DWARF
        self.assertIn("struct list_head *next;", p.stdout)
        self.assertIn("line numbers are not available: they need a vmlinux with DWARF", p.stdout)
        self.assertRegex(p.stdout, r"<schedule>:\t")
        self.assertRegex(p.stdout, r"jiffies = \$1 = \d+")

    def test_vmlinux_found_in_debuginfo_dir(self):
        d = self.dirs[0]
        info = json.loads(run(["info", "--json", d / "vmcore.kdump-zlib"]).stdout)
        release = info["vmcoreinfo"]["osrelease"]
        with tempfile.TemporaryDirectory() as tmp:
            os.symlink(d / "vmlinux", Path(tmp) / f"vmlinux-{release}")
            p = run([d / "vmcore.kdump-zlib", "--debuginfo-dir", tmp, "-c", "sym schedule"])
        self.assertIn(f"found {tmp}/vmlinux-{release}", p.stderr)
        self.assertRegex(p.stdout, r"\(T\) schedule \S+core\.c: \d+")

    def test_first_answers_are_quick(self):
        # The bench (bench/vmlinux-bench.sh) measures against crash and drgn; this only guards
        # against a regression to whole-DWARF loading (about 8 s in crash).
        d = self.dirs[-1]
        for cmd in ["sym jiffies", "struct task_struct"]:
            start = time.monotonic()
            run([d / "vmcore.kdump-zlib", d / "vmlinux", "-c", cmd])
            self.assertLess(time.monotonic() - start, 3.0, cmd)


class DisWithoutVmlinux(unittest.TestCase):
    def test_dis_from_kallsyms_matches_with_vmlinux(self):
        # The text comes from the dump either way; only line numbers need DWARF.
        for d in require_dumps(self):
            with self.subTest(kernel=d.name):
                alone = run([d / "vmcore.kdump-zlib", "--no-vmlinux", "-c", "dis schedule 20"]).stdout
                withv = coroner_with(d, ["dis schedule 20"]).stdout
                strip = lambda s: re.sub(r"\.(isra|part|llvm)\.\d+", "", s)
                self.assertEqual(strip(alone), strip(withv))
                self.assertEqual(len(alone.splitlines()), 20)


if __name__ == "__main__":
    unittest.main()
