#!/usr/bin/env bash
# Builds the page-read benchmark in Release and prints pages/s per format, sequential and random,
# for coroner and libkdumpfile on the same files, with the coroner/libkdumpfile ratio.
#
#   bench/run-bench.sh [KERNEL_DIR] [-- extra benchmark flags]
#
# KERNEL_DIR: a directory of the test-dump cache (default: 6.1-4level there, see
# page_read_bench.cc). environment: BENCH_BUILD_DIR (default build-bench), JOBS (default 2),
# REPETITIONS (default 5, run in random order so that one reader is not always measured after
# the other; the table shows the median), MIN_TIME (seconds per benchmark, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BENCH_BUILD_DIR:-build-bench}
dir=()
if [ $# -gt 0 ] && [ "$1" != "--" ]; then dir=("$1"); shift; fi
[ "${1:-}" = "--" ] && shift

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCORONER_BENCH=ON >/dev/null
ninja -C "$build" -j "${JOBS:-2}" page_read_bench
[ -x "$build/bench/page_read_bench" ] || { echo "page_read_bench was not built (see the CMake message)" >&2; exit 1; }

out="$build/bench-results.json"
log="$build/bench-results.log"
if ! "$build/bench/page_read_bench" --benchmark_repetitions="${REPETITIONS:-5}" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_min_time="${MIN_TIME:-1}" --benchmark_report_aggregates_only=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@" "${dir[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi

python3 - "$out" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
ctx = data["context"]
rates = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name", "median") != "median":
        continue
    if b.get("error_occurred"):
        print(f"{b['run_name']}: {b.get('error_message')}", file=sys.stderr)
        continue
    fmt_, pattern, reader = b["run_name"].split("/")
    rates[(fmt_, pattern, reader)] = b["items_per_second"]
order = ["kdump-zlib", "kdump-lzo", "kdump-raw", "flat-zlib", "elf-d31", "elf"]
formats = sorted({f for (f, _, _) in rates}, key=lambda f: (order.index(f) if f in order else 99, f))
print(f"dump: {ctx.get('dump')}  ({ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz; "
      f"{ctx.get('date')}; pages/s of CPU time, median of the repetitions)")
print()
print("| format | pages | coroner seq pages/s | libkdumpfile seq pages/s | seq ratio "
      "| coroner random pages/s | libkdumpfile random pages/s | random ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
def cell(v):
    return f"{v:,.0f}" if v else "n/a"
for f in formats:
    row = [f, ctx.get(f"pages_{f}", "?")]
    for p in ("seq", "rand"):
        c = rates.get((f, p, "coroner"))
        l = rates.get((f, p, "libkdumpfile"))
        row += [cell(c), cell(l), f"{c / l:.2f}" if c and l else "n/a"]
    print("| " + " | ".join(str(x) for x in row) + " |")
notes = [f"- {k[len('libkdumpfile_'):]}: libkdumpfile {v}" for k, v in ctx.items()
         if k.startswith("libkdumpfile_")]
if notes:
    print()
    print("\n".join(notes))
PY
