#!/usr/bin/env bash
# Installs everything, builds, makes (or reuses) the real test dumps, and runs every test:
# unit tests, fuzz-corpus replays, and the tests against real kdump dumps and reference tools.
# A second build with ASan/UBSan runs the unit tests and corpus replays again.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install-deps.sh --test
echo "== build (RelWithDebInfo)"
BUILD_DIR=build bash scripts/build.sh
echo "== real test dumps (cached in ${CORONER_TEST_DUMPS:-$HOME/.cache/coroner/test-dumps})"
bash tests/dumps/make-test-dumps.sh
bash tests/dumps/make-writer-dumps.sh build/tools/kdump-write/coroner-kdump-write
echo "== tests"
ctest --test-dir build --output-on-failure -j 2 --timeout 1200
echo "== ASan/UBSan build: unit tests and fuzz corpora"
BUILD_DIR=build-asan bash scripts/build.sh -DCORONER_SANITIZE=ON -DCORONER_BENCH=OFF
ctest --test-dir build-asan --output-on-failure -j 2 -LE realdump --timeout 1200
echo "== done in $(( $(date +%s) - start )) s"
