#!/bin/bash
# make-test-dumps.sh: make REAL Linux kernel crash dumps for coroner's tests.
#
# Boots real Debian cloud kernels under QEMU (TCG), arms kdump in the guest,
# saves the guest's own view of itself (ground truth), crashes the guest with
# sysrq-c, lets the capture kernel write /proc/vmcore in every format
# makedumpfile knows, and (second boot) takes QEMU's own dump-guest-memory.
# See tests/dumps/README.md.
#
# usage:
#   make-test-dumps.sh [--force] [--retry-failed] [NAME...]
#   make-test-dumps.sh --sample OUTDIR
#   make-test-dumps.sh --list
# NAMEs: 5.10-4level 6.1-4level 6.1-5level 6.1-nokaslr 6.12-4level 7.2-4level (default: all)
#
# environment:
#   CORONER_TEST_DUMPS     cache directory (default ~/.cache/coroner/test-dumps)
#   CORONER_QEMU_TIMEOUT   seconds allowed for one QEMU run (default 420)
#   CORONER_DEBIAN_MIRROR  Debian archive URI (default: taken from /etc/apt)
#   CORONER_SECURITY_MIRROR  Debian security archive URI (default: from /etc/apt)
#   CORONER_QEMU_DUMP      "all" (default), "6.1" (6.1-4level only) or "none"
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${CORONER_TEST_DUMPS:-$HOME/.cache/coroner/test-dumps}
QEMU_TIMEOUT=${CORONER_QEMU_TIMEOUT:-420}
QEMU_DUMP=${CORONER_QEMU_DUMP:-all}
export PATH=$PATH:/usr/sbin:/sbin
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

ALL_NAMES=(5.10-4level 6.1-4level 6.1-5level 6.1-nokaslr 6.12-4level 7.2-4level)
# The name whose success decides the exit status.
REQUIRED_NAME=6.1-4level
# Bump when the layout of the kernel store (_kernels/<rel>/) changes.
KSTORE_VERSION=1
# Modules the guest needs, loaded in this order (plus their dependencies).
# Missing ones are assumed built in.
WANT_MODULES="virtio_pci virtio_blk crc32c_generic ext4 qemu_fw_cfg pvpanic pvpanic_mmio pvpanic_pci"
HOST_PACKAGES="qemu-system-x86 makedumpfile kexec-tools busybox-static e2fsprogs cpio xz-utils zstd gcc libc6-dev python3 file util-linux coreutils crash"

# --- per-name configuration --------------------------------------------------
name_series() { echo "${1%%-*}"; }
name_cpu() { case $1 in *-5level) echo "max" ;; *) echo "max,la57=off" ;; esac; }
name_mem() { echo 768; }
name_crashkernel() { echo 192M; }
# Extra first-kernel command-line words: 6.1-nokaslr boots with KASLR off (KERNELOFFSET 0).
name_append() { case $1 in *-nokaslr) echo " nokaslr" ;; esac; }
name_qemudump() {
	case $QEMU_DUMP in
	all) case $1 in *-nokaslr) return 1 ;; esac; return 0 ;;
	6.1) [ "$1" = 6.1-4level ] ;;
	*) return 1 ;;
	esac
}

# --- small helpers ------------------------------------------------------------
ts() { date +%H:%M:%S; }
say() { echo "[$(ts)] $*" >&2; }
die() {
	say "ERROR: $*"
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
	exit "${1:-0}"
}

script_hash() {
	cat "$SCRIPT_DIR/make-test-dumps.sh" "$SCRIPT_DIR/helper.c" \
		"$SCRIPT_DIR/guest-init.sh" "$SCRIPT_DIR/qmp-dump.py" "$SCRIPT_DIR/check-dumps.sh" | sha256sum | cut -d' ' -f1
}

# --- host packages -------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
	if [ $APT_UPDATED = 0 ]; then
		say "apt-get update"
		apt-get update -qq >&2 || say "apt-get update failed (continuing)"
		APT_UPDATED=1
	fi
}

ensure_host_packages() {
	local missing=() p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} = 0 ] && return 0
	say "installing host packages: ${missing[*]}"
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
		apt_update_once
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
	fi
}

# --- apt: which mirror, which lists --------------------------------------------
# The mirror is never written into this file: it is read from the machine's
# own apt configuration (one-line .list files and deb822 .sources files).
apt_uris() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# skip stanzas marked Enabled: no
		awk 'BEGIN{IGNORECASE=1}
		     /^[[:space:]]*$/ { if (u != "" && en) print u; u=""; en=1; next }
		     /^URIs:/ { u=$2 }
		     /^Enabled:[[:space:]]*no/ { en=0 }
		     END { if (u != "" && en) print u }' en=1 "$f"
	done
}

