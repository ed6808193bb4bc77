#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs inside the test guest (busybox sh; tools from the image on /usr). Drives open-iscsi
# against the target and reports on fd 3, one line each: "STEP name PASS|FAIL seconds detail",
# "INFO ...", "EVENT name" (the host may act on it), "DMESG line", "DONE pass|fail".
# Usage: guest.sh SCENARIO IQN PORTAL[,PORTAL] [FIO_SECONDS] [LUN_BYTES]
#   SCENARIO: basic | digest (basic with CRC32C digests) | multipath | recovery | stress
# shellcheck disable=SC2317 # functions run through step/must
set -u

SCEN=${1:-basic}
IQN=${2:-}
PORTALS=$(echo "${3:-}" | tr , ' ')
FIO_SECS=${4:-10}
LUN_BYTES=${5:-0}
P1=${PORTALS%% *}
# busybox prefers its own applets over PATH: name the real tools explicitly.
MKFS=/usr/sbin/mke2fs
FSCK=/usr/sbin/e2fsck
FIO=/usr/sbin/fio
FAILED=0
OUT=/tmp/out

say() { echo "$*" >&3; echo "guest: $*"; }
now() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }

# step NAME CMD...: run CMD, report PASS/FAIL with its duration; on failure send its output.
step() {
	local name="$1" t0 rc t secs
	shift
	t0=$(now)
	"$@" >"$OUT" 2>&1
	rc=$?
	t=$(($(now) - t0))
	secs=$((t / 100)).$(printf %02d $((t % 100)))
	if [ $rc -eq 0 ]; then
		say "STEP $name PASS $secs"
	else
		say "STEP $name FAIL $secs rc=$rc"
		sed 's/^/OUT /' "$OUT" | tail -n 40 >&3
		FAILED=1
	fi
	cat "$OUT"
	return $rc
}

finish() {
	dmesg | sed 's/^/DMESG /' >&3
	sed 's/^/ISCSID /' /tmp/iscsid.log >&3 2>/dev/null
	if [ $FAILED -eq 0 ]; then say "DONE pass"; else say "DONE fail"; fi
	exit 0
}

# must NAME CMD...: a step the rest depends on.
must() { step "$@" || finish; }

