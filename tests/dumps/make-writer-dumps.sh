#!/usr/bin/env bash
# Makes the kdump files Debian's makedumpfile cannot (it is built without snappy and zstd):
# for every kernel in the test-dump cache, rewrites makedumpfile's -d 31 zlib file with
# coroner's own writer as vmcore.kdump-snappy and vmcore.kdump-zstd. The tests then check them
# page by page against the raw ELF copy (and through libkdumpfile).
#
#   tests/dumps/make-writer-dumps.sh build/tools/kdump-write/coroner-kdump-write
#
# Cheap (about a second per kernel), so it runs every time: the files always come from the
# writer being tested.
set -euo pipefail
writer=${1:?usage: $0 PATH/TO/coroner-kdump-write}
cache=${CORONER_TEST_DUMPS:-$HOME/.cache/coroner/test-dumps}
made=0
for dir in "$cache"/*/; do
  name=$(basename "$dir")
  [[ $name == _* || -e $dir/FAILED || ! -f $dir/vmcore.kdump-zlib ]] && continue
  for method in snappy zstd; do
    flag=$([[ $method == snappy ]] && echo -p || echo -z)
    out=$dir/vmcore.kdump-$method
    rm -f "$out.tmp"
    "$writer" -q "$flag" "$dir/vmcore.kdump-zlib" "$out.tmp"
    mv "$out.tmp" "$out"
    made=$((made + 1))
  done
done
echo "make-writer-dumps: wrote $made snappy/zstd kdump files in $cache"
