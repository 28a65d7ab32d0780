#!/bin/busybox sh
# shellcheck shell=dash
# /init of the coroner test-dump initramfs (see make-test-dumps.sh).
#
# The same initramfs serves both the first kernel and the kdump capture
# kernel: if /proc/vmcore exists we are the capture kernel.
#
# Kernel command line parameters read here:
#   coroner.mode=kdump      first kernel: arm kdump, save the guest's view, crash
#                           capture kernel: save /proc/vmcore in every format
#   coroner.mode=sample     like kdump, but the capture kernel writes only
#                           vmcore.kdump-zlib and vmcore-dmesg.txt
#   coroner.mode=qemudump   no kdump: save the guest's view, crash, and let the
#                           host take QEMU's dump-guest-memory (pvpanic pauses)
#   coroner.kexec_append=.. extra words for the capture kernel (',' = space)
#
# Disks: /dev/vda = ext4 data disk made on the host (boot/vmlinuz,
# boot/initrd.img; we write guest-view/ and dump/ to it), /dev/vdb = swap.

/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt /run /var/tmp
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /run

log() { echo "coroner-init: $*" >/dev/console; }

fail() {
	log "FAILED: $*"
	[ -d /mnt/lost+found ] && { echo "$*" >>/mnt/init-errors.txt; sync; umount /mnt; }
	poweroff -f
	sleep 1000
}

MODE=kdump
KEXEC_APPEND=""
for w in $(cat /proc/cmdline); do
	case "$w" in
	coroner.mode=*) MODE=${w#coroner.mode=} ;;
	coroner.kexec_append=*) KEXEC_APPEND=$(echo "${w#coroner.kexec_append=}" | tr ',' ' ') ;;
	esac
done

if [ -e /proc/vmcore ]; then ROLE=capture; else ROLE=first; fi
log "role=$ROLE mode=$MODE kernel=$(uname -r)"

# Modules, in dependency order (the host wrote the list).
if [ -f /etc/coroner-modules ]; then
	for m in $(cat /etc/coroner-modules); do
		insmod "/lib/modules/$m" 2>/dev/null || log "insmod $m failed (built in?)"
	done
fi

i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || fail "no /dev/vda (virtio_blk missing?)"
mount -t ext4 /dev/vda /mnt || fail "cannot mount /dev/vda"
rm -f /mnt/init-errors.txt

# ---------------------------------------------------------------------------
# capture kernel
# ---------------------------------------------------------------------------
if [ $ROLE = capture ]; then
	D=/mnt/dump
	mkdir -p $D
	cd $D || fail "cd $D"
	LOG=$D/makedumpfile.log
	CMDS=$D/commands.txt
	makedumpfile -v >$D/makedumpfile-version.txt 2>&1
	cat /proc/cmdline >$D/capture-cmdline.txt
	uname -a >$D/capture-uname.txt
	ls -l /proc/vmcore >$D/proc-vmcore-ls.txt

	# run NAME OUTPUT-FILE CMD...  (stderr and stdout to the log)
	run() {
		name=$1
		shift
		t0=$(date +%s)
		echo "=== $name: $*" >>$LOG
		"$@" >>$LOG 2>&1
		rc=$?
		t1=$(date +%s)
		echo "=== $name: exit $rc, $((t1 - t0)) s" >>$LOG
		echo "$name	rc=$rc	secs=$((t1 - t0))	$*" >>$CMDS
		sync
	}
	# like run, but the command's stdout is the output file
	run_stdout() {
		name=$1
		shift
		t0=$(date +%s)
		echo "=== $name: $* > $name" >>$LOG
		"$@" >"$name" 2>>$LOG
		rc=$?
		t1=$(date +%s)
		echo "=== $name: exit $rc, $((t1 - t0)) s" >>$LOG
		echo "$name	rc=$rc	secs=$((t1 - t0))	$* > $name" >>$CMDS
		sync
	}

	run vmcore.kdump-zlib makedumpfile -c -d 31 /proc/vmcore vmcore.kdump-zlib
	run vmcore-dmesg.txt makedumpfile --dump-dmesg /proc/vmcore vmcore-dmesg.txt
	if [ "$MODE" != sample ]; then
		run vmcore.kdump-zlib-d23 makedumpfile -c -d 23 /proc/vmcore vmcore.kdump-zlib-d23
		run vmcore.kdump-lzo makedumpfile -l -d 31 /proc/vmcore vmcore.kdump-lzo
		run vmcore.kdump-raw makedumpfile -d 31 /proc/vmcore vmcore.kdump-raw
		run vmcore.elf-d31 makedumpfile -E -d 31 /proc/vmcore vmcore.elf-d31
		run_stdout vmcore.flat-zlib makedumpfile -F -c -d 31 /proc/vmcore
		run vmcore.split-zlib makedumpfile --split -c -d 31 /proc/vmcore vmcore.split-zlib.1 vmcore.split-zlib.2
		run vmcore.elf cp /proc/vmcore vmcore.elf
	fi
	echo ok >$D/CAPTURE-DONE
	cd /
	sync
	umount /mnt
	log "capture done, powering off"
	poweroff -f
	sleep 1000
fi

