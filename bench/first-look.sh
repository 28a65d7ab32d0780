#!/usr/bin/env bash
# The first minutes with a vmcore, timed: open the dump, `sys`, `bt` (the panic task), and the
# tail of `log`; coroner (no vmlinux: kallsyms, BTF and ORC from the dump) against crash 8.0.2
# and drgn 0.0.22 (both with the DWARF vmlinux) on the same file, in one run. Prints wall time
# and peak RSS (median of REPETITIONS runs, default 3) and the ratios.
#
#   bench/first-look.sh [KERNEL_DIR] [DUMP_NAME]
#
# KERNEL_DIR defaults to the 6.1-4level directory of the test-dump cache (crash 8.0.2 cannot
# open 6.12 or 7.2); DUMP_NAME to vmcore.kdump-zlib. CORONER_BIN: the coroner to time (default
# build/tools/coroner/coroner, built Release-with-debug-info by scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${CORONER_TEST_DUMPS:-$HOME/.cache/coroner/test-dumps}/6.1-4level}
dump="$dir/${2:-vmcore.kdump-zlib}"
coroner=${CORONER_BIN:-build/tools/coroner/coroner}
reps=${REPETITIONS:-3}
[ -x "$coroner" ] || { echo "no coroner binary at $coroner (run scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'sys\nbt\nlog | tail -5\n' >"$tmp/crash.cmds"
cat >"$tmp/first_look_drgn.py" <<PY
import drgn
from drgn.helpers.linux.printk import get_dmesg
prog = drgn.Program()
prog.set_core_dump("$dump")
prog.load_debug_info(["$dir/vmlinux"])
uts = prog["init_uts_ns"].name
print(uts.release.string_().decode(), uts.version.string_().decode())
try:
    print(prog.crashed_thread().stack_trace())
except Exception as e:  # drgn 0.0.22 cannot unwind every kernel
    print("stack trace failed:", e)
print("\n".join(get_dmesg(prog).decode(errors="replace").splitlines()[-5:]))
PY

measure() {  # name, command...; prints "name seconds kilobytes" per run
  local name=$1; shift
  for _ in $(seq "$reps"); do
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >"$tmp/$name.out" 2>&1 </dev/null || true
    echo "$name $(tail -1 "$tmp/time")"  # the last line: a failing command adds a status line
  done
}
{
  measure coroner "$coroner" "$dump" -c 'sys; bt; log | tail -5'
  measure crash crash -s "$dir/vmlinux" "$dump" -i "$tmp/crash.cmds"
  measure drgn /usr/bin/python3 "$tmp/first_look_drgn.py"
} >"$tmp/results"

grep -q "PANIC:" "$tmp/coroner.out" || { echo "coroner did not answer:"; cat "$tmp/coroner.out"; exit 1; } >&2
python3 - "$tmp/results" "$dump" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, secs, kb = line.split()
    runs.setdefault(name, []).append((float(secs), int(kb)))
med = {n: (statistics.median(s for s, _ in r), statistics.median(k for _, k in r)) for n, r in runs.items()}
print(f"open + sys + bt + log | tail on {sys.argv[2]}")
print(f"{'tool':8} {'wall s':>8} {'peak RSS MB':>12} {'time ratio':>11} {'RSS ratio':>10}")
c_s, c_k = med["coroner"]
for n in ("coroner", "crash", "drgn"):
    s, k = med[n]
    print(f"{n:8} {s:8.2f} {k/1024:12.1f} {s/c_s:10.1f}x {k/c_k:9.1f}x")
PY
