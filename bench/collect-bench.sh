#!/usr/bin/env bash
# coroner collect against makedumpfile 1.7.2 on the same raw ELF vmcore, in one run: -d 31 with
# zlib (-c), lzo (-l) and no compression, 1 and 2 threads; wall time (median of REPS runs,
# alternating the two tools), MiB of input per second, output size, and the ratios.
#
#   bench/collect-bench.sh [VMCORE...]     (default: vmcore.elf of every cached test kernel)
#
# environment: CORONER (default build/tools/coroner/coroner), REPS (default 5), OUT (scratch
# directory, default /tmp/collect-bench). makedumpfile's "1 thread" is its default (no
# --num-threads); "2 threads" is --num-threads 2 for both tools. Inputs are read once first so
# both tools find them in the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
coroner=${CORONER:-build/tools/coroner/coroner}
reps=${REPS:-5}
out=${OUT:-/tmp/collect-bench}
mkdir -p "$out"
inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
  for d in "${CORONER_TEST_DUMPS:-$HOME/.cache/coroner/test-dumps}"/*/; do
    [ -f "$d/vmcore.elf" ] && [ ! -e "$d/FAILED" ] && inputs+=("$d/vmcore.elf")
  done
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_run CMD...: wall seconds of one run (retried up to 3 times: makedumpfile 1.7.2 with
# --num-threads sometimes fails; the failures are reported on stderr)
time_run() {
  local t0 t1 try
  for try in 1 2 3; do
    t0=$(date +%s.%N)
    if "$@" >/dev/null 2>&1; then
      t1=$(date +%s.%N)
      echo "$t1 - $t0" | bc -l
      return
    fi
    echo "failed (try $try): $*" >&2
    rm -f "$out/m" "$out/c"
  done
  exit 1
}

printf '| input | level | compression | threads | makedumpfile s | coroner s | speed ratio | makedumpfile MiB | coroner MiB | size ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for in in "${inputs[@]}"; do
  cat "$in" >/dev/null
  mib=$(( $(stat -c %s "$in") / 1048576 ))
  name=$(basename "$(dirname "$in")")
  for comp in -c -l none; do
    flag=(); [ "$comp" != none ] && flag=("$comp")
    for threads in 1 2; do
      tflag=(); [ "$threads" -gt 1 ] && tflag=(--num-threads "$threads")
      m=(); c=()
      for _ in $(seq "$reps"); do
        rm -f "$out/m" "$out/c"
        m+=("$(time_run makedumpfile "${flag[@]}" "${tflag[@]}" -d 31 "$in" "$out/m")")
        c+=("$(time_run "$coroner" collect --message-level 0 "${flag[@]}" "${tflag[@]}" -d 31 "$in" "$out/c")")
      done
      ms=$(printf '%s\n' "${m[@]}" | median)
      cs=$(printf '%s\n' "${c[@]}" | median)
      msz=$(stat -c %s "$out/m"); csz=$(stat -c %s "$out/c")
      printf '| %s (%s MiB) | 31 | %s | %s | %.2f | %.2f | %.2fx | %.1f | %.1f | %.3f |\n' "$name" "$mib" \
        "${comp#-}" "$threads" "$ms" "$cs" "$(echo "$ms / $cs" | bc -l)" \
        "$(echo "$msz / 1048576" | bc -l)" "$(echo "$csz / 1048576" | bc -l)" "$(echo "$csz / $msz" | bc -l)"
    done
  done
done
rm -f "$out/m" "$out/c"