# ---------------------------------------------------------------------------
# first kernel
# ---------------------------------------------------------------------------
ifconfig lo 127.0.0.1 netmask 255.0.0.0 up
if [ -b /dev/vdb ]; then
	mkswap /dev/vdb >/dev/null && swapon /dev/vdb || log "swap setup failed"
fi

if [ $MODE != qemudump ]; then
	APPEND="console=ttyS0 irqpoll nr_cpus=1 reset_devices panic=5 coroner.mode=$MODE $KEXEC_APPEND"
	KEXEC_CMD="kexec -p /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append=\"$APPEND\""
	kexec -p /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append="$APPEND" >/tmp/kexec.log 2>&1
	if [ "$(cat /sys/kernel/kexec_crash_loaded)" != 1 ]; then
		log "kexec_load failed, trying kexec_file_load (-s)"
		KEXEC_CMD="kexec -s -p /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append=\"$APPEND\""
		kexec -s -p /mnt/boot/vmlinuz --initrd=/mnt/boot/initrd.img --append="$APPEND" >>/tmp/kexec.log 2>&1
	fi
	cat /tmp/kexec.log >/dev/console
	[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "kdump not armed (kexec_crash_loaded=0): $(cat /tmp/kexec.log)"
	log "kdump armed: $KEXEC_CMD"
fi

# A few ordinary processes, and the helper.
sleep 1000000 &
SLEEP_PID=$!
(while :; do sleep 1; done) &
LOOP_PID=$!
/bin/helper /tmp/helper-file.txt /tmp/helper-map.bin >/tmp/helper.txt 2>&1 &
HELPER_PID=$!
i=0
while ! grep -q '^ready=1' /tmp/helper.txt 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q '^ready=1' /tmp/helper.txt || fail "helper did not start: $(cat /tmp/helper.txt)"

# The guest's own view (ground truth for the analyser's tests).
if [ $MODE = qemudump ]; then G=/mnt/guest-view-qemu; else G=/mnt/guest-view; fi
rm -rf $G
mkdir -p $G/pids
cd $G || fail "cd $G"
cp /tmp/helper.txt helper.txt
echo "$HELPER_PID" >helper.pid
echo "sleep=$SLEEP_PID loop=$LOOP_PID helper=$HELPER_PID init=$$" >extra-pids.txt
[ $MODE != qemudump ] && { echo "$KEXEC_CMD" >kexec-cmd.txt; cp /tmp/kexec.log kexec.log; }
uname -a >uname.txt
for f in meminfo slabinfo zoneinfo interrupts swaps mounts cpuinfo version uptime loadavg \
	iomem modules cmdline buddyinfo vmstat kallsyms; do
	cat /proc/$f >$f.txt 2>&1
done
cat /proc/sys/kernel/tainted >tainted.txt
cat /sys/kernel/kexec_crash_loaded >kexec_crash_loaded.txt 2>&1
cat /sys/kernel/kexec_crash_size >kexec_crash_size.txt 2>&1
for f in shm sem msg; do cat /proc/sysvipc/$f >sysvipc-$f.txt; done
for f in tcp tcp6 udp unix dev arp route; do cat /proc/net/$f >net-$f.txt 2>&1; done
dmesg >dmesg.txt

# Per-process files and a ps-style listing: PID PPID STATE COMM.
echo "PID PPID STATE COMM" >ps.txt
echo "TGID TID STATE COMM" >threads.txt
for d in /proc/[0-9]*; do
	p=${d#/proc/}
	[ -f $d/stat ] || continue
	cat $d/stat >pids/$p.stat 2>/dev/null || continue
	tr '\0' ' ' <$d/cmdline >pids/$p.cmdline 2>/dev/null
	cat $d/status >pids/$p.status 2>/dev/null
	cat $d/stack >pids/$p.stack 2>/dev/null
	s=$(cat pids/$p.stat)
	comm=${s#*(}
	comm=${comm%)*}
	rest=${s##*) }
	set -- $rest
	echo "$p $2 $1 $comm" >>ps.txt
	for t in $d/task/[0-9]*; do
		ts=$(cat $t/stat 2>/dev/null) || continue
		tcomm=${ts#*(}
		tcomm=${tcomm%)*}
		trest=${ts##*) }
		set -- $trest
		echo "$p ${t##*/} $1 $tcomm" >>threads.txt
	done
done
ps -o pid,ppid,stat,comm,args >ps-busybox.txt 2>&1

# The helper process in detail.
H=/proc/$HELPER_PID
cat $H/maps >helper-maps.txt
cat $H/smaps >helper-smaps.txt
cat $H/status >helper-status.txt
cat $H/stat >helper-stat.txt
tr '\0' ' ' <$H/cmdline >helper-cmdline.txt
cat $H/stack >helper-stack.txt 2>&1
ls -l $H/fd/ >helper-fd.txt
for fd in $H/fdinfo/*; do echo "== ${fd##*/}"; cat $fd; done >helper-fdinfo.txt
date -u +%Y-%m-%dT%H:%M:%SZ >crash-time.txt
echo "echo c > /proc/sysrq-trigger" >crash-trigger.txt
echo ok >GUEST-VIEW-DONE
cd /
sync
umount /mnt || fail "cannot unmount /mnt"

log "crashing now: echo c > /proc/sysrq-trigger"
echo c >/proc/sysrq-trigger
sleep 1000
