"""`mod -s NAME FILE` / `mod -S DIR`: a loaded module's debug .ko (DWARF) used in the session.

The debug .ko comes from the test kernel's own -dbg package (the version PACKAGES records,
through the apt lists tests/dumps/make-test-dumps.sh used: Debian 12's own for 6.1 and 6.12,
its private bullseye/trixie/sid lists for the others); only the modules needed are extracted,
once, into CACHE/_debug-modules/RELEASE/ (about 280 MB downloaded and unpacked per kernel the
first time).

- crash 8.0.2 (5.10 and 6.1, where it opens the dumps): the same text for mod -s, mod -S DIR,
  sym, struct, struct -o, whatis, p of module globals and dis -l in module text.
- every kernel: the lines of module functions (text and .text.unlikely) = addr2line on the
  .ko at the symbol's section offset, at the addresses the guest's /proc/kallsyms showed; the
  module's struct virtio_blk = pahole on the .ko; without a vmlinux the lines still come.
- a wrong file is refused: another module's .ko, a .ko whose build ID differs, the release .ko
  with no DWARF.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from common import CACHE, crash_commands, require_dumps, run

MODULE = "virtio_blk"
# Module files extracted per kernel (qemu_fw_cfg, a module on every test kernel: a wrong file
# for virtio_blk).
WANTED = ("virtio_blk", "qemu_fw_cfg")


def packages(d):
    out = {}
    for line in (d / "PACKAGES").read_text().splitlines():
        k, _, v = line.partition("=")
        out.setdefault(k, []).append(v)
    return out


def release(d):
    return packages(d)["release"][0]


def apt_options(apt_set, work):
    opts = ["-o", "APT::Sandbox::User=root", "-o", f"Dir::Cache={work}"]
    if apt_set != "system":
        d = CACHE / "_apt" / apt_set
        opts += ["-o", f"Dir::Etc::sourcelist={d}/sources.list", "-o", "Dir::Etc::sourceparts=-",
                 "-o", f"Dir::State::Lists={d}/lists"]
    return opts


def debug_modules(d):
    """The debug .ko of each WANTED module of kernel dir d's kernel: {name: Path}."""
    rel = release(d)
    dest = CACHE / "_debug-modules" / rel
    if all((dest / f"{m}.ko").exists() for m in WANTED):
        return {m: dest / f"{m}.ko" for m in WANTED}
    p = packages(d)
    pkg, version = next(v.split()[:2] for v in p["package"] if v.startswith(f"linux-image-{rel}-dbg "))
    work = Path(tempfile.mkdtemp(prefix="coroner-dbg-"))
    try:
        opts = apt_options(p["apt_lists"][0], work)
        (work / "archives/partial").mkdir(parents=True)
        get = subprocess.run(["apt-get", *opts, "download", "-qq", f"{pkg}={version}"], cwd=work,
                             capture_output=True, text=True, timeout=900)
        if get.returncode != 0:  # lists gone stale since the dumps were made
            subprocess.run(["apt-get", *opts, "update", "-qq"], capture_output=True, timeout=900)
            get = subprocess.run(["apt-get", *opts, "download", "-qq", f"{pkg}={version}"], cwd=work,
                                 capture_output=True, text=True, timeout=900)
        if get.returncode != 0:
            raise AssertionError(f"apt-get download {pkg}={version}: {get.stderr}")
        deb = next(work.glob("*.deb"))
        md5 = subprocess.run(f"dpkg-deb --ctrl-tarfile {deb} | tar -xO ./md5sums", shell=True,
                             capture_output=True, text=True, check=True).stdout
        members = [f"./{l.split()[1]}" for l in md5.splitlines()
                   if any(l.endswith(f"/{m}.ko") for m in WANTED) and "/kernel/" in l]
        tree = work / "tree"
        tree.mkdir()
        subprocess.run(f"dpkg-deb --fsys-tarfile {deb} | tar -x -C {tree} --occurrence=1 " + " ".join(members),
                       shell=True, check=False, capture_output=True)
        dest.mkdir(parents=True, exist_ok=True)
        for f in tree.rglob("*.ko"):
            tmp = dest / (f.name + ".tmp")
            shutil.copyfile(f, tmp)
            os.replace(tmp, dest / f.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    missing = [m for m in WANTED if not (dest / f"{m}.ko").exists()]
    if missing:
        raise AssertionError(f"{pkg}={version} has no {missing}")
    return {m: dest / f"{m}.ko" for m in WANTED}


def guest_kallsyms(d, module):
    """name -> address of the module's symbols in the guest's /proc/kallsyms."""
    out = {}
    for line in (d / "guest-view/kallsyms.txt").read_text().splitlines():
        if line.endswith(f"\t[{module}]"):
            addr, _, name = line.split("\t")[0].split(" ", 2)
            out[name] = int(addr, 16)
    return out


def ko_symbols(ko):
    """name -> (section name, offset) from the .ko's own symtab."""
    sections = {}
    for m in re.finditer(r"^\s*\[\s*(\d+)\]\s+(\S+)", subprocess.run(["readelf", "-SW", str(ko)], capture_output=True,
                                                                     text=True, check=True).stdout, re.M):
        sections[m.group(1)] = m.group(2)
    out = {}
    for line in subprocess.run(["readelf", "-sW", str(ko)], capture_output=True, text=True, check=True).stdout.splitlines():
        f = line.split()
        if len(f) == 8 and f[6].isdigit() and f[3] in ("FUNC", "OBJECT"):
            out[f[7]] = (sections[f[6]], int(f[1], 16))
    return out


def addr2line(ko, section, offset):
    out = subprocess.run(["addr2line", "-e", str(ko), "-j", section, hex(offset)], capture_output=True, text=True,
                         check=True).stdout.strip()
    file, _, line = out.partition(":")
    return Path(file).name, int(line.split()[0])


def pahole_members(ko, struct):
    out = subprocess.run(["pahole", "-C", struct, str(ko)], capture_output=True, text=True, check=True).stdout
    members = re.findall(r"^\t[^\t/].*?(\w+)(?:\[\d+\])*(?: __attribute__\(\(.*\)\))?;\s+/\*\s+(\d+)\s+\d+\s+\*/$",
                         out, re.M)
    size = int(re.search(r"/\* size: (\d+),", out).group(1))
    return [(n, int(o)) for n, o in members], size


def our_members(out):
    members = re.findall(r"^ {0,4}\s?\[(\d+)\] .*?(\w+)(?:\[\d+\])*;$", out, re.M)
    return [(n, int(o)) for o, n in members], int(re.search(r"^SIZE: (\d+)$", out, re.M).group(1))


def coroner_file(d, commands, vmlinux=True, check=True):
    with tempfile.NamedTemporaryFile("w", suffix=".cmds") as f:
        f.write("\n".join(commands) + "\n")
        f.flush()
        # The ELF copy: 6.12's -d 31 kdump lacks slab pages (the module BTF of a no-vmlinux session).
        args = [d / "vmcore.elf", *([d / "vmlinux"] if vmlinux else []), "-i", f.name]
        p = run(args, check=check)
    return p.stdout + ("" if check else p.stderr)


def crash_text(d, commands):
    out = crash_commands(d, commands).splitlines()
    # crash's own startup warnings (6.1: "active task ... not found in PID hash") and blank line
    while out and (out[0].startswith("WARNING:") or not out[0].strip()):
        out.pop(0)
    return out


class ModuleDebuginfo(unittest.TestCase):
    def setUp(self):
        self.dirs = [d for d in require_dumps(self) if (d / "vmlinux").exists()]

    def test_equals_crash_on_5_10_and_6_1(self):
        compared = 0
        for d in self.dirs:
            if not (d.name.startswith("5.10") or d.name == "6.1-4level"):
                continue
            with self.subTest(kernel=d.name):
                ko = debug_modules(d)[MODULE]
                only = Path(tempfile.mkdtemp(prefix="coroner-mod-S-"))
                try:
                    shutil.copyfile(ko, only / f"{MODULE}.ko")
                    cmds = [f"mod -s {MODULE} {ko}", "sym virtblk_done", "sym virtblk_probe", "struct virtio_blk",
                            "struct -o virtio_blk_vq", "whatis virtblk_queue_depth", "p virtblk_queue_depth",
                            "p virtblk_wq", "whatis virtblk_done", "dis -l virtblk_done 24", "mod"]
                    self.assertEqual(coroner_file(d, cmds).splitlines(), crash_text(d, cmds))
                    # mod -S DIR: a row for the module found, crash's line for each other one.
                    cmds = [f"mod -S {only}", "sym virtblk_done"]
                    self.assertEqual(coroner_file(d, cmds).splitlines(), crash_text(d, cmds))
                finally:
                    shutil.rmtree(only, ignore_errors=True)
                compared += 1
        self.assertGreater(compared, 0)

    def test_lines_and_types_against_the_ko(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                ko = debug_modules(d)[MODULE]
                guest = guest_kallsyms(d, MODULE)
                own = ko_symbols(ko)
                funcs = [n for n in ("virtblk_done", "virtblk_probe", "virtblk_probe.cold", "virtblk_remove")
                         if n in guest and n in own]
                self.assertIn("virtblk_probe", funcs)
                cmds = [f"mod -s {MODULE} {ko}"] + [f"sym {n}" for n in funcs]
                for vmlinux in (True, False):
                    # Without a vmlinux the types are BTF's (5.10 has no module BTF).
                    types = vmlinux or not d.name.startswith("5.10")
                    out = coroner_file(d, cmds + (["struct -o virtio_blk"] if types else []), vmlinux=vmlinux)
                    for n in funcs:
                        m = re.search(rf"^([0-9a-f]+) \(\w\) {re.escape(n)} \[{MODULE}\] (\S+): (\d+)$", out, re.M)
                        self.assertTrue(m, f"{n}: {out}")
                        self.assertEqual(int(m.group(1), 16), guest[n])
                        self.assertEqual((Path(m.group(2)).name, int(m.group(3))), addr2line(ko, *own[n]), n)
                    if types:
                        self.assertEqual(our_members(out[out.index("struct virtio_blk {"):]),
                                         pahole_members(ko, "virtio_blk"))
                # The module's globals: their DWARF types, read at the module's addresses.
                out = coroner_file(d, [f"mod -s {MODULE} {ko}", "whatis virtblk_queue_depth", "p virtblk_queue_depth",
                                       "p virtblk_wq", f"rd -32 {guest['virtblk_queue_depth']:x} 1"])
                self.assertIn("unsigned int virtblk_queue_depth;", out)
                raw = int(re.search(r"^[0-9a-f]+:\s+([0-9a-f]{8})", out, re.M).group(1), 16)
                self.assertIn(f"virtblk_queue_depth = $1 = {raw}\n", out)  # 256 on 5.10, 0 later
                self.assertRegex(out, r"virtblk_wq = \$2 = \(struct workqueue_struct \*\) 0xff[0-9a-f]{14}\n")

    def test_wrong_files_are_refused(self):
        for d in self.dirs:
            with self.subTest(kernel=d.name):
                kos = debug_modules(d)
                p = coroner_file(d, [f"mod -s {MODULE} {kos['qemu_fw_cfg']}"], check=False)
                self.assertIn(f"{kos['qemu_fw_cfg']} is module qemu_fw_cfg, not {MODULE}", p)
                # The same module with another build ID (one byte of the note changed).
                # (readelf -n exits 1 on 7.2's notes it does not know, after printing the rest.)
                build_id = re.search(r"Build ID: ([0-9a-f]+)", subprocess.run(
                    ["readelf", "-n", str(kos[MODULE])], capture_output=True, text=True).stdout).group(1)
                with tempfile.TemporaryDirectory() as tmp:
                    other = Path(tmp) / f"{MODULE}.ko"
                    data = bytearray(kos[MODULE].read_bytes())
                    at = data.find(bytes.fromhex(build_id))
                    self.assertGreater(at, 0)
                    data[at + len(build_id) // 2 - 1] ^= 0xff
                    other.write_bytes(data)
                    p = coroner_file(d, [f"mod -s {MODULE} {other}", "sym virtblk_done"], check=False)
                    self.assertIn(f"{other} does not match the loaded module {MODULE}: build ID ", p)
                    self.assertRegex(p, rf"\(t\) virtblk_done \[{MODULE}\]\n")  # and no line: nothing was loaded
                    p = coroner_file(d, [f"mod -s {MODULE} {other}", "p virtblk_wq"], check=False)
                    self.assertIn(f"the type of virtblk_wq (module {MODULE}) needs the module's debug file", p)
                # No FILE: found where `coroner debuginfo fetch` puts it (DIR/RELEASE/modules).
                with tempfile.TemporaryDirectory() as tmp:
                    mods = Path(tmp) / release(d) / "modules"
                    mods.mkdir(parents=True)
                    shutil.copyfile(kos[MODULE], mods / f"{MODULE}.ko")
                    out = run([d / "vmcore.elf", d / "vmlinux", "--debuginfo-dir", tmp, "-c",
                               f"mod -s {MODULE}; sym virtblk_done"]).stdout
                    self.assertIn(f"  {mods / MODULE}.ko \n", out)
                    self.assertRegex(out, rf"\(t\) virtblk_done \[{MODULE}\] \S+virtio_blk\.c: \d+\n")
                # The release module: the same build ID, no DWARF.
                release_ko = CACHE / "_kernels" / release(d) / "modules" / f"{MODULE}.ko"
                p = coroner_file(d, [f"mod -s {MODULE} {release_ko}"], check=False)
                self.assertIn(f"{release_ko} has no DWARF debug info", p)


if __name__ == "__main__":
    unittest.main()
