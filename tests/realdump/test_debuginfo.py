"""`coroner debuginfo fetch`: the vmlinux that matches a dump, by build ID from a debuginfod
server (a real `debuginfod` serving the 5.10 test kernel's vmlinux on localhost) and through
apt from Debian's archive (the 6.1 test kernel's linux-image-RELEASE-dbg, about 280 MB, which
Debian 12's own sources carry), plus the debug files of every loaded module. The fetched file
must be the very vmlinux the test kernels came from (same build ID and bytes), sessions must
find it afterwards, and a kernel whose package the sources do not carry (7.2) or a wrong file
already in place must fail clearly.
"""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from common import CORONER, require_dumps, run


def release(d):
    return (d / "capture-uname.txt").read_text().split()[2]


def build_id(path):
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    return next(l.split()[-1] for l in out.splitlines() if "Build ID" in l)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(args, env=None):
    return subprocess.run([CORONER, "debuginfo", "fetch", *map(str, args)], capture_output=True, text=True,
                          timeout=900, env={**os.environ, **(env or {})})


def debian_version(d):
    """The kernel package's version, from the banner at the top of the dump's own log
    ("... Debian 6.1.192-3 (2026-11-26)"): the test dumps follow Debian's newest point release."""
    first = (d / "vmcore-dmesg.txt").read_text(errors="replace").splitlines()[0]
    return re.search(r"Debian (\S+) \(", first).group(1)


class DebuginfoFetch(unittest.TestCase):
    def setUp(self):
        self.dirs = {d.name: d for d in require_dumps(self)}
        self.tmp = Path(tempfile.mkdtemp(prefix="coroner-debuginfo-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_apt_fetches_the_debian_package(self):
        d = self.dirs["6.1-4level"]
        rel = release(d)
        p = fetch([d / "vmcore.kdump-zlib", "--dest", self.tmp])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(f"apt-get download linux-image-{rel}-dbg={debian_version(d)}", p.stdout)
        got = self.tmp / rel / "vmlinux"
        self.assertEqual(sha256(got), sha256(d / "vmlinux"))
        mods = sorted(f.name for f in (self.tmp / rel / "modules").iterdir())
        loaded = [l.split()[0] for l in (d / "guest-view/modules.txt").read_text().splitlines()]
        self.assertEqual(len(mods), len(loaded))
        self.assertIn("virtio_blk.ko", mods)
        self.assertIn(f"modules: {len(loaded)} of {len(loaded)} loaded modules' debug files", p.stdout)
        # The debug .ko has DWARF (the release .ko beside the test kernel does not).
        sections = subprocess.run(["readelf", "-S", str(self.tmp / rel / "modules/virtio_blk.ko")],
                                  capture_output=True, text=True).stdout
        self.assertIn(".debug_info", sections)
        # Again: nothing to do. And a session finds it there.
        self.assertIn(f"already there: {got}", fetch([d / "vmcore.kdump-zlib", "--dest", self.tmp]).stdout)
        sys_out = run([d / "vmcore.kdump-zlib", "--debuginfo-dir", self.tmp, "-c", "sys"]).stdout
        self.assertIn(f"KERNEL: {got}", sys_out)

    def test_debuginfod_by_build_id(self):
        d = self.dirs["5.10-4level"]
        rel = release(d)
        served = self.tmp / "served"
        served.mkdir()
        # debuginfod does not follow symlinks: a hard link (or a copy across filesystems).
        try:
            os.link((d / "vmlinux").resolve(), served / "vmlinux")
        except OSError:
            shutil.copy(d / "vmlinux", served / "vmlinux")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(["debuginfod", "-F", str(served), "-p", str(port), "-d", str(self.tmp / "db.sqlite")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            env = {"DEBUGINFOD_URLS": f"http://127.0.0.1:{port}", "DEBUGINFOD_CACHE_PATH": str(self.tmp / "cache")}
            for _ in range(60):  # until the server has indexed the file
                p = fetch([d / "vmcore.kdump-zlib", "--no-apt", "--dest", self.tmp / "dest"], env)
                if p.returncode == 0:
                    break
                shutil.rmtree(self.tmp / "cache", ignore_errors=True)  # libdebuginfod caches misses
                time.sleep(1)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            server.terminate()
            server.wait()
        want = build_id(d / "vmlinux")
        self.assertIn(f"build ID: {want}", p.stdout)
        self.assertEqual(build_id(self.tmp / "dest" / rel / "vmlinux"), want)
        self.assertIn("banner matches the dump", p.stdout)

    def test_failures_are_clear(self):
        d = self.dirs["7.2-4level"]
        p = fetch([d / "vmcore.kdump-zlib", "--dest", self.tmp])
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"no debug package for {release(d)} through apt", p.stderr)
        # A wrong file in place: refused with both banners, and not reported as there.
        d = self.dirs["5.10-4level"]
        (self.tmp / release(d)).mkdir()
        (self.tmp / release(d) / "vmlinux").symlink_to(self.dirs["6.1-4level"] / "vmlinux")
        p = fetch([d / "vmcore.kdump-zlib", "--no-apt", "--dest", self.tmp], {"DEBUGINFOD_URLS": ""})
        self.assertEqual(p.returncode, 1)
        self.assertNotIn("already there", p.stdout)
        self.assertIn("does not match the dump", p.stderr)
        self.assertIn(f"Debian {debian_version(d)} (", p.stderr)  # the dump's banner
        self.assertIn(f"Debian {debian_version(self.dirs['6.1-4level'])} (", p.stderr)  # the file's
        self.assertIn("no debuginfo found", p.stderr)


if __name__ == "__main__":
    unittest.main()