DEBIAN_MIRROR=""
SECURITY_MIRROR=""
find_mirrors() {
	[ -n "$DEBIAN_MIRROR" ] && return 0
	DEBIAN_MIRROR=${CORONER_DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian/?$' | head -n1 || true)}
	SECURITY_MIRROR=${CORONER_SECURITY_MIRROR:-$(apt_uris | grep -E '/debian-security/?$' | head -n1 || true)}
	DEBIAN_MIRROR=${DEBIAN_MIRROR%/}
	SECURITY_MIRROR=${SECURITY_MIRROR%/}
	[ -n "$DEBIAN_MIRROR" ] || die "no Debian archive URI in /etc/apt (set CORONER_DEBIAN_MIRROR)"
}

# apt_opts SET: fills APT_OPTS for a private list set ("system" = the host's own
# apt configuration).  Private sets: bullseye, trixie, sid.
declare -A PRIVATE_UPDATED=()
APT_OPTS=()
apt_opts() {
	local set=$1
	APT_OPTS=(-o APT::Sandbox::User=root)
	[ "$set" = system ] && return 0
	find_mirrors
	local d=$CACHE/_apt/$set kr=/usr/share/keyrings/debian-archive-keyring.gpg
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	{
		case $set in
		bullseye) echo "deb [signed-by=$kr] $DEBIAN_MIRROR bullseye main"
			echo "deb [signed-by=$kr] $DEBIAN_MIRROR bullseye-updates main"
			if [ -n "$SECURITY_MIRROR" ]; then echo "deb [signed-by=$kr] $SECURITY_MIRROR bullseye-security main"; fi ;;
		trixie) echo "deb [signed-by=$kr] $DEBIAN_MIRROR trixie main"
			echo "deb [signed-by=$kr] $DEBIAN_MIRROR trixie-updates main"
			if [ -n "$SECURITY_MIRROR" ]; then echo "deb [signed-by=$kr] $SECURITY_MIRROR trixie-security main"; fi ;;
		sid) echo "deb [signed-by=$kr] $DEBIAN_MIRROR sid main" ;;
		*) die "unknown apt set $set" ;;
		esac
	} >"$d/sources.list"
	APT_OPTS+=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
	# update the private lists at most once an hour
	if [ -z "${PRIVATE_UPDATED[$set]:-}" ] && [ -z "$(find "$d/updated" -mmin -60 2>/dev/null)" ]; then
		say "apt-get update ($set lists)"
		if apt-get "${APT_OPTS[@]}" update -qq >&2; then touch "$d/updated"; else say "apt-get update for $set failed"; fi
	fi
	PRIVATE_UPDATED[$set]=1
}

# apt sets searched for a kernel series, and the regexp its release must match
series_sets() {
	case $1 in
	5.10) echo bullseye ;;
	6.1) echo system ;;
	6.12) echo "system trixie" ;;
	7.2) echo sid ;;
	*) die "unknown series $1" ;;
	esac
}
series_regex() {
	case $1 in
	5.10) echo '^5\.10\.0-[0-9]+-cloud-amd64$' ;;
	6.1) echo '^6\.1\.0-[0-9]+-cloud-amd64$' ;;
	6.12) echo '^6\.12\.[0-9]+\+deb1[2-9]-cloud-amd64$' ;;
	7.2) echo '^7\.2\.[0-9]+\+deb[0-9]+-cloud-amd64$' ;;
	esac
}

pkg_version() { # SET PKG -> candidate version or nothing
	apt_opts "$1"
	apt-cache "${APT_OPTS[@]}" show --no-all-versions "$2" 2>/dev/null |
		awk '/^Version:/ { print $2; exit }' || true
}

# pkg_policy SET PKG...: one line per package: "PKG CANDIDATE URI SUITE/COMPONENT"
pkg_policy() {
	local set=$1
	shift
	apt_opts "$set"
	apt-cache "${APT_OPTS[@]}" policy "$@" 2>/dev/null | awk '
		/^[^ ].*:$/ { if (p != "") print p, c, o; p = substr($0, 1, length($0) - 1); c = o = v = ""; next }
		/^  Candidate:/ { c = $2 }
		/^ +(\*\*\* )?[^ ]+ -?[0-9]+$/ { v = ($1 == "***") ? $2 : $1; next }
		/^ +-?[0-9]+ [a-z]+:\/\// { if (v == c && o == "") o = $2 " " $3 }
		END { if (p != "") print p, c, o }' || true
}

