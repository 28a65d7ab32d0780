"""struct / union / "*" at an address, with no vmlinux (types from the dump's BTF): crash's
layouts (whole structures, chosen members, embedded members and array elements, -o with
addresses, -x, counts, -l, per-CPU copies) against crash 8.0.2 with the DWARF vmlinux where crash
opens the dump, and against values known another way (ps, the guest's own view, the layout's
offsets) on every kernel."""
import json
import re
import unittest

from common import coroner_commands, crash_commands, extra_pids, require_dumps, run


def dump(d):
    """The form to read: makedumpfile 1.7.2's -d 31 drops slab pages (task_structs) on 6.10+
    kernels, so those dumps are read from the -d 23 file the dump script also keeps."""
    d23 = d / "vmcore.kdump-zlib-d23"
    return d23 if d23.exists() else d / "vmcore.kdump-zlib"


def ps_tasks(d):
    """PID -> (task address, comm) from coroner's ps --json."""
    rows = json.loads(run([dump(d), "--json", "-c", "ps"]).stdout)["tasks"]
    return {r["pid"]: (int(r["task"], 16), r["comm"]) for r in rows if r["pid"] > 0}


def struct_json(d, cmd):
    return json.loads(run([dump(d), "--json", "-c", cmd]).stdout)


def size_of(d, name):
    return int(re.search(r"^SIZE: (\d+)$", run([dump(d), "-c", f"struct {name}"]).stdout,
                         re.M).group(1))


def offset_of(d, name, member):
    layout = run([dump(d), "-c", f"struct -o {name}"]).stdout
    return int(re.search(rf"\[(\d+)\] [^\n]*[ *]{member}(\[\d+\])?;", layout).group(1))


