#!/bin/busybox sh
# shellcheck shell=dash
# /init of the big benchmark guest (bench/make-big-guest.sh). It is laid over the test dumps'
# initramfs (tests/dumps/make-test-dumps.sh's build_initramfs: busybox, kexec, makedumpfile,
# modules) as a second archive, so this file replaces tests/dumps/guest-init.sh there.
#
# First kernel: arm kdump, fill memory (stale data that is then freed, page cache of a file on
# /dev/vdb, anonymous memory of a process that stays), save the guest's view to /dev/vda,
# crash with sysrq-c. Capture kernel (/proc/vmcore exists): copy /proc/vmcore raw onto the
# raw disk /dev/vdc, write its size and the dmesg to /dev/vda, power off.
#
# Kernel command line: coroner.stale_mb= coroner.cache_mb= coroner.anon_mb= (MiB).
# Disks: vda ext4 (boot/vmlinuz, boot/initrd.img; guest-view/ and dump/ are written to it),
# vdb ext4 (empty: the page-cache file), vdc raw (the vmcore).

/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt /data /run
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /run

log() { echo "coroner-big: $(cut -d' ' -f1 /proc/uptime)s $*" >/dev/console; }

fail() {
	log "FAILED: $*"
	[ -d /mnt/lost+found ] && { echo "$*" >>/mnt/init-errors.txt; sync; umount /mnt; }
	poweroff -f
	sleep 1000
}

