#!/usr/bin/env bash
# Installs every Debian 12 package coroner needs to build, test and benchmark.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config
  zlib1g-dev liblzo2-dev libsnappy-dev libzstd-dev   # kdump page compression
  libdeflate-dev                                       # fast zlib-format page compression (collect)
  libfmt-dev libcli11-dev nlohmann-json3-dev          # formatting, CLI, JSON output
  libedit-dev                                          # line editing, history, completion at the prompt
  libgtest-dev libgmock-dev python3                    # the build configures the tests too
  libelf-dev libdw-dev libbpf-dev libcapstone-dev      # ELF/DWARF, BTF, disassembly (later layers)
  libdebuginfod-dev                                    # debuginfo fetch: vmlinux by build ID
)
TEST_PKGS=(
  libbenchmark-dev libkdumpfile-dev                            # benchmarks, differential reference
  clang libclang-rt-14-dev                                     # libFuzzer builds
  qemu-system-x86 qemu-utils makedumpfile kexec-tools busybox-static e2fsprogs cpio xz-utils zstd
  crash python3-drgn file                                      # reference tools for comparisons
  debuginfod                                                   # a local server for the debuginfo fetch test
  dwarves                                                      # pahole: module types from the .ko, the reference for module BTF
)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#want[@]} packages present"
fi
