#!/usr/bin/env bash
# The main job on the bundled sample dump: install, build, and analyse samples/ with coroner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_TYPE=Release BUILD_DIR=build-release BUILD_TARGETS=coroner bash scripts/build.sh -DCORONER_BENCH=OFF
sample=samples/vmcore.kdump-zlib   # a real 6.1 crash (echo c > /proc/sysrq-trigger); see samples/README.md
coroner=./build-release/tools/coroner/coroner
echo
echo "== coroner info $sample"
"$coroner" info "$sample"
echo
echo "== the first look, from the dump alone (no vmlinux): sys, the panic task's stack, the tasks"
"$coroner" "$sample" -c 'sys; bt; ps -u; kmem -i'
echo
echo "== the end of the kernel log, from the dump alone (no vmlinux)"
"$coroner" "$sample" -c 'log | tail -n 45'
echo
echo "== symbols, types and values from the dump's kallsyms and BTF"
"$coroner" "$sample" -c 'sym sysrq_handle_crash; p init_uts_ns.name.release; p nr_cpu_ids; struct -o printk_ringbuffer'
addr=$("$coroner" "$sample" -c 'sym init_uts_ns' | cut -d' ' -f1)
"$coroner" "$sample" -c "vtop $addr; rd -a $addr 8"