STALE_MB=3200 CACHE_MB=1024 ANON_MB=1228
for w in $(cat /proc/cmdline); do
	case "$w" in
	coroner.stale_mb=*) STALE_MB=${w#*=} ;;
	coroner.cache_mb=*) CACHE_MB=${w#*=} ;;
	coroner.anon_mb=*) ANON_MB=${w#*=} ;;
	esac
done

if [ -e /proc/vmcore ]; then ROLE=capture; else ROLE=first; fi
log "role=$ROLE kernel=$(uname -r)"

for m in $(cat /etc/coroner-modules); do
	insmod "/lib/modules/$m" 2>/dev/null || log "insmod $m failed (built in?)"
done

i=0
while [ ! -b /dev/vdc ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || fail "no /dev/vda"
mount -t ext4 /dev/vda /mnt || fail "cannot mount /dev/vda"
rm -f /mnt/init-errors.txt
[ -b /dev/vdc ] || fail "no /dev/vdc"

# ---------------------------------------------------------------------------
# capture kernel
# ---------------------------------------------------------------------------
if [ $ROLE = capture ]; then
	D=/mnt/dump
	mkdir -p $D
	cat /proc/cmdline >$D/capture-cmdline.txt
	uname -a >$D/capture-uname.txt
	ls -l /proc/vmcore >$D/proc-vmcore-ls.txt
	cat /proc/meminfo >$D/capture-meminfo.txt
	makedumpfile -v >$D/makedumpfile-version.txt 2>&1
	t0=$(date +%s)
	makedumpfile --dump-dmesg /proc/vmcore $D/vmcore-dmesg.txt >$D/dmesg.log 2>&1
	echo "vmcore-dmesg.txt	rc=$?	secs=$(($(date +%s) - t0))	makedumpfile --dump-dmesg /proc/vmcore vmcore-dmesg.txt" >>$D/commands.txt
	size=$(stat -c %s /proc/vmcore)
	echo "$size" >$D/vmcore-size.txt
	sync
	log "copying /proc/vmcore ($size bytes) to /dev/vdc"
	t0=$(date +%s)
	dd if=/proc/vmcore of=/dev/vdc bs=1M >$D/dd.log 2>&1
	rc=$?
	sync
	echo "vmcore.elf	rc=$rc	secs=$(($(date +%s) - t0))	dd if=/proc/vmcore of=/dev/vdc bs=1M (raw disk; the host cuts it to $size bytes)" >>$D/commands.txt
	log "copy done: exit $rc, $(($(date +%s) - t0)) s"
	[ $rc = 0 ] && echo ok >$D/CAPTURE-DONE
	sync
	umount /mnt
	log "capture done, powering off"
	poweroff -f
	sleep 1000
fi

# ---------------------------------------------------------------------------
# first kernel
# ---------------------------------------------------------------------------
APPEND="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=5 coroner.mode=big"
KEXEC_CMD="kexec -p /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append=\"$APPEND\""
kexec -p /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append="$APPEND" >/tmp/kexec.log 2>&1
cat /tmp/kexec.log >/dev/console
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "kdump not armed: $(cat /tmp/kexec.log)"
log "kdump armed: $KEXEC_CMD"

G=/mnt/guest-view
rm -rf $G
mkdir -p $G
cat /proc/meminfo >$G/meminfo-boot.txt

# 1. stale data: a process fills STALE_MB and exits; its pages are free but not zero
log "stale: filling $STALE_MB MiB, then freeing it"
/bin/fill stale "$STALE_MB" >$G/fill-stale.txt 2>&1 || fail "fill stale: $(cat $G/fill-stale.txt)"
cat /proc/meminfo >$G/meminfo-after-stale.txt

# 2. page cache: a file on vdb, written and synced (clean cache pages, kept: vdb stays mounted)
mount -t ext4 /dev/vdb /data || fail "cannot mount /dev/vdb"
log "cache: writing $CACHE_MB MiB to /data/cache.bin"
/bin/fill file /data/cache.bin "$CACHE_MB" >$G/fill-file.txt 2>&1 || fail "fill file: $(cat $G/fill-file.txt)"
sync
cat /proc/meminfo >$G/meminfo-after-cache.txt

# 3. user data: a process fills ANON_MB of anonymous memory and keeps it
log "anon: filling $ANON_MB MiB of a process's memory"
/bin/fill anon "$ANON_MB" >/tmp/fill-anon.txt 2>&1 &
ANON_PID=$!
i=0
while ! grep -q '^ready=1' /tmp/fill-anon.txt 2>/dev/null && [ $i -lt 6000 ]; do sleep 0.2; i=$((i + 1)); done
grep -q '^ready=1' /tmp/fill-anon.txt || fail "fill anon did not finish: $(cat /tmp/fill-anon.txt)"
log "memory filled"

# The guest's own view, just before the crash.
cp /tmp/fill-anon.txt $G/fill-anon.txt
echo "$KEXEC_CMD" >$G/kexec-cmd.txt
cp /tmp/kexec.log $G/kexec.log
uname -a >$G/uname.txt
for f in meminfo vmstat buddyinfo zoneinfo slabinfo iomem cmdline cpuinfo version uptime; do
	cat /proc/$f >$G/$f.txt 2>&1
done
cat /sys/kernel/kexec_crash_size >$G/kexec_crash_size.txt
for f in status smaps_rollup maps stat; do cat /proc/$ANON_PID/$f >$G/fill-anon-$f.txt 2>&1; done
ls -l /data >$G/data-ls.txt
echo "PID PPID STATE COMM" >$G/ps.txt
for d in /proc/[0-9]*; do
	s=$(cat $d/stat 2>/dev/null) || continue
	comm=${s#*(}
	comm=${comm%)*}
	set -- ${s##*) }
	echo "${d#/proc/} $2 $1 $comm" >>$G/ps.txt
done
dmesg >$G/dmesg.txt
date -u +%Y-%m-%dT%H:%M:%SZ >$G/crash-time.txt
echo ok >$G/GUEST-VIEW-DONE
cd /
sync
umount /mnt || fail "cannot unmount /mnt"
# the last word, on the console: meminfo after vda's unmount (vdb stays mounted)
echo "coroner-big: meminfo at the crash:" >/dev/console
cat /proc/meminfo >/dev/console
log "crashing now: echo c > /proc/sysrq-trigger"
echo c >/proc/sysrq-trigger
sleep 1000
