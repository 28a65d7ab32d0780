"""Shared helpers for the tests that run coroner on the real test dumps.

The dumps come from tests/dumps/make-test-dumps.sh (real Debian kernels crashed under QEMU and
captured by real kdump); they live in $CORONER_TEST_DUMPS (default ~/.cache/coroner/test-dumps),
one directory per kernel. A kernel that could not be made has a FAILED file saying why.
"""
import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

CORONER = os.environ.get("CORONER_BIN", "coroner")
CACHE = Path(os.environ.get("CORONER_TEST_DUMPS", Path.home() / ".cache/coroner/test-dumps"))

# Every form the dump script saves; a kernel dir must have all of them unless noted.
FORMS = {
    "vmcore.elf": ["vmcore.elf"],
    "vmcore.elf-d31": ["vmcore.elf-d31"],
    "vmcore.kdump-zlib": ["vmcore.kdump-zlib"],
    "vmcore.kdump-lzo": ["vmcore.kdump-lzo"],
    "vmcore.kdump-raw": ["vmcore.kdump-raw"],
    "vmcore.flat-zlib": ["vmcore.flat-zlib"],
    "split-zlib": ["vmcore.split-zlib.1", "vmcore.split-zlib.2"],
    # From coroner's own writer (tests/dumps/make-writer-dumps.sh, run by scripts/test.sh).
    "vmcore.kdump-snappy": ["vmcore.kdump-snappy"],
    "vmcore.kdump-zstd": ["vmcore.kdump-zstd"],
}
OPTIONAL_FORMS = {
    "vmcore.kdump-zlib-d23": ["vmcore.kdump-zlib-d23"],
    "qemu.elf": ["qemu.elf"],
    "qemu.kdump-zlib": ["qemu.kdump-zlib"],
}


def kernel_dirs():
    """The kernel directories that were made successfully; fails if there are none."""
    if not CACHE.is_dir():
        raise unittest.SkipTest  # never reached in CI: the test script makes the dumps first
    dirs = sorted(d for d in CACHE.iterdir()
                  if d.is_dir() and not d.name.startswith("_") and (d / "vmcore.elf").exists()
                  and not (d / "FAILED").exists())
    return dirs


def require_dumps(testcase):
    dirs = kernel_dirs() if CACHE.is_dir() else []
    if not dirs:
        testcase.fail(f"no real test dumps in {CACHE}: run tests/dumps/make-test-dumps.sh first")
    return dirs


def run(args, check=True):
    p = subprocess.run([CORONER, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"coroner {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p


def info_json(paths):
    return json.loads(run(["info", "--json", *paths]).stdout)


def crash_commands(d, commands, dump="vmcore.kdump-zlib"):
    """Runs crash 8.0.2 (with the DWARF vmlinux) on a kernel dir's dump; returns its output."""
    with tempfile.NamedTemporaryFile("w", suffix=".crash") as f:
        f.write("\n".join(commands) + "\n")
        f.flush()
        p = subprocess.run(["crash", "-s", str(d / "vmlinux"), str(d / dump), "-i", f.name],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    return p.stdout + p.stderr


def coroner_commands(d, commands, dump="vmcore.kdump-zlib", check=True):
    """Runs coroner (no vmlinux) with the same command file; returns stdout (+ stderr if not check)."""
    with tempfile.NamedTemporaryFile("w", suffix=".cmds") as f:
        f.write("\n".join(commands) + "\n")
        f.flush()
        p = run([d / dump, "-i", f.name], check=check)
    return p.stdout if check else p.stdout + p.stderr


def extra_pids(d):
    """The guest's named processes (helper, loop, sleep, init) -> PID, from extra-pids.txt."""
    return {k: int(v) for k, v in (kv.split("=") for kv in (d / "guest-view/extra-pids.txt").read_text().split())}


def drgn_json(d, body, dump="vmcore.kdump-zlib"):
    """Runs drgn 0.0.22 (Debian's python3-drgn, in the system interpreter) on a kernel dir's dump
    with its vmlinux: `body` is Python run with `prog` ready that prints one JSON document."""
    script = (f"import drgn, json, sys\nprog = drgn.Program()\nprog.set_core_dump({str(d / dump)!r})\n"
              f"prog.load_debug_info([{str(d / 'vmlinux')!r}])\n") + body
    p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise AssertionError(f"drgn failed on {d.name}: {p.stderr[-500:]}")
    return json.loads(p.stdout)


def coroner_members(d, struct, extra=()):
    """(name, byte offset) of every member of a struct, anonymous members flattened, and its size,
    from coroner's `struct --json` (extra: more arguments, e.g. the vmlinux)."""
    j = json.loads(run([d / "vmcore.kdump-zlib", *extra, "--json", "-c", f"struct {struct}"]).stdout)
    out = []

    def walk(members):
        for m in members:
            if "members" in m and not m["name"]:
                walk(m["members"])
            else:
                out.append([m["name"], m["offset"]])
    walk(j["members"])
    return {"size": j["size"], "members": out}
