#!/usr/bin/env bash
# The main job on the bundled sample dump: install, build, and analyse samples/ with coroner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_TYPE=Release BUILD_DIR=build-release bash scripts/build.sh -DCORONER_BENCH=OFF
sample=$(ls samples/*.kdump-zlib | head -n 1)
echo
echo "== coroner info $sample"
./build-release/tools/coroner/coroner info "$sample"
