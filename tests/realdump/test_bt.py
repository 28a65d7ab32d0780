"""`bt` from the dump alone (ORC tables read from kernel memory), against the kernel's own Call
Trace in the console log of each crash, /proc/PID/stack of the helper saved by the guest, and
crash 8.0.2 on 5.10.

crash 8.0.2 cannot open the 6.12 and 7.2 dumps at all, and drgn 0.0.22 cannot unwind 6.12 (ORC
type numbering of 6.4+); 7.2 also renumbers the ORC registers (SP 3, PREV_SP 8), which coroner
detects from the table. These tests cover every kernel.
"""
import json
import re
import subprocess
import unittest

from common import crash_commands, extra_pids, require_dumps, run

FORM = "vmcore.elf"  # keeps slab pages (task structs) on every kernel
PANIC_FNS = ("panic", "vpanic")
STACK_BOTTOMS = {"entry_SYSCALL_64_after_hwframe", "ret_from_fork_asm", "ret_from_fork",
                 "secondary_startup_64_no_verify", "secondary_startup_64", "common_startup_64",
                 "x86_64_start_kernel", "start_secondary"}


def kernel_call_trace(d):
    """The reliable (non-'?') function names of the first Call Trace in the console log."""
    lines = (d / "console.log").read_text(errors="replace").splitlines()
    start = next(i for i, l in enumerate(lines) if l.rstrip().endswith("Call Trace:"))
    names = []
    for l in lines[start + 1:]:
        if not re.match(r"^\[\s*[\d.]+\]", l):
            continue  # a user-space line written into the middle of the trace (the guest's init)
        body = re.sub(r"^\[\s*[\d.]+\]\s*", "", l).strip()
        if body in ("<TASK>", "</TASK>", "<IRQ>", "</IRQ>"):
            continue
        m = re.match(r"^(\?\s+)?([\w.]+)\+0x[0-9a-f]+/0x[0-9a-f]+", body)
        if not m:
            break
        if not m.group(1):
            names.append(m.group(2))
    return names


def from_panic(names):
    i = next(i for i, n in enumerate(names) if n in PANIC_FNS)
    return names[i:]


def bt_json(d, cmd):
    return json.loads(run([d / FORM, "--json", "-c", cmd]).stdout)["tasks"]


