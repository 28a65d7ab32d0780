#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, coverage-instrumented lib/base and lib/dump)
# and runs each one for SECONDS (default 60), one after the other.
#
#   fuzz/run-fuzzers.sh [SECONDS] [TARGET...]      targets: elf_notes vmcoreinfo kdump flattened elf_vmcore page_deflate
#
# Seeds come from fuzz/corpus/<target>/ (never written to); inputs the fuzzer finds go to
# $FUZZ_BUILD_DIR/corpus/<target>/, and a crashing input to $FUZZ_BUILD_DIR/artifacts/. To keep a
# reproducer, copy it into fuzz/corpus/<target>/ (it then replays in every build's ctest).
# environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf_notes vmcoreinfo kdump flattened elf_vmcore page_deflate)
build=${FUZZ_BUILD_DIR:-build-fuzz}

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCORONER_FUZZ=ON -DCORONER_SANITIZE=ON -DCORONER_BENCH=OFF >/dev/null
ninja -C "$build" -j "${JOBS:-2}" coroner_fuzzers

mkdir -p "$build/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
summary=()
status=0
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  log="$build/artifacts/$t.log"
  echo "== $t: ${secs}s (log $log)"
  rc=0
  "$build/fuzz/${t}_fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=64 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" "$work" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  if [ $rc = 0 ]; then
    summary+=("$(printf '%-12s ok     %8s runs  cov %s' "$t" "${runs:-?}" "${cov:-?}")")
  else
    status=1
    crash=$(ls -t "$build/artifacts/$t-"* 2>/dev/null | grep -v '\.log$' | head -n1 || true)
    summary+=("$(printf '%-12s FAILED %8s runs  cov %s  %s' "$t" "${runs:-?}" "${cov:-?}" "$crash")")
    grep -m3 -E 'ERROR: |FUZZ_CHECK|runtime error' "$log" || true
  fi
done
echo "== summary (${secs}s each)"
printf '%s\n' "${summary[@]}"
exit $status
