#!/bin/bash
# make-big-guest.sh: make the "bigger guest" benchmark input: a REAL kdump of a 4 GiB guest whose
# memory holds a mix of user data, page cache and free pages (stale, not zero).
#
# The Debian 6.1 cloud kernel of the test dumps (tests/dumps/make-test-dumps.sh, whose functions
# this script sources: kernel store, initramfs, disks, QEMU command line) boots under QEMU TCG
# with 4 GiB and crashkernel=256M, arms kdump, and before sysrq-c fills its memory:
#   1. stale: a process fills STALE MiB and exits (free pages that still hold data; the later
#      fills reuse the most recently freed pages first, so STALE is most of memory)
#   2. cache: a CACHE MiB file is written to an ext4 disk that stays mounted (clean page cache)
#   3. anon:  a process fills ANON MiB of anonymous memory and keeps it (user data)
# each 4 KiB page a third incompressible, a third text, a third half and half (big-guest-fill.c).
# The capture kernel copies /proc/vmcore raw (dd) onto a raw disk, which becomes vmcore.elf.
# Not part of CI or the tests: a benchmark input for bench/collect-bench.sh.
#
# usage: sudo bash bench/make-big-guest.sh [--force]
#
# environment:
#   CORONER_BENCH_DUMPS   output cache (default ~/.cache/coroner/bench-dumps); writes 6.1-big/
#   CORONER_TEST_DUMPS    the test dumps' cache, for the kernel store (default ~/.cache/coroner/test-dumps)
#   CORONER_BIG_MEM (4096)  CORONER_BIG_CRASHKERNEL (256M)  CORONER_BIG_SMP (2)
#   CORONER_BIG_STALE_MB (3200)  CORONER_BIG_CACHE_MB (1024)  CORONER_BIG_ANON_MB (1228)
#   CORONER_BIG_TIMEOUT   seconds allowed for the QEMU run (default 3600)
#   CORONER_BIG_KERNEL    kernel release (default: the one of the 6.1-4level test dump)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TD_DIR=$(cd "$BENCH_DIR/../tests/dumps" && pwd)
# The test-dump script's functions, without running its main (its last line).
grep -qx 'main "$@"' "$TD_DIR/make-test-dumps.sh" || { echo "make-test-dumps.sh does not end in main \"\$@\"" >&2; exit 1; }
# shellcheck source=../tests/dumps/make-test-dumps.sh
source <(sed '/^main "\$@"$/d' "$TD_DIR/make-test-dumps.sh")
# shellcheck disable=SC2034
SCRIPT_DIR=$TD_DIR # (it set this from BASH_SOURCE, which is /dev/fd/N here)

OUT_ROOT=${CORONER_BENCH_DUMPS:-$HOME/.cache/coroner/bench-dumps}
NAME=6.1-big
OUT=$OUT_ROOT/$NAME
MEM=${CORONER_BIG_MEM:-4096}
CK=${CORONER_BIG_CRASHKERNEL:-256M}
QEMU_SMP=${CORONER_BIG_SMP:-2}
STALE_MB=${CORONER_BIG_STALE_MB:-3200}
CACHE_MB=${CORONER_BIG_CACHE_MB:-1024}
ANON_MB=${CORONER_BIG_ANON_MB:-1228}
BIG_TIMEOUT=${CORONER_BIG_TIMEOUT:-3600}
CPU="max,la57=off"

big_hash() {
	{
		cat "$BENCH_DIR/make-big-guest.sh" "$BENCH_DIR/big-guest-init.sh" "$BENCH_DIR/big-guest-fill.c"
		echo "$1 $MEM $CK $QEMU_SMP $STALE_MB $CACHE_MB $ANON_MB"
	} | sha256sum | cut -d' ' -f1
}

# the kernel: the 6.1-4level test dump's, from the test dumps' kernel store
pick_kernel() {
	local rel=${CORONER_BIG_KERNEL:-$(sed -n 's/^release=//p' "$CACHE/6.1-4level/PACKAGES" 2>/dev/null || true)}
	if [ -n "$rel" ] && kstore_complete "$CACHE/_kernels/$rel"; then
		K_DIR=$CACHE/_kernels/$rel K_REL=$rel
		return 0
	fi
	say "no extracted kernel ${rel:-for 6.1-4level}: fetching the newest 6.1 cloud kernel"
	ensure_kernel 6.1
}