class BtAgainstKernel(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def test_panic_task_equals_console_call_trace(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                console = (d / "console.log").read_text(errors="replace")
                m = re.search(r"CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (\S+)", console)
                (task,) = bt_json(d, "bt")
                self.assertEqual((task["cpu"], task["pid"], task["comm"]),
                                 (int(m.group(1)), int(m.group(2)), m.group(3)))
                ours = [f["symbol"] for f in task["frames"]]
                self.assertEqual(ours[0], "__crash_kexec")  # where crash_setup_regs saved them
                self.assertEqual(from_panic(ours), from_panic(kernel_call_trace(d)))
                self.assertTrue(all(f["reliable"] for f in task["frames"]))
                self.assertIsNone(task["stopped"])
                # The user-mode registers at the bottom are the console's "RIP: 0033:...".
                rip = re.search(r"RIP: 0033:0x([0-9a-f]+)", console).group(1)
                self.assertEqual(int(task["user_regs"]["rip"], 16), int(rip, 16))
                self.assertEqual(int(task["user_regs"]["orig_rax"], 16), 1)  # write(2)

    def test_bt_a_covers_every_cpu(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                tasks = bt_json(d, "bt -a")
                self.assertEqual(sorted(t["cpu"] for t in tasks), [0, 1])
                for t in tasks:
                    self.assertIsNone(t["stopped"], t)
                    self.assertIn(t["frames"][-1]["symbol"], STACK_BOTTOMS)
                    self.assertEqual(t["start"], f"PRSTATUS registers of CPU {t['cpu']}")
                text = run([d / FORM, "-c", "bt -a"]).stdout
                self.assertEqual(text.count("PID: "), 2)

    def test_every_task_unwinds_to_its_bottom(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                ps = json.loads(run([d / FORM, "--json", "-c", "ps"]).stdout)["tasks"]
                cmds = "; ".join(f"bt {t['task']}" for t in ps)
                out = run([d / FORM, "--json", "-c", cmds]).stdout
                tasks = [t for doc in re.split(r"(?m)^(?=\{)", out) if doc.strip()
                         for t in json.loads(doc)["tasks"]]
                self.assertEqual(len(tasks), len(ps))
                for t in tasks:
                    self.assertIsNone(t["stopped"], (t["pid"], t["comm"]))
                    self.assertIsNone(t["error"], (t["pid"], t["comm"]))
                    self.assertIn(t["frames"][-1]["symbol"], STACK_BOTTOMS, (t["pid"], t["comm"]))

    def test_blocked_helper_equals_proc_stack(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                extra = extra_pids(d)
                (task,) = bt_json(d, f"bt {extra['helper']}")
                ours = [f["symbol"] for f in task["frames"]]
                # /proc/PID/stack starts below schedule(); the unwinder starts in __schedule.
                proc = re.findall(r"\] ([\w.]+)\+", (d / "guest-view/helper-stack.txt").read_text())
                self.assertEqual(ours[:2], ["__schedule", "schedule"])
                self.assertEqual(ours[2:], proc)
                self.assertEqual(int(task["user_regs"]["orig_rax"], 16), 34)  # pause(2)


def addr2line(vmlinux, addrs):
    """addr2line's "file:line" for each link-time address (binutils, no inlining)."""
    p = subprocess.run(["addr2line", "-e", str(vmlinux), *[f"{a:#x}" for a in addrs]],
                       capture_output=True, text=True, check=True)
    return p.stdout.splitlines()


def kaslr_offset(d):
    """Runtime minus link-time address of `panic` (the dump's KASLR slide)."""
    ours = int(run([d / FORM, "-c", "sym panic"]).stdout.split()[0], 16)
    nm = subprocess.run(["nm", str(d / "vmlinux")], capture_output=True, text=True, check=True).stdout
    linked = next(int(l.split()[0], 16) for l in nm.splitlines() if l.endswith(" T panic"))
    return ours - linked


class BtLines(unittest.TestCase):
    """bt -l: each frame's file:line is the line table's for the frame's address: the return
    address minus one (the call) for a caller, the address itself where execution was (the
    exception RIP, the registers the unwind started from), as addr2line gives them on the
    vmlinux (or, where two rows share an address, the one gdb picks, as crash's dis -l shows).
    crash 8.0.2 prints the return address's own line instead, which is the statement
    after the call (on 5.10: `panic at ...` shows asm/smp.h: 62 where panic.c calls
    __crash_kexec); the test shows that too."""

    def setUp(self):
        self.dirs = require_dumps(self)

    def test_lines_equal_addr2line(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                off = kaslr_offset(d)
                helper = extra_pids(d)["helper"]
                frames = []
                for cmd in ("bt -a -l", f"bt -l {helper}"):
                    out = json.loads(run([d / FORM, d / "vmlinux", "--json", "-c", cmd]).stdout)
                    frames += [f for t in out["tasks"] for f in t["frames"]]
                frames = [f for f in frames if int(f["ip"], 16) < 0xffffffffc0000000]
                self.assertGreater(len(frames), 15)
                want = addr2line(d / "vmlinux", [int(f["ip"], 16) - off - (0 if f["exact_ip"] else 1)
                                                 for f in frames])
                got = [f["line"].replace(": ", ":") if f["line"] else "??:0" for f in frames]
                want = [w.split(" (discriminator")[0] for w in want]
                # Where two line-table rows share one address, coroner follows gdb (and so
                # crash's dis -l) and addr2line takes the other; crash 5.10 confirms those.
                ties = [(f, g) for f, g, w in zip(frames, got, want) if g != w]
                if d.name.startswith("5.10"):
                    self.assertLessEqual(len(ties), 2)
                    for f, g in ties:
                        at = int(f["ip"], 16) - (0 if f["exact_ip"] else 1)
                        theirs = crash_commands(d, [f"dis -l {at:#x} 1"]).splitlines()[0]
                        self.assertEqual(theirs.replace(": ", ":"), g)
                else:
                    self.assertEqual(got, want)
                self.assertNotIn("??:0", got)

    def test_crash_prints_the_line_after_the_call(self):
        for d in [d for d in self.dirs if d.name.startswith("5.10")]:
            off = kaslr_offset(d)
            theirs = crash_commands(d, ["bt -l"])
            ours = run([d / FORM, d / "vmlinux", "-c", "bt -l"]).stdout
            pat = re.compile(r"^\s*#\d+ \[[0-9a-f]+\] panic at ([0-9a-f]+)\n    (\S+: \d+)$", re.M)
            (ip, their_line), = pat.findall(theirs)
            (ip2, our_line), = pat.findall(ours)
            self.assertEqual(ip, ip2)
            ret = int(ip, 16) - off
            self.assertEqual(their_line.replace(": ", ":"), addr2line(d / "vmlinux", [ret])[0])
            self.assertEqual(our_line.replace(": ", ":"), addr2line(d / "vmlinux", [ret - 1])[0])
            self.assertTrue(our_line.endswith(tuple(f"kernel/panic.c: {n}" for n in range(1, 10000))))
            self.assertNotEqual(their_line, our_line)


class BtAgainstCrash(unittest.TestCase):
    """crash 8.0.2 on 5.10: a blocked task's backtrace is the same text (one symbol alias aside:
    crash names the pause entry __x64_sys_pause from the vmlinux, the kernel's own kallsyms and
    /proc/PID/stack name the same address __do_sys_pause). For the panic task crash starts with
    frames it found by scanning (machine_kexec, a stale __crash_kexec); from panic on, every frame
    is the same address at the same stack slot."""

    def setUp(self):
        self.dirs = [d for d in require_dumps(self) if d.name.startswith("5.10")]

    def test_same_frames_as_crash(self):
        for d in self.dirs:
            extra = extra_pids(d)
            theirs = crash_commands(d, ["bt", f"bt {extra['helper']}"])
            ours_panic = run([d / "vmcore.kdump-zlib", "-c", "bt"]).stdout
            ours_helper = run([d / "vmcore.kdump-zlib", "-c", f"bt {extra['helper']}"]).stdout
            frame = re.compile(r"^\s*#\d+ (\[[0-9a-f]+\] [\w.]+ at [0-9a-f]+)$", re.M)
            their_frames = frame.findall(theirs)
            panic_at = next(i for i, f in enumerate(their_frames) if " panic at " in f)
            helper_at = next(i for i, f in enumerate(their_frames) if " __schedule at " in f)
            ours = frame.findall(ours_panic)
            self.assertEqual(ours[1:], their_frames[panic_at:helper_at])
            alias = lambda fs: [f.replace("__x64_sys_pause", "__do_sys_pause") for f in fs]
            self.assertEqual(frame.findall(ours_helper), alias(their_frames[helper_at:]))
            # The user-mode register blocks are identical.
            regs = re.compile(r"^    (?:RIP|RAX|RDX|RBP|R10|R13|ORIG_RAX): .*$", re.M)
            self.assertEqual(regs.findall(ours_panic + ours_helper), regs.findall(theirs))

    def test_frame_data_and_text_scan_equal_crash(self):
        """bt -f (each frame's stack words) and bt -t (every text address on the stack) of the
        blocked helper are crash's text, the pause-entry alias aside."""
        for d in self.dirs:
            extra = extra_pids(d)
            h = extra["helper"]
            theirs = crash_commands(d, [f"bt -f {h}", f"bt -t {h}"])
            ours = run([d / "vmcore.kdump-zlib", "-c", f"bt -f {h}; bt -t {h}"]).stdout
            self.assertGreater(ours.count("\n"), 20)
            self.assertEqual(ours.replace("__do_sys_pause", "__x64_sys_pause"), theirs)


if __name__ == "__main__":
    unittest.main()