start_iscsid() {
	echo "InitiatorName=iqn.2026-11.org.utgt:guest" >/etc/iscsi/initiatorname.iscsi
	sed -e 's/^\(node.session.timeo.replacement_timeout\).*/\1 = 30/' \
		-e 's/^\(node.session.initial_login_retry_max\).*/\1 = 2/' \
		/usr/share/utgt/iscsid.conf >/etc/iscsi/iscsid.conf
	mkdir -p /var/lib/iscsi /run/lock/iscsi /etc/iscsi/nodes /etc/iscsi/send_targets
	iscsid -f >/tmp/iscsid.log 2>&1 &
	i=0
	until iscsiadm -m session >/dev/null 2>&1 || [ $? -eq 21 ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || return 1
		sleep 0.1
	done
}

# SendTargets reports the target's own view of its portal (127.0.0.1); check the IQN is
# there, then replace the records with ones for the address the guest can reach.
discover() {
	iscsiadm -m discovery -t sendtargets -p "$1" >/tmp/disc || return 1
	cat /tmp/disc
	grep -q " $IQN\$" /tmp/disc || { echo "no $IQN in SendTargets"; return 1; }
	iscsiadm -m node -o delete >/dev/null 2>&1
	return 0
}

node_new() {
	iscsiadm -m node -T "$IQN" -p "$1" -o new >/dev/null &&
		iscsiadm -m node -T "$IQN" -p "$1" -o update \
			-n node.session.timeo.replacement_timeout -v "${2:-30}"
}

login() { iscsiadm -m node -T "$IQN" -p "$1" --login; }
logout() { iscsiadm -m node -T "$IQN" -p "$1" --logout; }

# Negotiated operational parameters of every session, as INFO lines.
params() {
	iscsiadm -m session -P 2 >/tmp/params || return 1
	cat /tmp/params
	say "INFO params $(awk '/Negotiated iSCSI params/ { on = 1; next }
		on && /:/ { gsub(/[ \t]/, ""); printf "%s ", $0 }' /tmp/params)"
}

# digests CRC32C|None: what the session(s) negotiated must be that.
digests() {
	iscsiadm -m session -P 2 | grep -E "(Header|Data)Digest" | tee /tmp/dig
	[ -s /tmp/dig ] && ! grep -v ": $1\$" /tmp/dig
}

# LOGICAL UNIT RESET (task management) through the kernel's error handler, then I/O again.
lu_reset() {
	t0=$(now)
	sg_reset -d "/dev/$1" || return 1
	t1=$(now)
	dd if="/dev/$1" of=/dev/null bs=1M count=8 iflag=direct || return 1
	say "INFO lu-reset: reset $((t1 - t0))0 ms, then 8 MiB read $(($(now) - t1))0 ms"
}

# disk_of PORTAL: the sdX of LUN 1 in the session to PORTAL (waits for the scan).
disk_of() {
	sid=$(iscsiadm -m session | awk -v p="$1" '$3 ~ "^" p "," { gsub(/[][]/, "", $2); print $2 }')
	[ -n "$sid" ] || { echo "no session to $1" >&2; return 1; }
	i=0
	while [ $i -lt 300 ]; do
		for b in /sys/class/iscsi_session/session"$sid"/device/target*/*:*:*:1/block/*; do
			[ -e "$b" ] && [ -b "/dev/${b##*/}" ] && { echo "${b##*/}"; return 0; }
		done
		i=$((i + 1))
		sleep 0.1
	done
	echo "no disk for LUN 1 in session $sid" >&2
	return 1
}

inspect() {
	sg_inq "/dev/$1" && sg_vpd -p di "/dev/$1" && sg_readcap -l "/dev/$1" || return 1
	bytes=$(($(cat "/sys/block/$1/size") * 512))
	say "INFO $1 size=$bytes wwid=$(cat "/sys/block/$1/device/wwid" 2>/dev/null)" \
		"vendor=$(cat "/sys/block/$1/device/vendor")" \
		"wc=$(cat "/sys/block/$1/queue/write_cache")" \
		"lbs=$(cat "/sys/block/$1/queue/logical_block_size")" \
		"max_kb=$(cat "/sys/block/$1/queue/max_sectors_kb")"
	[ "$LUN_BYTES" = 0 ] || [ "$bytes" = "$LUN_BYTES" ] ||
		{ echo "size $bytes != $LUN_BYTES"; return 1; }
}

write_files() {
	mount -t ext4 "$1" /mnt || return 1
	dd if=/dev/urandom of=/mnt/big bs=1M count=24 2>/dev/null &&
		dd if=/dev/urandom of=/mnt/odd bs=4097 count=3 2>/dev/null &&
		mkdir /mnt/small && for i in $(seq 1 64); do
			dd if=/dev/urandom of=/mnt/small/$i bs=$((i * 100)) count=1 2>/dev/null
		done && (cd /mnt && find . -type f | sort | xargs md5sum) >/tmp/sums && sync || return 1
	umount /mnt
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

fsck_ro() { drop_caches && $FSCK -fn "$1"; }

read_back() {
	drop_caches
	mount -t ext4 -o ro "$1" /mnt || return 1
	(cd /mnt && md5sum -c /tmp/sums) | grep -v ': OK$'
	rc=$?
	umount /mnt
	[ $rc -eq 1 ] # grep found no mismatch
}

# fio_verify DEV SECS: random writes of 4k-256k (immediate data, R2T, bursts) at depth 16,
# checked with crc32c as it goes and at the end.
fio_verify() {
	$FIO --name=verify --filename="$1" --ioengine=libaio --direct=1 --iodepth=16 \
		--rw=randwrite --bsrange=4k-256k --size=64m --verify=crc32c --verify_backlog=128 \
		--verify_fatal=1 --do_verify=1 --runtime="$2" --time_based --randrepeat=0 \
		--output-format=terse --terse-version=3 >/tmp/fio.out 2>&1
	rc=$?
	cat /tmp/fio.out
	# terse v3: 5 error, 6 read KiB, 47 write KiB, 49 write IOPS
	say "INFO fio $1: $(awk -F';' '$1 == 3 {
		printf "err=%s read_kb=%s write_kb=%s write_iops=%s", $5, $6, $47, $49 }' /tmp/fio.out)"
	[ $rc -eq 0 ] || return $rc
	! grep -qi "verify.*fail\|bad magic\|crc32c: verify failed\|err=[ ]*[1-9]" /tmp/fio.out
}

fio_read() {
	$FIO --name=read --filename="$1" --ioengine=libaio --direct=1 --iodepth=4 --rw=read \
		--bs=1m --size=64m --output-format=terse --terse-version=3
}

no_sessions() {
	iscsiadm -m session
	[ $? -eq 21 ]
}

# Kernel complaints that mean the target misbehaved (connection errors are expected only in
# the recovery scenario).
BAD='I/O error|Sense Key|critical|Unhandled|iscsi: .*reject|rejected|hung_task|BUG|WARNING|tainted'
dmesg_clean() {
	dmesg | grep -E "$1" && return 1
	return 0
}

basic() {
	if [ "$SCEN" = digest ]; then
		for k in HeaderDigest DataDigest; do
			must "set-$k" iscsiadm -m node -T "$IQN" -p "$P1" -o update \
				-n "node.conn[0].iscsi.$k" -v CRC32C
		done
	fi
	must login "login" "$P1"
	step params params
	[ "$SCEN" != digest ] || step digests-on digests CRC32C
	dev=$(disk_of "$P1") || { FAILED=1; say "STEP find-disk FAIL 0"; finish; }
	say "STEP find-disk PASS 0 $dev"
	step inquiry inspect "$dev"
	must mkfs $MKFS -q -F -t ext4 "/dev/$dev"
	must write write_files "/dev/$dev"
	step fsck fsck_ro "/dev/$dev"
	step read-back read_back "/dev/$dev"
	step fio-verify fio_verify "/dev/$dev" "$FIO_SECS"
	step fio-read fio_read "/dev/$dev"
	step lu-reset lu_reset "$dev"
	step logout logout "$P1"
	step no-session no_sessions
	step dmesg-clean dmesg_clean "$BAD|conn error"
}

# drop_during N EVENT DEV: fio verify on DEV; 2 s in, ask the host to break the connection
# (EVENT); fio must pass and the kernel must have seen one more connection error.
drop_during() {
	local before after rc t0
	before=$(dmesg | grep -c "detected conn error")
	fio_verify "$3" "$FIO_SECS" >/tmp/fio.log 2>&1 &
	fpid=$!
	sleep 2
	t0=$(now)
	say "EVENT $2"
	wait $fpid
	rc=$?
	after=$(dmesg | grep -c "detected conn error")
	say "INFO $2: fio ran $(($(now) - t0))0 ms more, $((after - before)) connection error(s)"
	step "fio-verify-$1" sh -c "cat /tmp/fio.log; exit $rc"
	step "conn-error-$1" test $((after - before)) -ge 1
	step "logged-in-$1" sh -c "iscsiadm -m session -P 1 | grep 'iSCSI Session State: LOGGED_IN'"
}

# The host breaks the connection under fio twice: from outside (its TCP socket destroyed)
# and by the target itself; each time the initiator must log in again and lose no write.
recovery() {
	must login "login" "$P1"
	dev=$(disk_of "$P1") || { FAILED=1; say "STEP find-disk FAIL 0"; finish; }
	say "STEP find-disk PASS 0 $dev"
	drop_during 1 drop-socket "/dev/$dev"
	drop_during 2 drop-by-target "/dev/$dev"
	step read-after fio_read "/dev/$dev"
	step logout logout "$P1"
	step dmesg-clean dmesg_clean "$BAD"
}

# Not in the tests: heavier I/O to explore with by hand (guest.py --scenario stress): two jobs,
# 512 B-1 MiB blocks, depth 64 (beyond the session's queue), mixed reads and writes, verified.
stress_fio() {
	$FIO --filename="$1" --ioengine=libaio --direct=1 --iodepth=64 --bsrange=512-1m \
		--bs_unaligned=0 --rw=randrw --size=64m --verify=crc32c --verify_backlog=256 \
		--verify_fatal=1 --runtime="$2" --time_based --randrepeat=0 --group_reporting \
		--name=a --offset=0 --name=b --offset=128m
}

stress() {
	must login "login" "$P1"
	step params params
	dev=$(disk_of "$P1") || { FAILED=1; say "STEP find-disk FAIL 0"; finish; }
	say "STEP find-disk PASS 0 $dev"
	step stress-fio stress_fio "/dev/$dev" "$FIO_SECS"
	step logout logout "$P1"
	step dmesg-clean dmesg_clean "$BAD|conn error"
}

# dm-multipath over two portals of the same target: both paths show the same WWID, the
# multipath map gets both, and I/O on the map survives losing one path mid-run.
mp_make() {
	cat >/etc/multipath.conf <<-EOF
	defaults {
		user_friendly_names no
		find_multipaths no
		path_grouping_policy multibus
		no_path_retry 5
		enable_foreign "^$"
	}
	blacklist {
		devnode "^vd"
	}
	EOF
	# No udevd here: multipath only looks at devices udev has initialized, i.e. that have a
	# udev database entry. An empty one will do; the WWID then comes from sysfs (VPD 0x83).
	mkdir -p /run/udev/data
	for b in /sys/block/sd*; do echo "I:1" >"/run/udev/data/b$(cat "$b/dev")"; done
	multipath -v2 -B || return 1
	multipath -ll
	dmsetup table
}

# The dm device of the multipath map over $1 and $2.
mp_dev() {
	for d in /sys/block/dm-*; do
		[ -e "$d/slaves/$1" ] && [ -e "$d/slaves/$2" ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}

# mp_paths DM A|F: how many paths of the map are active (A) or failed (F).
mp_paths() { dmsetup status "$1" | tr ' ' '\n' | grep -A1 -E '^[0-9]+:[0-9]+$' | grep -cx "$2"; }

# After one path's logout the map must go on with the other: one active, one failed.
one_path_left() {
	dmsetup status "$1"
	[ "$(mp_paths "$1" A)" = 1 ] && [ "$(mp_paths "$1" F)" = 1 ]
}

multipath_scen() {
	P2=${PORTALS#* }
	[ "$P2" != "$P1" ] || { say "STEP two-portals FAIL 0 need two portals"; FAILED=1; finish; }
	must login2 login "$P2"
	must login1 login "$P1"
	d1=$(disk_of "$P1") && d2=$(disk_of "$P2") || { FAILED=1; say "STEP find-disks FAIL 0"; finish; }
	say "STEP find-disks PASS 0 $d1 $d2"
	w1=$(cat "/sys/block/$d1/device/wwid") w2=$(cat "/sys/block/$d2/device/wwid")
	say "INFO wwid $d1=$w1 $d2=$w2"
	step same-wwid test -n "$w1" -a "$w1" = "$w2"
	must multipath mp_make
	dm=$(mp_dev "$d1" "$d2") || { FAILED=1; say "STEP map FAIL 0 no dm over $d1 $d2"; finish; }
	say "STEP map PASS 0 $dm"
	name=$(cat "/sys/block/$dm/dm/name")
	step two-paths test "$(mp_paths "$name" A)" = 2
	fio_verify "/dev/$dm" "$FIO_SECS" >/tmp/fio.log 2>&1 &
	fpid=$!
	sleep $((FIO_SECS / 3 + 1))
	step path-logout logout "$P1"
	wait $fpid
	rc=$?
	step fio-verify sh -c "cat /tmp/fio.log; exit $rc"
	step one-path-left one_path_left "$name"
	must mkfs $MKFS -q -F -t ext4 "/dev/$dm"
	must write write_files "/dev/$dm"
	step fsck fsck_ro "/dev/$dm"
	step read-back read_back "/dev/$dm"
	multipath -F >/dev/null 2>&1
	step logout logout "$P2"
	step no-session no_sessions
	step dmesg-clean dmesg_clean "Sense Key|critical|Unhandled|rejected|BUG|WARNING"
}

say "INFO guest up at $(cut -d' ' -f1 /proc/uptime) s; scenario $SCEN; portals $PORTALS"
must iscsid start_iscsid
must discovery discover "$P1"
# Short replacement timeout for multipath, so a lost path fails over quickly.
tmo=30
[ "$SCEN" != multipath ] || tmo=5
for p in $PORTALS; do must "node-$p" node_new "$p" $tmo; done
case $SCEN in
basic | digest) basic ;;
stress) stress ;;
recovery) recovery ;;
multipath) multipath_scen ;;
*) say "STEP scenario FAIL 0 unknown scenario $SCEN"; FAILED=1 ;;
esac
finish