# resolve_kernel SERIES: the kernels of a series the apt lists offer, as
# parallel arrays C_SET C_REL C_VER C_ORIGIN (unsorted)
C_SET=() C_REL=() C_VER=() C_ORIGIN=()
resolve_kernel() {
	local series=$1 set rel ver re pkg origin pkgs
	C_SET=() C_REL=() C_VER=() C_ORIGIN=()
	re=$(series_regex "$series")
	for _ in 1 2; do
		for set in $(series_sets "$series"); do
			apt_opts "$set"
			pkgs=$(apt-cache "${APT_OPTS[@]}" pkgnames linux-image- 2>/dev/null |
				sed -n -E 's/^linux-image-(.*)-dbg$/\1/p' | grep -E "$re" | sed 's/.*/linux-image-&-dbg/' || true)
			[ -n "$pkgs" ] || continue
			# shellcheck disable=SC2086
			while read -r pkg ver origin; do
				case $ver in "" | "(none)") continue ;; esac
				rel=${pkg#linux-image-}
				C_SET+=("$set") C_REL+=("${rel%-dbg}") C_VER+=("$ver") C_ORIGIN+=("${origin:-?}")
			done < <(pkg_policy "$set" $pkgs)
		done
		[ ${#C_REL[@]} -gt 0 ] && break
		# nothing found: the host's lists may be missing or stale
		[ $APT_UPDATED = 1 ] && break
		apt_update_once
	done
	[ ${#C_REL[@]} -gt 0 ]
}

# ensure_kernel SERIES: makes _kernels/<rel>/ for the newest kernel of SERIES
# that can be downloaded, and sets K_DIR, K_REL.  When a download fails (an
# archive that lists packages it does not serve), every candidate from that
# archive is dropped and the next newest is tried.
ensure_kernel() {
	local series=$1 i best kd re
	declare -A bad_origin=()
	if resolve_kernel "$series"; then
		while :; do
			best=""
			for i in "${!C_REL[@]}"; do
				[ -n "${bad_origin[${C_ORIGIN[$i]}]:-}" ] && continue
				if [ -z "$best" ] || dpkg --compare-versions "${C_VER[$i]}" gt "${C_VER[$best]}"; then best=$i; fi
			done
			[ -n "$best" ] || break
			if get_kernel "${C_SET[$best]}" "${C_REL[$best]}" "${C_VER[$best]}" "$series"; then return 0; fi
			say "giving up on packages from ${C_ORIGIN[$best]:-?} for $series"
			bad_origin[${C_ORIGIN[$best]}]=1
		done
	fi
	# offline, or nothing downloadable: use the newest kernel already extracted
	re=$(series_regex "$series")
	for kd in $(ls -d "$CACHE"/_kernels/*/ 2>/dev/null | sort -V -r); do
		kd=${kd%/}
		if echo "${kd##*/}" | grep -qE "$re" && kstore_complete "$kd"; then
			say "using the $series kernel already extracted: ${kd##*/}"
			K_DIR=$kd K_REL=${kd##*/}
			return 0
		fi
	done
	return 1
}

kstore_hashes() { # KDIR: sha256 of the kernel's files, once
	local f list=()
	[ -s "$1/SHA256SUMS" ] && return 0
	for f in vmlinux vmlinuz System.map config; do
		if [ -f "$1/$f" ]; then list+=("$f"); fi
	done
	(cd "$1" && sha256sum "${list[@]}" >SHA256SUMS.new && mv SHA256SUMS.new SHA256SUMS)
}

kstore_complete() { [ -f "$1/COMPLETE" ] && [ "$(cat "$1/COMPLETE")" = "v$KSTORE_VERSION $WANT_MODULES" ]; }

# --- kernel store: _kernels/<rel>/ ------------------------------------------------
decompress() { # FILE -> stdout
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

mod_name() { # path -> module name
	local b=${1##*/}
	b=${b%%.ko*}
	echo "${b//-/_}"
}

# select_modules MODDIR OUTDIR: copy WANT_MODULES and their dependencies,
# decompressed, to OUTDIR and write OUTDIR/load-order (dependencies first).
select_modules() {
	local moddir=$1 out=$2 f n
	declare -A path=() done_=()
	while IFS= read -r f; do
		path[$(mod_name "$f")]=$f
	done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	mkdir -p "$out"
	: >"$out/load-order"
	add_module() {
		local m=$1 deps d
		[ -n "${done_[$m]:-}" ] && return 0
		done_[$m]=1
		[ -n "${path[$m]:-}" ] || return 0 # built in, or not in this kernel
		deps=$(decompress "${path[$m]}" | tr '\0' '\n' | grep -a -m1 '^depends=' | cut -d= -f2 | tr ',' ' ' || true)
		for d in $deps; do add_module "${d//-/_}"; done
		decompress "${path[$m]}" >"$out/$m.ko"
		echo "$m.ko" >>"$out/load-order"
	}
	for n in $WANT_MODULES; do add_module "$n"; done
}

# get_kernel SET REL VERSION SERIES: download and extract one kernel
get_kernel() {
	local set=$1 rel=$2 ver=$3 series=$4 kd stage debs p
	kd=$CACHE/_kernels/$rel
	K_DIR=$kd K_REL=$rel
	if kstore_complete "$kd"; then
		say "kernel $rel ($ver) already extracted"
		return 0
	fi
	say "kernel $series: $rel version $ver (apt lists: $set)"
	rm -rf "$kd"
	stage=$CACHE/_kernels/.stage-$rel
	debs=$CACHE/_debs/$rel
	rm -rf "$stage" "$debs"
	mkdir -p "$stage" "$debs" "$kd"
	apt_opts "$set"
	local pkgs=("linux-image-$rel-dbg")
	if [ -n "$(pkg_version "$set" "linux-image-$rel-unsigned")" ]; then
		pkgs+=("linux-image-$rel-unsigned")
	else # newer packaging: the image is split in binary + modules + base
		for p in "linux-binary-unsigned-$rel" "linux-modules-$rel" "linux-base-$rel"; do
			[ -n "$(pkg_version "$set" "$p")" ] && pkgs+=("$p")
		done
	fi
	local spec=()
	for p in "${pkgs[@]}"; do spec+=("$p=$(pkg_version "$set" "$p")"); done
	say "downloading ${spec[*]}"
	(cd "$debs" && apt-get "${APT_OPTS[@]}" download -qq "${spec[@]}" >&2) ||
		{ rm -rf "$stage" "$debs" "$kd"; return 1; }
	{
		echo "apt_lists=$set"
		echo "release=$rel"
		for p in "$debs"/*.deb; do
			echo "package=$(dpkg-deb -f "$p" Package) $(dpkg-deb -f "$p" Version) sha256=$(sha256sum "$p" | cut -d' ' -f1) file=${p##*/}"
		done
	} >"$kd/PACKAGES"
	say "extracting"
	for p in "$debs"/*.deb; do
		case $p in
		*-dbg_*)
			# only vmlinux and System.map: named from the package's md5sums so that
			# tar can stop reading (--occurrence) once it has them
			local members
			members=$(dpkg-deb --ctrl-tarfile "$p" | tar -xO ./md5sums 2>/dev/null | awk '{ print $2 }' |
				grep -E '^usr/lib/debug/(boot/(vmlinux|System\.map)-[^/]+|lib/modules/[^/]+/(vmlinux|System\.map)|vmlinux-[^/]+)$' |
				sed 's|^|./|' || true)
			if [ -n "$members" ]; then
				# shellcheck disable=SC2086
				{ dpkg-deb --fsys-tarfile "$p" 2>/dev/null | tar -x -C "$stage" --occurrence=1 $members; } || true
			else
				dpkg-deb --fsys-tarfile "$p" | tar -x -C "$stage" --exclude='*/kernel/*' \
					--exclude='*.ko' --exclude='*.ko.*' --exclude='*/.build-id/*' --exclude='*/vdso/*'
			fi ;;
		*) dpkg-deb --fsys-tarfile "$p" | tar -x -C "$stage" ;;
		esac
	done
	rm -rf "$debs"
	local moddir="" f
	for f in "$stage/lib/modules/$rel" "$stage/usr/lib/modules/$rel"; do
		[ -d "$f/kernel" ] && moddir=$f
	done
	[ -n "$moddir" ] || { rm -rf "$stage"; say "no modules directory in the packages"; return 1; }
	# vmlinux with DWARF
	for f in "$stage/usr/lib/debug/boot/vmlinux-$rel" "$stage/usr/lib/debug/lib/modules/$rel/vmlinux" \
		"$stage/usr/lib/debug/vmlinux-$rel"; do
		if [ -e "$f" ]; then mv "$(readlink -f "$f")" "$kd/vmlinux" && break; fi
	done
	# vmlinuz
	for f in "$stage/boot/vmlinuz-$rel" "$moddir/vmlinuz" "$moddir/vmlinuz.unsigned"; do
		[ -f "$f" ] && { mv "$f" "$kd/vmlinuz"; break; }
	done
	# System.map: the image's, unless it is only a pointer to the -dbg package
	for f in "$stage/boot/System.map-$rel" "$moddir/System.map" \
		"$stage/usr/lib/debug/lib/modules/$rel/System.map" "$stage/usr/lib/debug/boot/System.map-$rel"; do
		if [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 4096 ]; then mv "$f" "$kd/System.map" && break; fi
	done
	for f in "$stage/boot/config-$rel" "$moddir/config"; do
		[ -f "$f" ] && { mv "$f" "$kd/config"; break; }
	done
	select_modules "$moddir" "$kd/modules"
	rm -rf "$stage"
	[ -f "$kd/vmlinux" ] && [ -f "$kd/vmlinuz" ] || { say "vmlinux or vmlinuz missing in the packages"; return 1; }
	kstore_hashes "$kd"
	echo "kernel_package_version=$ver" >>"$kd/PACKAGES"
	echo "modules=$(tr '\n' ' ' <"$kd/modules/load-order")" >>"$kd/PACKAGES"
	echo "v$KSTORE_VERSION $WANT_MODULES" >"$kd/COMPLETE"
}

# --- initramfs -----------------------------------------------------------------------
build_helper() { # -> $CACHE/_tools/helper
	mkdir -p "$CACHE/_tools"
	gcc -static -O2 -Wall -o "$CACHE/_tools/helper.new" "$SCRIPT_DIR/helper.c"
	mv "$CACHE/_tools/helper.new" "$CACHE/_tools/helper"
}

copy_with_libs() { # BINARY ROOT
	local bin=$1 root=$2 lib
	mkdir -p "$root$(dirname "$bin")"
	cp -L "$bin" "$root$bin"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# build_initramfs KDIR OUT
build_initramfs() {
	local kd=$1 out=$2 root
	root=$(mktemp -d "$CACHE/_tmp/initramfs.XXXXXX")
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,mnt,run,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	ldd "$root/bin/busybox" >/dev/null 2>&1 && die "/bin/busybox is not static (install busybox-static)"
	install -m 755 "$SCRIPT_DIR/guest-init.sh" "$root/init"
	install -m 755 "$CACHE/_tools/helper" "$root/bin/helper"
	copy_with_libs "$(command -v kexec)" "$root"
	copy_with_libs "$(command -v makedumpfile)" "$root"
	cp "$kd"/modules/*.ko "$root/lib/modules/" 2>/dev/null || true
	cp "$kd/modules/load-order" "$root/etc/coroner-modules"
	mknod -m 600 "$root/dev/console" c 5 1
	mknod -m 666 "$root/dev/null" c 1 3
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out"
	rm -rf "$root"
}

# make_disk DIR IMG SIZE_MB: ext4 image holding DIR
make_disk() {
	local dir=$1 img=$2 mb=$3 opts=()
	grep -q orphan_file /etc/mke2fs.conf 2>/dev/null && opts=(-O ^orphan_file)
	rm -f "$img"
	truncate -s "${mb}M" "$img"
	mkfs.ext4 -q -F -L coroner "${opts[@]}" -d "$dir" "$img" >&2
}

# rdump_dir IMG DIR-IN-IMAGE OUTDIR: copy a directory out of an ext4 image
rdump_dir() {
	local img=$1 src=$2 out=$3
	mkdir -p "$out"
	debugfs -R "rdump $src $out" "$img" >/dev/null 2>&1 || true
	[ -d "$out/${src##*/}" ]
}

# --- one QEMU run ----------------------------------------------------------------------
QEMU_CMD=()
# qemu_cmd CPU MEM KERNEL INITRD APPEND DISK SWAP CONSOLE [extra args...]
qemu_cmd() {
	local cpu=$1 mem=$2 kernel=$3 initrd=$4 append=$5 disk=$6 swap=$7 console=$8
	shift 8
	QEMU_CMD=(qemu-system-x86_64 -nodefaults -no-user-config -accel tcg,thread=multi
		-machine pc -cpu "$cpu" -smp "${QEMU_SMP:-2}" -m "$mem"
		-kernel "$kernel" -initrd "$initrd" -append "$append"
		-drive "file=$disk,format=raw,if=virtio" -drive "file=$swap,format=raw,if=virtio"
		-display none -nic none -no-reboot -serial "file:$console" "$@")
}

# print a command line with shell quoting, paths relative to the work dir
quote_cmd() {
	local a out=""
	for a in "$@"; do out+=" $(printf '%q' "$a")"; done
	echo "${out# }"
}

# --- one test dump ------------------------------------------------------------------------
# run_name NAME: (runs in a subshell) makes $CACHE/NAME/
run_name() {
	local name=$1 series cpu mem ck nd work t0
	series=$(name_series "$name")
	cpu=$(name_cpu "$name")
	mem=$(name_mem "$name")
	ck=$(name_crashkernel "$name")
	nd=$CACHE/$name
	work=$CACHE/_tmp/$name
	t0=$(date +%s)
	FAIL_FILE=$nd/FAILED
	fail_cached() { # boot/dump failures: cached until the script changes
		{ echo "hash=$HASH"; echo "reason=$*"; } >"$FAIL_FILE"
		say "$name FAILED: $*"
		exit 1
	}
	fail_retry() { # download problems: tried again next run
		{ echo "hash=retry"; echo "reason=$*"; } >"$FAIL_FILE"
		say "$name FAILED: $*"
		exit 1
	}
	# (set -E: the trap also runs in command substitutions; act only here)
	RUN_SUBSHELL=$BASH_SUBSHELL
	trap '[ $BASH_SUBSHELL = $RUN_SUBSHELL ] && fail_retry "unexpected error at line $LINENO: $BASH_COMMAND"' ERR

	rm -rf "$nd" "$work"
	mkdir -p "$nd" "$work"
	ensure_kernel "$series" || fail_retry "could not resolve/download/extract a $series cloud kernel"
	local kd=$K_DIR rel=$K_REL f
	kstore_hashes "$kd"
	for f in vmlinux vmlinuz System.map config; do
		[ -f "$kd/$f" ] && ln -f "$kd/$f" "$nd/$f"
	done
	cp "$kd/PACKAGES" "$nd/PACKAGES"
	build_initramfs "$kd" "$work/initrd.img"

	# --- boot 1: kdump ---
	local disk=$work/disk.img swap=$work/swap.img append disk_mb
	mkdir -p "$work/diskroot/boot"
	cp "$kd/vmlinuz" "$work/diskroot/boot/vmlinuz"
	cp "$work/initrd.img" "$work/diskroot/boot/initrd.img"
	disk_mb=$((mem * 2 + 768))
	make_disk "$work/diskroot" "$disk" "$disk_mb"
	truncate -s 64M "$swap"
	append="console=ttyS0 crashkernel=$ck panic=10 coroner.mode=kdump$(name_append "$name")"
	qemu_cmd "$cpu" "$mem" "$kd/vmlinuz" "$work/initrd.img" "$append" "$disk" "$swap" "$nd/console.log"
	echo "$(quote_cmd timeout "$QEMU_TIMEOUT" "${QEMU_CMD[@]}")" | sed "s|$CACHE/||g" >"$work/qemu-kdump.cmd"
	say "$name: booting $rel under QEMU (-cpu $cpu, ${mem} MB, crashkernel=$ck): kdump run"
	local q0 q1 rc=0
	q0=$(date +%s)
	timeout -k 10 "$QEMU_TIMEOUT" "${QEMU_CMD[@]}" </dev/null >"$work/qemu-kdump.stderr" 2>&1 || rc=$?
	q1=$(date +%s)
	say "$name: QEMU exited ($rc) after $((q1 - q0)) s"
	[ $rc = 124 ] && echo "(QEMU killed by timeout after ${QEMU_TIMEOUT}s)" >>"$work/qemu-kdump.stderr"
	cp "$work/qemu-kdump.stderr" "$nd/qemu-kdump.stderr"
	rdump_dir "$disk" /guest-view "$nd" || true
	rdump_dir "$disk" /dump "$work/out" || true
	debugfs -R "cat /init-errors.txt" "$disk" >"$work/init-errors.txt" 2>/dev/null || true
	rm -f "$disk" "$swap"
	if [ ! -f "$work/out/dump/CAPTURE-DONE" ] || [ ! -s "$work/out/dump/vmcore.kdump-zlib" ]; then
		local why="kdump run did not produce vmcore.kdump-zlib (QEMU exit $rc)"
		[ -s "$work/init-errors.txt" ] && why="$why; guest: $(tr '\n' ' ' <"$work/init-errors.txt")"
		[ -f "$nd/guest-view/GUEST-VIEW-DONE" ] || why="$why; first kernel did not finish (see console.log)"
		grep -q 'Kernel panic' "$nd/console.log" 2>/dev/null && why="$why; console shows a panic"
		fail_cached "$why"
	fi
	mv "$work/out/dump/"* "$nd/"
	echo "$rc" >"$work/qemu-kdump.rc"
	echo "$((q1 - q0))" >"$work/qemu-kdump.secs"

	# --- boot 2: QEMU's own dump ---
	local qd_note="not made (CORONER_QEMU_DUMP=$QEMU_DUMP)"
	if name_qemudump "$name"; then
		mkdir -p "$work/diskroot2"
		make_disk "$work/diskroot2" "$disk" 128
		truncate -s 64M "$swap"
		rm -f "$work/qmp.sock"
		append="console=ttyS0 coroner.mode=qemudump"
		qemu_cmd "$cpu" "$mem" "$kd/vmlinuz" "$work/initrd.img" "$append" "$disk" "$swap" "$nd/console-qemudump.log" \
			-device vmcoreinfo -device pvpanic -action panic=pause -qmp "unix:$work/qmp.sock,server=on,wait=off"
		echo "$(quote_cmd timeout "$QEMU_TIMEOUT" "${QEMU_CMD[@]}")" | sed "s|$CACHE/||g" >"$work/qemu-qemudump.cmd"
		say "$name: booting again for QEMU's dump-guest-memory"
		q0=$(date +%s)
		timeout -k 10 "$QEMU_TIMEOUT" "${QEMU_CMD[@]}" </dev/null >"$work/qemu-qemudump.stderr" 2>&1 &
		local qpid=$! qrc=0
		python3 "$SCRIPT_DIR/qmp-dump.py" "$work/qmp.sock" "$nd/console-qemudump.log" "$((QEMU_TIMEOUT - 20))" \
			"elf:$nd/qemu.elf" "kdump-zlib:$nd/qemu.flat-zlib" >"$nd/qmp-dump.log" 2>&1 || qrc=$?
		wait $qpid || true
		q1=$(date +%s)
		say "$name: QEMU dump run took $((q1 - q0)) s (qmp-dump exit $qrc)"
		rdump_dir "$disk" /guest-view-qemu "$nd" || true
		rm -f "$disk" "$swap" "$work/qmp.sock"
		# QEMU 7.2 writes its kdump formats flattened; makedumpfile -R reassembles
		if [ -s "$nd/qemu.flat-zlib" ]; then
			makedumpfile -R "$nd/qemu.kdump-zlib" <"$nd/qemu.flat-zlib" >>"$nd/qmp-dump.log" 2>&1 || qrc=$?
		fi
		if [ $qrc = 0 ] && [ -s "$nd/qemu.elf" ] && [ -s "$nd/qemu.kdump-zlib" ]; then
			qd_note="ok: $(grep 'guest panicked' "$nd/qmp-dump.log" | sed 's/^qmp-dump: //' || true)"
		else
			qd_note="FAILED (qmp-dump exit $qrc, see qmp-dump.log)"
			echo "$qd_note" >"$nd/QEMU-DUMP-FAILED"
		fi
	fi

	chmod -R a+rX "$nd"
	# big dump files: make zero runs sparse (same bytes, less disk)
	for f in "$nd"/vmcore.elf "$nd"/vmcore.elf-d31 "$nd"/qemu.elf "$nd"/vmcore.kdump-raw; do
		[ -f "$f" ] && fallocate -d "$f" 2>/dev/null || true
	done
	write_provenance "$name" "$rel" "$cpu" "$mem" "$ck" "$work" "$qd_note" "$t0"
	rm -rf "$work"
	echo "$HASH" >"$nd/STAMP"
	trap - ERR
	# self-check; also saves crash's view (crash-sys.txt, crash-help-D.txt)
	local crc=0
	CORONER_TEST_DUMPS=$CACHE bash "$SCRIPT_DIR/check-dumps.sh" "$name" >"$nd/check.log" 2>&1 || crc=$?
	say "$name: check-dumps.sh: $(tail -n1 "$nd/check.log") (exit $crc)"
}

write_provenance() {
	local name=$1 rel=$2 cpu=$3 mem=$4 ck=$5 work=$6 qd_note=$7 t0=$8 nd=$CACHE/$1 f
	{
		echo "coroner test dump: $name"
		echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/dumps/make-test-dumps.sh (script hash $HASH)"
		echo "host: $(uname -srm); $(. /etc/os-release && echo "$PRETTY_NAME")"
		echo
		echo "== kernel"
		echo "release: $rel"
		sed 's/^/  /' "$nd/PACKAGES"
		echo "vmlinux (DWARF) from the -dbg package; vmlinuz, config, modules from the image package(s)"
		echo
		echo "== guest"
		echo "memory: $mem MB, 2 vCPUs, -cpu $cpu ($([ "$cpu" = max ] && echo "5-level paging (la57)" || echo "4-level paging")), KASLR on (default)"
		echo "first kernel cmdline: $(cat "$nd/guest-view/cmdline.txt" 2>/dev/null || echo '?')"
		echo "kdump armed with: $(cat "$nd/guest-view/kexec-cmd.txt" 2>/dev/null || echo '?')"
		echo "capture kernel cmdline: $(cat "$nd/capture-cmdline.txt" 2>/dev/null || echo '?')"
		echo "crash trigger: echo c > /proc/sysrq-trigger by the guest's /init (pid 1) on CPU $(sed -n 's/.*CPU: \([0-9]*\) .*/\1/p' "$nd/console.log" | head -n1); console.log has the kernel's own report"
		echo "guest view saved before the crash: guest-view/ (ps.txt, threads.txt, pids/, helper-*.txt, /proc files)"
		echo "helper process: tests/dumps/helper.c; $(grep -E '^(pid|magic_buf_addr)=' "$nd/guest-view/helper.txt" 2>/dev/null | tr '\n' ' ' || true)"
		echo
		echo "== QEMU (kdump run, $(qemu-system-x86_64 --version | head -n1), exit $(cat "$work/qemu-kdump.rc"), $(cat "$work/qemu-kdump.secs") s)"
		cat "$work/qemu-kdump.cmd"
		echo "(paths relative to the cache directory; the data disk vda is an ext4 image made with mkfs.ext4 -d holding boot/vmlinuz and boot/initrd.img, vdb a 64 MB swap disk)"
		echo
		echo "== makedumpfile (run in the capture kernel on /proc/vmcore; messages in makedumpfile.log)"
		head -n1 "$nd/makedumpfile-version.txt" 2>/dev/null || true
		echo "dump level 31 = exclude zero, cache, cache private, user data and free pages; 23 = the same but keep user data"
		echo "file<TAB>exit status<TAB>seconds<TAB>command"
		cat "$nd/commands.txt"
		case $rel in
		6.1[0-9].* | 6.[2-9][0-9].* | [7-9].*)
			echo "NOTE: makedumpfile 1.7.2 predates this kernel: on 6.10+ it takes slab pages for user pages"
			echo "      (PG_slab moved into page_type), so every -d 31 (-d 8+) file here LACKS SLAB PAGES"
			echo "      (task_structs, the PID xarray, ...). vmcore.kdump-zlib-d23 keeps user pages, hence slab;"
			echo "      vmcore.elf (the raw /proc/vmcore copy) has everything." ;;
		esac
		echo
		echo "== QEMU's own dump (second boot, no kdump)"
		if [ -f "$work/qemu-qemudump.cmd" ]; then
			cat "$work/qemu-qemudump.cmd"
			echo "status: $qd_note"
			echo "QMP: stop; dump-guest-memory paging=false -> qemu.elf; dump-guest-memory format=kdump-zlib -> qemu.flat-zlib"
			echo "(QEMU $(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') writes kdump formats flattened; qemu.kdump-zlib = makedumpfile -R qemu.kdump-zlib < qemu.flat-zlib on the host)"
			echo "QEMU's dumps are unfiltered: all guest RAM (dump level 0)"
			echo "(a different boot from the kdump run: other KASLR offset, other pids; its guest view is guest-view-qemu/)"
		else
			echo "$qd_note"
		fi
		echo
		echo "== files (sha256, bytes)"
		# the kernel's files were hashed once in the kernel store; the rest two at a time
		(cd "$nd" && {
			grep -E '  (vmlinux|vmlinuz|System\.map|config)$' "$CACHE/_kernels/$rel/SHA256SUMS" 2>/dev/null || true
			find . -maxdepth 1 -type f ! -name PROVENANCE ! -name STAMP ! -name vmlinux ! -name vmlinuz \
				! -name System.map ! -name config -printf '%P\0' | xargs -0 -r -n 2 -P 2 sha256sum
		} | LC_ALL=C sort -k2 | while read -r sum f; do
			printf '%s  %12s  %s\n' "$sum" "$(stat -c %s "$f")" "$f"
		done)
		echo
		echo "total time for this dump: $(($(date +%s) - t0)) s"
	} >"$nd/PROVENANCE"
}

# --- the sample dump -----------------------------------------------------------------------
make_sample() {
	local out=$1 series=6.1 cpu="max,la57=off" work rel kd t0
	local mem=${CORONER_SAMPLE_MEM:-256} ck=${CORONER_SAMPLE_CRASHKERNEL:-96M}
	QEMU_SMP=${CORONER_SAMPLE_SMP:-2}
	t0=$(date +%s)
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	ensure_kernel "$series" || die "could not get a 6.1 kernel"
	kd=$K_DIR rel=$K_REL
	work=$CACHE/_tmp/sample
	rm -rf "$work"
	mkdir -p "$work/diskroot/boot"
	build_initramfs "$kd" "$work/initrd.img"
	cp "$kd/vmlinuz" "$work/diskroot/boot/vmlinuz"
	cp "$work/initrd.img" "$work/diskroot/boot/initrd.img"
	make_disk "$work/diskroot" "$work/disk.img" 128
	truncate -s 64M "$work/swap.img"
	local append="console=ttyS0 crashkernel=$ck panic=10 coroner.mode=sample"
	qemu_cmd "$cpu" "$mem" "$kd/vmlinuz" "$work/initrd.img" "$append" "$work/disk.img" "$work/swap.img" "$work/console.log"
	say "sample: booting $rel (-cpu $cpu, ${mem} MB, crashkernel=$ck)"
	local rc=0
	timeout -k 10 "$QEMU_TIMEOUT" "${QEMU_CMD[@]}" </dev/null >"$work/qemu.stderr" 2>&1 || rc=$?
	rdump_dir "$work/disk.img" /dump "$work/out" || die "sample: no dump directory on the disk (QEMU exit $rc)"
	rdump_dir "$work/disk.img" /guest-view "$work/out" || true
	[ -s "$work/out/dump/vmcore.kdump-zlib" ] || die "sample: no vmcore.kdump-zlib (QEMU exit $rc)"
	cp "$work/out/dump/vmcore.kdump-zlib" "$work/out/dump/vmcore-dmesg.txt" "$out/"
	cp "$work/console.log" "$out/console.log"
	cp "$work/out/guest-view/ps.txt" "$out/guest-ps.txt"
	cp "$work/out/guest-view/helper.txt" "$out/guest-helper.txt"
	cp "$work/out/guest-view/uname.txt" "$out/guest-uname.txt"
	{
		echo "coroner sample dump, made $(date -u +%Y-%m-%dT%H:%M:%SZ) by: tests/dumps/make-test-dumps.sh --sample DIR"
		echo "kernel: $rel"
		sed 's/^/  /' "$kd/PACKAGES"
		echo "guest: $mem MB, $QEMU_SMP vCPUs, -cpu $cpu (4-level paging), KASLR on; $(qemu-system-x86_64 --version | head -n1)"
		echo "first kernel cmdline: $(cat "$work/out/guest-view/cmdline.txt")"
		echo "kdump armed with: $(cat "$work/out/guest-view/kexec-cmd.txt")"
		echo "crash trigger: echo c > /proc/sysrq-trigger"
		echo "capture kernel: $(head -n1 "$work/out/dump/makedumpfile-version.txt")"
		sed 's/^/  /' "$work/out/dump/commands.txt"
		echo "QEMU: $(quote_cmd "${QEMU_CMD[@]}" | sed "s|$CACHE/||g")"
		echo "files (sha256, bytes):"
		(cd "$out" && for f in vmcore.kdump-zlib vmcore-dmesg.txt console.log guest-ps.txt guest-helper.txt guest-uname.txt; do
			printf '  %s  %10s  %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
		done)
		echo "took $(($(date +%s) - t0)) s"
	} >"$out/PROVENANCE"
	rm -rf "$work"
	say "sample written to $out: $(stat -c %s "$out/vmcore.kdump-zlib") bytes"
	cat "$out/PROVENANCE"
}

# --- main -------------------------------------------------------------------------------------
main() {
	local sample="" force=0 retry=0 names=()
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage 0 ;;
		--list) printf '%s\n' "${ALL_NAMES[@]}"; exit 0 ;;
		--sample) sample=${2:?--sample needs a directory}; shift ;;
		--force) force=1 ;;
		--retry-failed) retry=1 ;;
		-*) usage 2 ;;
		*) names+=("$1") ;;
		esac
		shift
	done
	[ ${#names[@]} = 0 ] && names=("${ALL_NAMES[@]}")
	[ "$(id -u)" = 0 ] || die "run as root (apt-get install, mknod for the initramfs)"
	mkdir -p "$CACHE/_tmp"
	exec 9>"$CACHE/.lock"
	flock -w 3600 9 || die "another make-test-dumps.sh holds $CACHE/.lock"
	HASH=$(script_hash)
	local avail
	avail=$(df -Pm "$CACHE" | awk 'NR == 2 { print $4 }')
	[ "${avail:-0}" -ge 8000 ] || say "WARNING: only ${avail} MB free in $CACHE; a full set of dumps needs about 6 GB, 8 GB while working"
	local T0
	T0=$(date +%s)

	# fast path: everything cached
	if [ -z "$sample" ] && [ $force = 0 ]; then
		local n all_cached=1
		for n in "${names[@]}"; do
			[ "$(cat "$CACHE/$n/STAMP" 2>/dev/null)" = "$HASH" ] || all_cached=0
		done
		[ $all_cached = 1 ] || ensure_host_packages $HOST_PACKAGES
	else
		ensure_host_packages $HOST_PACKAGES
	fi

	if [ -n "$sample" ]; then
		build_helper
		make_sample "$sample"
		exit 0
	fi

	local n status=() secs=() rc
	for n in "${names[@]}"; do
		local s0
		s0=$(date +%s)
		case " ${ALL_NAMES[*]} " in *" $n "*) ;; *) die "unknown name $n (see --list)" ;; esac
		if [ $force = 0 ] && [ "$(cat "$CACHE/$n/STAMP" 2>/dev/null)" = "$HASH" ]; then
			status+=(cached)
		elif [ $force = 0 ] && [ $retry = 0 ] && [ "$(sed -n 's/^hash=//p' "$CACHE/$n/FAILED" 2>/dev/null)" = "$HASH" ]; then
			status+=("FAILED (cached)")
		else
			[ -x "$CACHE/_tools/helper" ] && [ "$CACHE/_tools/helper" -nt "$SCRIPT_DIR/helper.c" ] || build_helper
			say "=== $n"
			set +e
			(
				set -eE
				run_name "$n"
			)
			rc=$?
			set -e
			if [ $rc = 0 ]; then status+=(made); else status+=(FAILED); fi
		fi
		secs+=($(($(date +%s) - s0)))
	done

	# summary
	local i ok_required=0 kernel files extra
	echo
	printf '%-12s %-16s %-28s %6s %5s  %s\n' NAME STATUS KERNEL FILES SECS NOTES
	for i in "${!names[@]}"; do
		n=${names[$i]}
		kernel=$(sed -n 's/^release=//p' "$CACHE/$n/PACKAGES" 2>/dev/null || true)
		files=$(find "$CACHE/$n" -maxdepth 1 -type f \( -name 'vmcore*' -o -name 'qemu.*' \) 2>/dev/null | wc -l)
		extra=""
		case ${status[$i]} in
		FAILED*) extra=$(sed -n 's/^reason=//p' "$CACHE/$n/FAILED" 2>/dev/null || true) ;;
		*) [ -f "$CACHE/$n/QEMU-DUMP-FAILED" ] && extra="QEMU dump: $(cat "$CACHE/$n/QEMU-DUMP-FAILED")"
			grep -q 'LACKS SLAB' "$CACHE/$n/PROVENANCE" 2>/dev/null && extra="${extra:+$extra; }-d 31 files lack slab pages (makedumpfile 1.7.2), use -d23/elf"
			extra="${extra:+$extra; }check: $(tail -n1 "$CACHE/$n/check.log" 2>/dev/null || echo 'not run')" ;;
		esac
		case ${status[$i]} in made | cached) [ "$n" = "$REQUIRED_NAME" ] && ok_required=1 ;; esac
		printf '%-12s %-16s %-28s %6s %5s  %s\n' "$n" "${status[$i]}" "${kernel:--}" "$files" "${secs[$i]}" "$extra"
	done
	echo
	echo "cache: $CACHE   (total $(($(date +%s) - T0)) s)"
	case " ${names[*]} " in
	*" $REQUIRED_NAME "*) [ $ok_required = 1 ] || { echo "$REQUIRED_NAME failed: exit 1"; exit 1; } ;;
	*) for i in "${!names[@]}"; do case ${status[$i]} in FAILED*) exit 1 ;; esac; done ;;
	esac
	exit 0
}

main "$@"