class StructAtAddress(unittest.TestCase):
    def setUp(self):
        self.dirs = require_dumps(self)

    def commands(self, d):
        tasks = ps_tasks(d)
        pid = extra_pids(d)["helper"]
        task, _ = tasks[pid]
        mm = int(re.search(r"mm = (0x[0-9a-f]+)",
                           run([dump(d), "-c", f"struct task_struct.mm {task:x}"]).stdout).group(1), 16)
        return [
            f"struct task_struct.pid,comm,tgid {task:x}",
            f"task_struct.pid,comm {task:x}",
            f"struct task_struct.se.on_rq,se.load {task:x}",
            f"struct task_struct.tasks {task:x}",
            f"struct -x task_struct.pid,prio {task:x}",
            f"struct mm_struct.pgd,map_count {mm:x}",
            f"*list_head {task + offset_of(d, 'task_struct', 'tasks'):x}",
            f"struct list_head {task + offset_of(d, 'task_struct', 'tasks'):x} 2",
            f"struct uts_namespace init_uts_ns",
            f"struct uts_namespace.name init_uts_ns",
            f"struct task_struct.comm init_task",
            f"struct -o mm_struct {mm:x}",
            f"struct -l task_struct.tasks task_struct.pid {task + offset_of(d, 'task_struct', 'tasks'):x}",
            "struct task_struct.pid,comm",
            "struct mm_struct.pgd",
            "struct -x list_head",
            "struct -o list_head",  # the [offset] column: the size's digits plus four, as crash
            "struct -o -x list_head",
            f"struct task_struct {task:x}",
        ]

    def test_same_as_crash_where_crash_works(self):
        compared = 0
        for d in self.dirs:
            if not d.name.startswith(("5.10", "6.1-4level")):
                continue  # crash 8.0.2 cannot open 6.12 and later; 5-level and nokaslr are 6.1 again
            cmds = self.commands(d)
            theirs = crash_commands(d, cmds)
            if "struct uts_namespace {" not in theirs:
                continue
            ours = coroner_commands(d, cmds)
            with self.subTest(kernel=d.name):
                theirs = [l for l in theirs.splitlines() if not l.startswith("WARNING: active task")]
                if theirs and not theirs[0]:
                    theirs = theirs[1:]  # the blank line after crash's warning
                self.assertEqual(ours.splitlines(), theirs)
            compared += 1
        self.assertGreater(compared, 0, "crash opened no test dump")

    def test_members_equal_what_ps_and_the_guest_say(self):
        for d in self.dirs:
            tasks = ps_tasks(d)
            osrelease = run([dump(d), "-c", "sys"]).stdout
            release = re.search(r"RELEASE: (\S+)", osrelease).group(1)
            with self.subTest(kernel=d.name):
                for pid in (1, extra_pids(d)["helper"]):
                    task, comm = tasks[pid]
                    out = run([dump(d), "-c", f"struct task_struct.pid,comm {task:x}"]).stdout
                    self.assertIn(f"  pid = {pid},\n", out)
                    self.assertIn(f'  comm = "{comm}', out)
                    # thread.sp: an embedded structure's member; crash 8.0.2 cannot show this one
                    # ("invalid data structure member reference"): thread is task_struct's last member.
                    sp = run([dump(d), "-c", f"struct task_struct.thread.sp {task:x}"]).stdout
                    thread = run([dump(d), "-c", f"struct task_struct.thread {task:x}"]).stdout
                    self.assertRegex(sp, r"^  thread\.sp = \d+,?\n$")
                    self.assertIn(f"    sp = {sp.split()[-1].rstrip(',')},", thread)
                    hexed = run([dump(d), "-c", f"struct -x task_struct.pid {task:x}"]).stdout
                    self.assertIn(f"  pid = {pid:#x},", hexed)
                j = struct_json(d, f"struct task_struct.pid,comm {tasks[1][0]:x}")
                self.assertEqual(j["instances"][0]["members"]["pid"], "1")
                self.assertEqual(j["instances"][0]["address"], f"{tasks[1][0]:#x}")
                # A symbol is an address; the short "*" and bare forms are the same command.
                uts = run([dump(d), "-c", "struct uts_namespace.name init_uts_ns"]).stdout
                self.assertIn(f'release = "{release}', uts)
                self.assertEqual(run([dump(d), "-c", "*uts_namespace.name init_uts_ns"]).stdout, uts)
                self.assertEqual(run([dump(d), "-c", "uts_namespace.name init_uts_ns"]).stdout, uts)
                self.assertIn('comm = "swapper/0',
                              run([dump(d), "-c", "struct task_struct.comm init_task"]).stdout)

    def test_counts_offsets_and_addresses_follow_the_layout(self):
        for d in self.dirs:
            tasks = ps_tasks(d)
            task = tasks[1][0]
            with self.subTest(kernel=d.name):
                # COUNT structures one after another, a negative count the ones before.
                size = size_of(d, "list_head")
                j = struct_json(d, f"struct list_head {task:x} 3")
                self.assertEqual([int(i["address"], 16) for i in j["instances"]],
                                 [task, task + size, task + 2 * size])
                j = struct_json(d, f"struct list_head -c -3 {task:x}")
                self.assertEqual([int(i["address"], 16) for i in j["instances"]],
                                 [task - 2 * size, task - size, task])
                # -l: the address of an embedded list_head names its task_struct.
                tasks_off = offset_of(d, "task_struct", "tasks")
                out = run([dump(d), "-c",
                           f"struct -l task_struct.tasks task_struct.pid {task + tasks_off:x}"]).stdout
                self.assertEqual(out, "  pid = 1,\n")
                # -o with an address: every member at address + its offset.
                plain = run([dump(d), "-c", "struct -o task_struct"]).stdout
                placed = run([dump(d), "-c", f"struct -o task_struct {task:x}"]).stdout
                offs = [int(m) for m in re.findall(r"^\s+\[(\d+)\] ", plain, re.M)]
                addrs = [int(m, 16) for m in re.findall(r"^\s+\[([0-9a-f]+)\] ", placed, re.M)]
                self.assertGreater(len(offs), 50)
                self.assertEqual(addrs, [task + o for o in offs])
                # Per-CPU copies: runqueues on each CPU holds that CPU's number.
                out = run([dump(d), "-c", "struct rq.cpu runqueues:a"]).stdout
                self.assertEqual(re.findall(r"cpu = (\d+)", out), ["0", "1"])
                self.assertEqual(len(re.findall(r"^\[\d\]: [0-9a-f]{16}$", out, re.M)), 2)

    def test_bad_references_say_what(self):
        d = self.dirs[0]
        task = ps_tasks(d)[1][0]
        cases = [
            (f"struct task_struct.no_such_member {task:x}", "invalid data structure reference: task_struct.no_such_member"),
            (f"struct no_such_struct {task:x}", "invalid data structure reference: no_such_struct"),
            (f"union task_struct {task:x}", "data type mismatch"),
            ("struct task_struct 0x10", "0x10"),
            (f"struct task_struct.comm[99] {task:x}", "past the array's 16 elements"),
            (f"struct list_head {task:x} 0", "invalid count"),
        ]
        for cmd, message in cases:
            with self.subTest(cmd=cmd):
                p = run([dump(d), "-c", cmd], check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(message, p.stderr)
                self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    unittest.main()
