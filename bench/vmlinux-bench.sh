#!/usr/bin/env bash
# Time and peak memory from start to the first answer with the DWARF vmlinux: coroner against
# crash 8.0.2 and drgn on the same dump, in one run. Prints a Markdown table.
#
#   bench/vmlinux-bench.sh [KERNEL_DIR]
#
# KERNEL_DIR: a directory of the test-dump cache (default ~/.cache/coroner/test-dumps/6.1-4level,
# which crash 8.0.2 can open). environment: CORONER_BIN (default build/tools/coroner/coroner),
# REPS (default 3; the table shows the median wall time and the largest peak RSS). Files are
# read once first, so every tool runs with the dump and the vmlinux in the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$HOME/.cache/coroner/test-dumps/6.1-4level}
coroner=${CORONER_BIN:-build/tools/coroner/coroner}
reps=${REPS:-3}
dump=$dir/vmcore.kdump-zlib
vmlinux=$dir/vmlinux
[ -x "$coroner" ] || { echo "no coroner at $coroner (build it, or set CORONER_BIN)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat "$dump" "$vmlinux" >/dev/null

# measure NAME CMD...: REPS runs; prints "NAME<TAB>median seconds<TAB>max KB".
measure() {
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$reps"); do
    # crash exits 1 after an -i file even when every command worked: judge by the output.
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || true
    [ -s "$tmp/out" ] || { echo "$name failed: $(tail -3 "$tmp/err")" >&2; return 1; }
    read -r s kb < <(tail -1 "$tmp/t")  # time(1) puts "Command exited ..." first
    times+=("$s"); (( kb > rss )) && rss=$kb
  done
  printf '%s\t%s\t%s\n' "$name" "$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (reps + 1) / 2 ))p")" "$rss"
}

# crash and drgn take their commands from small scripts (time(1) runs programs, not functions).
crash_script() { printf '%s\n' "$2" >"$tmp/$1.crash"; echo "$tmp/$1.crash"; }
drgn_script() {
  cat >"$tmp/$1.py" <<PYEOF
import drgn
prog = drgn.Program()
prog.set_core_dump('$dump')
prog.load_debug_info(['$vmlinux'])
$2
PYEOF
  echo "$tmp/$1.py"
}

# coroner's DWARF name index file: none for the plain rows; a late-defined static (a scan of
# every unit without the index file) is measured without and then with one.
export CORONER_INDEX_DIR=
{
  measure "coroner, vmlinux: sym jiffies" "$coroner" "$dump" "$vmlinux" -c "sym jiffies"
  measure "coroner, vmlinux: struct task_struct" "$coroner" "$dump" "$vmlinux" -c "struct task_struct"
  measure "coroner, vmlinux: p max_pfn" "$coroner" "$dump" "$vmlinux" -c "p max_pfn"
  measure "coroner, vmlinux: dis -l schedule" "$coroner" "$dump" "$vmlinux" -c "dis -l schedule"
  measure "coroner, vmlinux: p sysrq_crash_op (no index file)" "$coroner" "$dump" "$vmlinux" -c "p sysrq_crash_op"
  CORONER_INDEX_DIR=$tmp/index "$coroner" "$dump" "$vmlinux" -c "struct no_such_type" >/dev/null 2>&1 || true
  CORONER_INDEX_DIR=$tmp/index measure "coroner, vmlinux: p sysrq_crash_op (index file)" \
    "$coroner" "$dump" "$vmlinux" -c "p sysrq_crash_op"
  measure "coroner, no vmlinux: sym jiffies" "$coroner" "$dump" --no-vmlinux -c "sym jiffies"
  measure "coroner, no vmlinux: struct task_struct" "$coroner" "$dump" --no-vmlinux -c "struct task_struct"
  measure "crash: sym jiffies" crash -s "$vmlinux" "$dump" -i "$(crash_script sym 'sym jiffies')"
  measure "crash: struct task_struct" crash -s "$vmlinux" "$dump" -i "$(crash_script struct 'struct task_struct')"
  measure "crash: p max_pfn" crash -s "$vmlinux" "$dump" -i "$(crash_script p 'p max_pfn')"
  measure "crash: p sysrq_crash_op" crash -s "$vmlinux" "$dump" -i "$(crash_script ps 'p sysrq_crash_op')"
  measure "crash: dis -l schedule" crash -s "$vmlinux" "$dump" -i "$(crash_script dis 'dis -l schedule')"
  measure "drgn: sym jiffies" /usr/bin/python3 "$(drgn_script sym "print(prog.symbol('jiffies'))")"
  measure "drgn: struct task_struct" /usr/bin/python3 "$(drgn_script struct "print(prog.type('struct task_struct'))")"
  measure "drgn: p max_pfn" /usr/bin/python3 "$(drgn_script p "print(prog['max_pfn'])")"
} >"$tmp/results"

python3 - "$tmp/results" "$dir" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
res = {name: (float(s), int(kb)) for name, s, kb in rows}
print(f"dump: {sys.argv[2]}/vmcore.kdump-zlib with its vmlinux; median wall time of the runs, "
      "peak RSS; warm page cache")
print()
print("| what | wall s | peak RSS MB | crash / coroner | drgn / coroner |")
print("|---|---:|---:|---:|---:|")
for name, (s, kb) in res.items():
    ratios = ["", ""]
    if name.startswith("coroner, vmlinux: "):
        what = name.split(": ", 1)[1].split(" (")[0]
        for i, tool in enumerate(("crash", "drgn")):
            ref = res.get(f"{tool}: {what}")
            if ref and s > 0:
                ratios[i] = f"{ref[0] / s:.0f}x"
    print(f"| {name} | {s:.2f} | {kb / 1024:.0f} | {ratios[0]} | {ratios[1]} |")
PY