main_big() {
	local force=0
	case ${1:-} in
	--force) force=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
	"") ;;
	*) die "usage: $0 [--force]" ;;
	esac
	[ "$(id -u)" = 0 ] || die "run as root (mknod for the initramfs)"
	mkdir -p "$OUT_ROOT" "$CACHE/_tmp"
	exec 8>"$OUT_ROOT/.lock"
	flock -n 8 || die "another make-big-guest.sh holds $OUT_ROOT/.lock"
	local t0 work=$OUT_ROOT/_tmp/$NAME
	t0=$(date +%s)

	# the test dumps' lock while reading their kernel store and building the initramfs
	exec 9>"$CACHE/.lock"
	flock -w 3600 9 || die "make-test-dumps.sh holds $CACHE/.lock"
	pick_kernel || die "no 6.1 cloud kernel"
	local kd=$K_DIR rel=$K_REL hash
	hash=$(big_hash "$rel")
	if [ $force = 0 ] && [ "$(cat "$OUT/STAMP" 2>/dev/null)" = "$hash" ] && [ -s "$OUT/vmcore.elf" ]; then
		say "$OUT is up to date (STAMP matches; --force remakes it)"
		exit 0
	fi
	ensure_host_packages qemu-system-x86 makedumpfile kexec-tools busybox-static e2fsprogs cpio gcc libc6-dev util-linux
	rm -rf "$work" "$OUT"
	mkdir -p "$work/overlay/bin" "$work/diskroot/boot" "$OUT"
	[ -x "$CACHE/_tools/helper" ] || build_helper
	build_initramfs "$kd" "$work/base.img"
	cp "$kd/vmlinuz" "$work/diskroot/boot/vmlinuz"
	for f in vmlinux vmlinuz System.map config; do
		[ -f "$kd/$f" ] && { ln -f "$kd/$f" "$OUT/$f" 2>/dev/null || cp "$kd/$f" "$OUT/$f"; }
	done
	cp "$kd/PACKAGES" "$OUT/PACKAGES"
	flock -u 9

	# initramfs = the test dumps' archive + an overlay archive with our /init and the filler
	# (the kernel unpacks concatenated archives in order; a later file replaces an earlier one)
	gcc -static -O2 -Wall -o "$work/overlay/bin/fill" "$BENCH_DIR/big-guest-fill.c"
	install -m 755 "$BENCH_DIR/big-guest-init.sh" "$work/overlay/init"
	(cd "$work/overlay" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/overlay.img"
	cat "$work/base.img" "$work/overlay.img" >"$work/initrd.img"
	cp "$work/initrd.img" "$work/diskroot/boot/initrd.img"

	# disks: vda ext4 (boot files, guest view, capture notes), vdb ext4 (the page-cache file),
	# vdc raw (the vmcore; sparse until written)
	make_disk "$work/diskroot" "$work/disk.img" 256
	mkdir -p "$work/dataroot"
	make_disk "$work/dataroot" "$work/data.img" $((CACHE_MB + 256))
	truncate -s $(((MEM + 64) * 1048576)) "$work/vmcore.img"

	local append="console=ttyS0 crashkernel=$CK panic=10 coroner.stale_mb=$STALE_MB coroner.cache_mb=$CACHE_MB coroner.anon_mb=$ANON_MB"
	qemu_cmd "$CPU" "$MEM" "$kd/vmlinuz" "$work/initrd.img" "$append" "$work/disk.img" "$work/data.img" \
		"$OUT/console.log" -drive "file=$work/vmcore.img,format=raw,if=virtio"
	quote_cmd timeout "$BIG_TIMEOUT" "${QEMU_CMD[@]}" | sed -e "s|$OUT_ROOT/||g" -e "s|$CACHE/||g" >"$work/qemu.cmd"
	say "$NAME: booting $rel (-cpu $CPU, $MEM MB, $QEMU_SMP vCPUs, crashkernel=$CK): stale $STALE_MB, cache $CACHE_MB, anon $ANON_MB MiB; console: $OUT/console.log"
	local q0 q1 rc=0
	q0=$(date +%s)
	timeout -k 10 "$BIG_TIMEOUT" "${QEMU_CMD[@]}" </dev/null >"$OUT/qemu.stderr" 2>&1 || rc=$?
	q1=$(date +%s)
	say "$NAME: QEMU exited ($rc) after $((q1 - q0)) s"
	rdump_dir "$work/disk.img" /guest-view "$OUT" || true
	rdump_dir "$work/disk.img" /dump "$work/out" || true
	debugfs -R "cat /init-errors.txt" "$work/disk.img" >"$work/init-errors.txt" 2>/dev/null || true
	if [ ! -f "$work/out/dump/CAPTURE-DONE" ]; then
		local why="no complete capture (QEMU exit $rc)"
		[ -s "$work/init-errors.txt" ] && why="$why; guest: $(tr '\n' ' ' <"$work/init-errors.txt")"
		{ echo "reason=$why"; echo "made=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; } >"$OUT/FAILED"
		rm -rf "$work"
		die "$NAME: $why (see $OUT/console.log)"
	fi
	mv "$work/out/dump/"* "$OUT/"
	# the raw disk holds /proc/vmcore from byte 0: cut it to the size and keep it
	local size
	size=$(cat "$OUT/vmcore-size.txt")
	truncate -s "$size" "$work/vmcore.img"
	mv "$work/vmcore.img" "$OUT/vmcore.elf"
	fallocate -d "$OUT/vmcore.elf" 2>/dev/null || true
	file -b "$OUT/vmcore.elf" | grep -q 'ELF 64-bit LSB core' || die "$OUT/vmcore.elf is not an ELF core: $(file -b "$OUT/vmcore.elf")"
	cp "$work/qemu.cmd" "$OUT/qemu.cmd"
	rm -rf "$work"
	write_big_provenance "$rel" "$rc" "$((q1 - q0))" "$t0"
	chmod -R a+rX "$OUT"
	echo "$hash" >"$OUT/STAMP"
	say "$NAME: done: $OUT/vmcore.elf ($size bytes, $(du -m "$OUT/vmcore.elf" | cut -f1) MB on disk)"
}

# tag_counts FILE: how many pages of each fill are in the vmcore (tag occurrences)
tag_counts() {
	python3 - "$1" <<'PY'
import sys
tags = [b"CORONER-BIG-ANON", b"CORONER-BIG-FILE", b"CORONER-BIG-FREE"]
n = dict.fromkeys(tags, 0)
tail = b""
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(64 << 20)
        if not b:
            break
        for t in tags:
            n[t] += (tail + b).count(t)
        tail = b[-15:]
for t in tags:
    print("  %s  %7d pages  %5d MiB" % (t.decode(), n[t], n[t] * 4096 >> 20))
PY
}

kb() { awk -v k="$1" '$1 == k":" { print $2 }' "$2"; }

write_big_provenance() {
	local rel=$1 rc=$2 secs=$3 t0=$4 g=$OUT/guest-view
	{
		echo "coroner benchmark dump: $NAME (the collector benchmark's \"bigger guest\"; not a test dump)"
		echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) by bench/make-big-guest.sh (hash $(cat "$OUT/STAMP" 2>/dev/null || big_hash "$rel"))"
		echo "host: $(uname -srm); $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo
		echo "== kernel"
		echo "release: $rel (the 6.1-4level test dump's, from the test dumps' kernel store)"
		sed 's/^/  /' "$OUT/PACKAGES"
		echo
		echo "== guest"
		echo "memory: $MEM MiB, $QEMU_SMP vCPUs, -cpu $CPU (4-level paging), KASLR on, crashkernel=$CK, no swap"
		echo "first kernel cmdline: $(cat "$g/cmdline.txt" 2>/dev/null || echo '?')"
		echo "kdump armed with: $(cat "$g/kexec-cmd.txt" 2>/dev/null || echo '?')"
		echo "capture kernel cmdline: $(cat "$OUT/capture-cmdline.txt" 2>/dev/null || echo '?')"
		echo "crash trigger: echo c > /proc/sysrq-trigger by the guest's /init (bench/big-guest-init.sh)"
		echo
		echo "== what is in memory (filled by bench/big-guest-fill.c before the crash)"
		echo "Each 4 KiB page starts with a 16-byte tag and its page number; its content is, by a fixed"
		echo "pseudo-random choice per page, one of: random bytes (incompressible), log-like text"
		echo "(compresses ~10x), or 2 KiB random + 2 KiB text. In equal shares:"
		echo "- free pages with stale data: a process filled $STALE_MB MiB (tag CORONER-BIG-FREE) and exited"
		echo "  before the rest was made; what the later fills did not reuse is still in the free lists"
		echo "- page cache: /data/cache.bin, $CACHE_MB MiB (tag CORONER-BIG-FILE) written to an ext4 disk"
		echo "  (vdb) and fsync'd: clean cache pages (with buffer heads: 'cache private'), vdb mounted at the crash"
		echo "- user data: pid $(sed -n 's/^pid=//p' "$g/fill-anon.txt" 2>/dev/null) holds $ANON_MB MiB anonymous (tag CORONER-BIG-ANON,"
		echo "  $(sed -n 's/^addr=//p' "$g/fill-anon.txt" 2>/dev/null)-$(sed -n 's/^end=//p' "$g/fill-anon.txt" 2>/dev/null), MADV_NOHUGEPAGE)"
		echo "fill outputs (pages of each kind):"
		for f in fill-stale fill-file fill-anon; do
			echo "  $f: $(grep -E '^(pages|pages_random|pages_text|pages_half)=' "$g/$f.txt" 2>/dev/null | tr '\n' ' ')"
		done
		echo "pages in vmcore.elf carrying each tag (counted on the host; a few are the fillers' own buffers):"
		tag_counts "$OUT/vmcore.elf"
		echo "meminfo (kB)      boot    after stale  after cache  at the crash"
		for k in MemTotal MemFree Cached Buffers AnonPages Active Inactive Dirty Slab KernelStack PageTables; do
			printf '  %-14s %11s %12s %12s %12s\n' "$k" "$(kb "$k" "$g/meminfo-boot.txt")" \
				"$(kb "$k" "$g/meminfo-after-stale.txt")" "$(kb "$k" "$g/meminfo-after-cache.txt")" "$(kb "$k" "$g/meminfo.txt")"
		done
		echo "(guest-view/meminfo.txt is /proc/meminfo just before the crash, before vda was unmounted;"
		echo " console.log ends the first kernel with /proc/meminfo after the unmount)"
		echo "full /proc/meminfo just before the crash:"
		sed 's/^/  /' "$g/meminfo.txt" 2>/dev/null || true
		echo
		echo "== QEMU (exit $rc, $secs s; $(qemu-system-x86_64 --version | head -n1))"
		cat "$OUT/qemu.cmd"
		echo "(vda: ext4 with boot/vmlinuz and boot/initrd.img = the test dumps' initramfs + an overlay"
		echo " archive with bench/big-guest-init.sh as /init and bin/fill; vdb: empty ext4 for the cache"
		echo " file; vdc: raw disk the capture kernel writes /proc/vmcore to, cut to its size = vmcore.elf)"
		echo
		echo "== capture kernel (commands, exit status, seconds)"
		cat "$OUT/commands.txt"
		echo "vmcore.elf is /proc/vmcore byte for byte (zero runs made sparse on the host with fallocate -d)"
		echo
		echo "== files (sha256, bytes)"
		(cd "$OUT" && find . -maxdepth 1 -type f ! -name PROVENANCE ! -name STAMP ! -name vmlinux ! -name vmlinuz \
			! -name System.map ! -name config -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum |
			while read -r sum f; do printf '%s  %12s  %s\n' "$sum" "$(stat -c %s "$f")" "$f"; done)
		echo
		echo "total time: $(($(date +%s) - t0)) s"
	} >"$OUT/PROVENANCE"
}

main_big "$@"
