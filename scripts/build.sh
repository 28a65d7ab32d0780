#!/usr/bin/env bash
# Configures and builds coroner into ${BUILD_DIR:-build} (extra CMake flags pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
# BUILD_TARGETS: build only these (default: everything, tests included).
ninja -C "$BUILD_DIR" -j "$(nproc)" ${BUILD_TARGETS:-}
