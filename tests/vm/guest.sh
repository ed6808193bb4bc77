#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs inside the test guest (busybox sh; tools from the image on /usr). Drives open-iscsi
# against the target and reports on fd 3, one line each: "STEP name PASS|FAIL seconds detail",
# "INFO ...", "EVENT name" (the host may act on it), "DMESG line", "DONE pass|fail".
# Usage: guest.sh SCENARIO IQN PORTAL[,PORTAL] [FIO_SECONDS] [LUN_BYTES] [CHAP_ALGS]
#   SCENARIO: basic | digest (basic with CRC32C digests and CHAP) | multipath | recovery |
#   stress | sg (sg3_utils on the LU; utgtd in the guest passing scsi_debug through)
#   | devices (sr, st and ch drivers: eject, mt, tar, mtx)
# shellcheck disable=SC2317 # functions run through step/must
set -u

SCEN=${1:-basic}
IQN=${2:-}
PORTALS=$(echo "${3:-}" | tr , ' ')
FIO_SECS=${4:-10}
LUN_BYTES=${5:-0}
CHAP_ALGS=${6:-SHA3-256}
CONN_ERRS=0
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
	[ $FAILED -eq 0 ] || [ ! -f /tmp/utgtd.log ] || sed 's/^/OUT utgtd: /' /tmp/utgtd.log |
		tail -n 60 >&3
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

# session_dev SID LUN: the sdX of LUN in iSCSI session SID (waits for the scan).
session_dev() {
	i=0
	while [ $i -lt 300 ]; do
		for b in /sys/class/iscsi_session/session"$1"/device/target*/*:*:*:"$2"/block/*; do
			[ -e "$b" ] && [ -b "/dev/${b##*/}" ] && { echo "${b##*/}"; return 0; }
		done
		i=$((i + 1))
		sleep 0.1
	done
	echo "no disk for LUN $2 in session $1" >&2
	return 1
}

# disk_of PORTAL: the sdX of LUN 1 in the session to PORTAL (waits for the scan).
disk_of() {
	sid=$(iscsiadm -m session | awk -v p="$1" '$3 ~ "^" p "," { gsub(/[][]/, "", $2); print $2 }')
	[ -n "$sid" ] || { echo "no session to $1" >&2; return 1; }
	session_dev "$sid" 1
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
		chap_logins "$P1"
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
	if [ "$SCEN" = digest ]; then
		# The refused CHAP logins closed their connections: nothing after them.
		step dmesg-clean dmesg_clean "$BAD"
		step no-new-conn-error test "$(dmesg | grep -c 'conn error')" -eq "$CONN_ERRS"
	else
		step dmesg-clean dmesg_clean "$BAD|conn error"
	fi
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

# ---- CHAP with the kernel initiator (the digest scenario) ----
# Accounts the host binds on the target (test_vm.py): incoming, outgoing (mutual) and a global
# one for discovery sessions. CHAP_ALGS (6th argument) is what the mutual login offers.
CHAP_USER=guest-in
CHAP_PASS=guest-in-secret-1
CHAP_TUSER=utgt-out
CHAP_TPASS=utgt-out-secret-2
DISC_USER=disc-in
DISC_PASS=discovery-secret-3

# disc_chap PORTAL PASSWORD: SendTargets with CHAP (discoverydb record) as DISC_USER.
disc_chap() {
	iscsiadm -m discoverydb -t st -p "$1" -o new >/dev/null 2>&1
	for kv in authmethod:CHAP username:$DISC_USER password:$2; do
		iscsiadm -m discoverydb -t st -p "$1" -o update \
			-n "discovery.sendtargets.auth.${kv%%:*}" -v "${kv#*:}" || return 1
	done
	iscsiadm -m discoverydb -t st -p "$1" --discover >/tmp/disc
	rc=$?
	cat /tmp/disc
	return $rc
}

# refused CODE CMD...: CMD must fail with exit status CODE (iscsiadm: 24 is "iSCSI login
# failed due to authorization failure"; 15 a discovery or session failure).
refused() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	echo "exit status $rc"
	[ "$rc" -ne 0 ] && { [ "$want" = any ] || [ "$rc" -eq "$want" ]; }
}

# Discovery needs CHAP here (a global account is bound): none and a wrong secret are refused
# (steps of their own: a step must not run inside another).
discover_refusals() {
	step disc-nochap-refused refused any iscsiadm -m discovery -t sendtargets -p "$1"
	step disc-wrong-refused refused any disc_chap "$1" wrong-secret-99
}

discover_chap() {
	disc_chap "$1" "$DISC_PASS" || return 1
	grep -q " $IQN\$" /tmp/disc || { echo "no $IQN in SendTargets"; return 1; }
	iscsiadm -m node -o delete >/dev/null 2>&1
	iscsiadm -m discoverydb -t st -p "$1" -o delete >/dev/null 2>&1
	return 0
}

# auth PORTAL KEY=VALUE...: node.session.auth.KEY of the node record.
auth() {
	local p=$1 kv
	shift
	for kv in "$@"; do
		iscsiadm -m node -T "$IQN" -p "$p" -o update -n "node.session.auth.${kv%%=*}" \
			-v "${kv#*=}" || return 1
	done
}

# login_check PORTAL: log in, check one LOGGED_IN session, log out.
login_check() {
	login "$1" || return 1
	iscsiadm -m session -P 1 | grep 'iSCSI Session State: LOGGED_IN' || return 1
	logout "$1"
}

# One-way with a wrong then the right secret (MD5), mutual with a wrong target secret, then the
# mutual login that basic() goes on with (CHAP_ALGS).
chap_logins() {
	must chap-set auth "$1" authmethod=CHAP username=$CHAP_USER password=wrong-secret-99 \
		chap_algs=MD5
	step chap-wrong-refused refused 24 login "$1"
	must chap-secret auth "$1" password=$CHAP_PASS
	step chap-one-way login_check "$1"
	must chap-mutual-set auth "$1" username_in=$CHAP_TUSER password_in=wrong-secret-98 \
		chap_algs="$CHAP_ALGS"
	step chap-mutual-wrong-refused refused any login "$1"
	CONN_ERRS=$(dmesg | grep -c "conn error")
	must chap-mutual auth "$1" password_in=$CHAP_TPASS
}

# ---- sg: the Linux sg driver against utgt, and utgt's sg store against scsi_debug ----
LPORTAL=127.0.0.1:3261
LIQN=iqn.2026-11.org.utgt:guest-sg
UTGTD_SOCK=/tmp/utgtd.sock
PRKEY=0x5ca1ab1e

# uadm ARGS...: utgtadm of the utgtd running in the guest (from the extra cpio in /utgt).
ulib() { LD_LIBRARY_PATH=/utgt/lib:/usr/lib/x86_64-linux-gnu "$@"; }
uadm() { ulib /utgt/bin/utgtadm --control-socket $UTGTD_SOCK --lld iscsi "$@"; }

# sg_of DEV: the /dev/sgN name of block device DEV.
sg_of() { ls "/sys/block/$1/device/scsi_generic/" 2>/dev/null | head -n 1; }

# lun_dev IQN LUN: the sdX of LUN in the session to IQN (waits for the scan).
lun_dev() {
	sid=$(iscsiadm -m session | awk -v t="$1" '$4 == t { gsub(/[][]/, "", $2); print $2 }')
	[ -n "$sid" ] || { echo "no session to $1" >&2; return 1; }
	session_dev "$sid" "$2"
}

# (a) sg3_utils through /dev/sgN of the utgt disk.
sg_identity() {
	sg_inq "/dev/$1" | tee /tmp/inq && grep -q "Peripheral device type: disk" /tmp/inq &&
		sg_vpd -p sn "/dev/$1" && sg_vpd -p di "/dev/$1" && sg_vpd -p bl "/dev/$1" &&
		sg_readcap -l "/dev/$1" | tee /tmp/cap || return 1
	blocks=$(awk -F= '/Last LBA=/ { split($2, a, " "); print a[1] + 1 }' /tmp/cap)
	[ "$LUN_BYTES" = 0 ] || [ "$((blocks * 512))" = "$LUN_BYTES" ] ||
		{ echo "$blocks blocks != $LUN_BYTES bytes"; return 1; }
}

# 4 MiB of random data written with sg_dd (FUA) at 8 MiB, read back with sg_dd and through
# the block device.
sg_dd_cmp() {
	dd if=/dev/urandom of=/tmp/rnd bs=1M count=4 2>/dev/null &&
		sg_dd if=/tmp/rnd of="/dev/$1" bs=512 count=8192 seek=16384 oflag=fua &&
		sg_dd if="/dev/$1" of=/tmp/rnd.sg bs=512 count=8192 skip=16384 &&
		cmp /tmp/rnd /tmp/rnd.sg &&
		dd if="/dev/$2" of=/tmp/rnd.blk bs=1M count=4 skip=8 iflag=direct 2>/dev/null &&
		cmp /tmp/rnd /tmp/rnd.blk
}

# Persistent reservations: register, reserve (write exclusive), read keys and reservation,
# release, unregister.
sg_pr() {
	local d=/dev/$1
	sg_persist --in --report-capabilities "$d" &&
		sg_persist --out --register --param-sark=$PRKEY "$d" &&
		sg_persist --in --read-keys "$d" | tee /tmp/pr && grep -qi "$PRKEY" /tmp/pr &&
		sg_persist --out --reserve --param-rk=$PRKEY --prout-type=1 "$d" &&
		sg_persist --in --read-reservation "$d" | tee /tmp/pr &&
		grep -qi "$PRKEY" /tmp/pr && grep -qi "Write Exclusive" /tmp/pr &&
		sg_turs "$d" &&
		sg_persist --out --release --param-rk=$PRKEY --prout-type=1 "$d" &&
		sg_persist --in --read-reservation "$d" | tee /tmp/pr &&
		grep -qi "no reservation" /tmp/pr &&
		sg_persist --out --register --param-rk=$PRKEY --param-sark=0 "$d" &&
		sg_persist --in --read-keys "$d" | tee /tmp/pr && grep -qi "no registered" /tmp/pr
}

sg_host_lu() {
	dev=$(disk_of "$P1") || { FAILED=1; say "STEP find-disk FAIL 0"; finish; }
	sg=$(sg_of "$dev")
	[ -n "$sg" ] || { FAILED=1; say "STEP find-sg FAIL 0 no sg for $dev"; finish; }
	say "STEP find-sg PASS 0 $dev $sg"
	step sg-identity sg_identity "$sg"
	step sg-dd sg_dd_cmp "$sg" "$dev"
	step sg-persist sg_pr "$sg"
	step sg-turs sg_turs -n 20 -t "/dev/$sg"
	step sg-luns sg_luns "/dev/$sg"
}

# (b) utgtd in the guest exports scsi_debug's /dev/sgN: LUN 1 as passthrough (pt), LUN 2 as
# a disk over the sg store, LUN 3 a disk over the sg store on scsi_debug's block device (SG_IO
# on /dev/sdX); the guest's own initiator logs in over 127.0.0.1.
SDEBUG=/sys/bus/pseudo/drivers/scsi_debug
sdebug_up() {
	modprobe scsi_debug dev_size_mb=32 max_luns=1 num_tgts=1 || return 1
	i=0
	while [ $i -lt 200 ]; do
		for b in /sys/bus/pseudo/devices/adapter*/host*/target*/*:*:*:*/block/*; do
			[ -b "/dev/${b##*/}" ] && [ -n "$(sg_of "${b##*/}")" ] && {
				echo "${b##*/}" >/tmp/sdebug; return 0; }
		done
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}

utgtd_up() {
	# Not through ulib: $! must be utgtd's pid, not a subshell's.
	LD_LIBRARY_PATH=/utgt/lib:/usr/lib/x86_64-linux-gnu /utgt/bin/utgtd -f --threads 1 \
		--portal $LPORTAL --control-socket $UTGTD_SOCK >/tmp/utgtd.log 2>&1 &
	echo $! >/tmp/utgtd.pid
	i=0
	until uadm --mode sys --op show >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat /tmp/utgtd.log; return 1; }
		sleep 0.1
	done
	uadm --mode target --op new --tid 1 --targetname $LIQN &&
		uadm --mode logicalunit --op new --tid 1 --lun 1 --device-type pt --bstype sg \
			--backing-store "/dev/$1" &&
		uadm --mode logicalunit --op new --tid 1 --lun 2 --bstype sg --backing-store "/dev/$1" &&
		uadm --mode logicalunit --op new --tid 1 --lun 3 --bstype sg --backing-store "/dev/$2" &&
		uadm --mode target --op bind --tid 1 -I ALL &&
		uadm --mode target --op show
}

local_login() {
	iscsiadm -m discovery -t sendtargets -p $LPORTAL | tee /tmp/disc &&
		grep -q " $LIQN\$" /tmp/disc &&
		iscsiadm -m node -T $LIQN -p $LPORTAL --login
}

# pt_identity PT SD: the passthrough LU answers INQUIRY, VPD and READ CAPACITY as scsi_debug.
pt_identity() {
	local a b
	sg_inq "/dev/$1" | tee /tmp/inq.pt || return 1
	grep -q "Vendor identification: Linux" /tmp/inq.pt &&
		grep -q "Product identification: scsi_debug" /tmp/inq.pt || return 1
	for c in "sg_inq" "sg_vpd -p di" "sg_vpd -p sn" "sg_readcap -l" "sg_modes -p 8"; do
		a=$($c "/dev/$(sg_of "$1")" 2>&1) b=$($c "/dev/$(sg_of "$2")" 2>&1)
		[ "$a" = "$b" ] || { printf '%s differs:\n%s\n---\n%s\n' "$c" "$a" "$b"; return 1; }
	done
	[ "$(cat "/sys/block/$1/size")" = "$(cat "/sys/block/$2/size")" ]
}

# same_data A B: 2 MiB written on /dev/A at 4 MiB read back identical from /dev/B, direct.
same_data() {
	dd if=/dev/urandom of=/tmp/d.w bs=1M count=2 2>/dev/null &&
		dd if=/tmp/d.w of="/dev/$1" bs=1M seek=4 count=2 oflag=direct conv=fsync 2>/dev/null &&
		dd if="/dev/$2" of=/tmp/d.r bs=1M skip=4 count=2 iflag=direct 2>/dev/null &&
		cmp /tmp/d.w /tmp/d.r
}

# read10 SG LBA: READ(10) of one block at LBA with sg_raw; prints the status and sense.
read10() {
	# shellcheck disable=SC2046 # four hex bytes
	sg_raw -r 512 "/dev/$1" 28 00 $(printf '%02x %02x %02x %02x' $(($2 >> 24 & 255)) \
		$(($2 >> 16 & 255)) $(($2 >> 8 & 255)) $(($2 & 255))) 00 00 01 00 2>&1
}

# sense_is SG LBA KEY ASC: READ(10) at LBA fails with that sense (sg_raw's words).
sense_is() {
	read10 "$1" "$2" | tee /tmp/sense
	grep -q "$3" /tmp/sense && grep -q "$4" /tmp/sense
}

# The same CDB through the passthrough LU and straight to scsi_debug: the same sense.
same_sense() {
	a=$(read10 "$1" "$3" | grep -i -A3 sense) b=$(read10 "$2" "$3" | grep -i -A3 sense)
	echo "pt: $a"
	echo "scsi_debug: $b"
	[ -n "$a" ] && [ "$a" = "$b" ]
}

# Medium errors (scsi_debug opts=2: reads of LBA 0x1234..0x123d fail with 03/11/00).
medium_errors() {
	echo 2 >$SDEBUG/opts || return 1
	sense_is "$1" 4660 "Medium Error" "Unrecovered read error"
	rc1=$?
	sense_is "$2" 4660 "Medium Error" "Unrecovered read error"
	rc2=$?
	echo 0 >$SDEBUG/opts
	[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
}

# The disk over sg is utgt's own disk (its INQUIRY) with scsi_debug's capacity.
sgdisk_identity() {
	sg_inq "/dev/$1" | tee /tmp/inq.dk && ! grep -q scsi_debug /tmp/inq.dk &&
		grep -q "Peripheral device type: disk" /tmp/inq.dk &&
		[ "$(cat "/sys/block/$1/size")" = "$2" ]
}

utgtd_down() {
	local pid
	pid=$(cat /tmp/utgtd.pid)
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	echo "utgtd exit status $rc"
	[ $rc -eq 0 ] && ! grep -q "AddressSanitizer\|runtime error" /tmp/utgtd.log
}

sg_passthrough() {
	must scsi-debug sdebug_up
	sd=$(cat /tmp/sdebug)
	sdsg=$(sg_of "$sd")
	say "INFO scsi_debug $sd $sdsg $(cat "/sys/block/$sd/size") sectors"
	must utgtd-in-guest utgtd_up "$sdsg" "$sd"
	must local-login local_login
	pt=$(lun_dev $LIQN 1) && dk=$(lun_dev $LIQN 2) && bk=$(lun_dev $LIQN 3) ||
		{ FAILED=1; say "STEP find-pt FAIL 0"; finish; }
	ptsg=$(sg_of "$pt") dksg=$(sg_of "$dk")
	say "STEP find-pt PASS 0 pt=$pt/$ptsg disk-over-sg=$dk/$dksg over-sd=$bk"
	step pt-identity pt_identity "$pt" "$sd"
	step pt-write-read same_data "$pt" "$sd"
	step pt-read-write same_data "$sd" "$pt"
	blocks=$(cat "/sys/block/$sd/size")
	step pt-sense-lba sense_is "$ptsg" "$blocks" "Illegal Request" "Logical block address out of range"
	step pt-sense-same same_sense "$ptsg" "$sdsg" "$((blocks + 8))"
	step sgdisk-identity sgdisk_identity "$dk" "$blocks"
	step sgdisk-write-read same_data "$dk" "$sd"
	step sgdisk-read-write same_data "$sd" "$dk"
	step sgblk-identity sgdisk_identity "$bk" "$blocks"
	step sgblk-write-read same_data "$bk" "$sd"
	step sgblk-read-write same_data "$sd" "$bk"
	step medium-error medium_errors "$ptsg" "$dksg"
	step local-logout iscsiadm -m node -T $LIQN -p $LPORTAL --logout
	step utgtd-exit utgtd_down
}

sg_scen() {
	must login "login" "$P1"
	sg_host_lu
	step logout logout "$P1"
	sg_passthrough
	step no-session no_sessions
	step dmesg-clean dmesg_clean \
		"I/O error|critical|Unhandled|rejected|hung_task|BUG|WARNING|conn error"
}

# ---- devices: optical (sr), tape (st) and changer (ch) drivers with eject, mt, tar, mtx ----
# The target (test_vm.py test_devices): LUN 1 a DVD drive with an ISO (files + md5sums +
# label), LUN 2 a tape drive with a cartridge, LUN 3 an empty tape drive, LUN 4 a changer
# whose slots 1000.. hold cartridges A0000001.. and whose drives (mtx 0, 1) are LUNs 2 and 3.
MT=/usr/sbin/mt-st
MTX=/usr/sbin/mtx
TAR=/usr/sbin/tar
EJECT=/usr/sbin/eject

# lun_node LUN CLASS PATTERN: the node of LUN in class CLASS (block, scsi_tape,
# scsi_generic) whose name matches PATTERN; waits for the scan.
lun_node() {
	i=0
	while [ $i -lt 300 ]; do
		for d in /sys/class/iscsi_session/session*/device/target*/*:*:*:"$1"/"$2"/*; do
			n=${d##*/}
			# shellcheck disable=SC2254 # PATTERN is a glob
			case $n in $3) [ -e "/dev/$n" ] && { echo "$n"; return 0; } ;; esac
		done
		i=$((i + 1))
		sleep 0.1
	done
	echo "no $2 node for LUN $1" >&2
	return 1
}

# cd_check LABEL: mount the disc, its files match its md5sums, its label file says LABEL.
cd_check() {
	mount -t iso9660 -o ro "/dev/$SR" /mnt || return 1
	ls -l /mnt
	(cd /mnt && md5sum -c md5sums) && grep -qx "$1" /mnt/label
	rc=$?
	umount /mnt
	return $rc
}

# no_medium: the drive reports no disc (the open fails: the tray is open, no autoclose).
no_medium() { ! dd if="/dev/$SR" of=/dev/null bs=2048 count=1; }

# wait_medium LABEL: the kernel sees a disc and it is LABEL (the host changes discs when it
# reads our EVENT line: poll until then, 20 s at most).
wait_medium() {
	i=0
	until dd if="/dev/$SR" of=/dev/null bs=2048 count=1 2>/dev/null && cd_check "$1"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "no disc $1 after 20 s"; return 1; }
		sleep 0.2
	done
}

cd_tests() {
	SR=$(lun_node 1 block "sr*") || { FAILED=1; say "STEP find-sr FAIL 0"; return; }
	say "STEP find-sr PASS 0 $SR"
	step cd-inquiry sh -c "sg_inq /dev/$SR | grep -q 'Peripheral device type: cd/dvd'"
	step cd-mount cd_check disc-one
	# The cdrom driver closes an open tray when the device is opened: not here.
	echo 0 >/proc/sys/dev/cdrom/autoclose
	step cd-eject $EJECT "/dev/$SR"
	say "EVENT cd-ejected"
	step cd-no-medium no_medium
	step cd-close-tray $EJECT -t "/dev/$SR"
	step cd-reload wait_medium disc-one
	say "EVENT cd-change"
	step cd-changed wait_medium disc-two
}

# mkfiles DIR SEED: a few files of different sizes, their sums in DIR.sums.
mkfiles() {
	mkdir -p "$1" || return 1
	for i in 1 2 3 4; do
		dd if=/dev/urandom of="$1/f$i" bs=$((i * 7919 + $2)) count=1 2>/dev/null || return 1
	done
	(cd "$1" && md5sum f*) >"$1.sums"
}

# untar DEV DIR [TAR OPTIONS]: extract one archive from DEV and compare it with DIR's sums.
untar() {
	local dev=$1 dir=$2
	shift 2
	rm -rf /tmp/x && mkdir /tmp/x && $TAR "$@" -xf "$dev" -C /tmp/x || return 1
	(cd /tmp/x && md5sum -c "$dir.sums")
}

# mtc OP...: mt on the non-rewinding tape device.
mtc() { $MT -f "/dev/$NST" "$@"; }

tape_status() {
	mtc status | tee /tmp/mt || return 1
	grep -q "ONLINE" /tmp/mt && grep -q "$1" /tmp/mt
}

# Three tar archives separated by filemarks (each close of nst writes one).
tape_write3() {
	mtc setblk 0 && mtc rewind || return 1
	for i in 1 2 3; do
		$TAR -cf "/dev/$NST" -C /tmp/a$i . || return 1
	done
	tape_status "File number=3"
}

tape_read_seq() {
	mtc rewind && untar "/dev/$NST" /tmp/a1 && mtc fsf 1 && untar "/dev/$NST" /tmp/a2 &&
		mtc fsf 1 && untar "/dev/$NST" /tmp/a3
}

# Into file 3, back over two filemarks and forward over one: file 2 again.
tape_fsf_bsf() {
	mtc rewind && mtc fsf 2 && untar "/dev/$NST" /tmp/a3 && mtc bsf 2 && mtc fsf 1 &&
		untar "/dev/$NST" /tmp/a2 && tape_status "File number=1"
}

# eod, append a fourth archive, find it again.
tape_eod() {
	mtc eod && tape_status "File number=3" && $TAR -cf "/dev/$NST" -C /tmp/a4 . &&
		mtc rewind && mtc fsf 3 && untar "/dev/$NST" /tmp/a4
}

# /dev/stN rewinds on close: the first archive twice in a row.
tape_rewind_close() {
	mtc rewind && untar "/dev/$ST" /tmp/a1 && untar "/dev/$ST" /tmp/a1 &&
		tape_status "BOT"
}

# Variable blocks read with another length: 1000-byte blocks come back whole through 4 KiB
# reads (ILI: Data-In, then CHECK CONDITION), a 512-byte read of one fails (st: ENOMEM).
tape_ili() {
	dd if=/dev/urandom of=/tmp/pat bs=1000 count=3 2>/dev/null &&
		mtc eod && dd if=/tmp/pat of="/dev/$NST" bs=1000 count=3 &&
		mtc bsf 2 && mtc fsf 1 && dd if="/dev/$NST" of=/tmp/ili bs=4096 count=3 &&
		cmp /tmp/pat /tmp/ili || return 1
	mtc bsf 1 && mtc fsf 1 || return 1
	! dd if="/dev/$NST" of=/dev/null bs=512 count=1 &&
		dmesg | grep "Failed to read 1000 byte block with 512 byte transfer"
}

# tape_fixed SIZE TARBLOCKS: fixed block mode, an archive written and read back.
tape_fixed() {
	mtc setblk "$1" && tape_status "Tape block size $1 bytes" && mtc eod &&
		$TAR -b "$2" -cf "/dev/$NST" -C /tmp/a2 . && mtc bsf 2 && mtc fsf 1 &&
		untar "/dev/$NST" /tmp/a2 -b "$2"
}

# Fixed 512-byte blocks: three, then a filemark, read through one 8-block request (direct
# I/O into dd's buffer): the three come back with the FILEMARK condition.
tape_fixed_fm() {
	dd if=/dev/urandom of=/tmp/pat3 bs=512 count=3 2>/dev/null && mtc eod &&
		dd if=/tmp/pat3 of="/dev/$NST" bs=512 count=3 && mtc bsf 2 && mtc fsf 1 &&
		dd if="/dev/$NST" of=/tmp/fm bs=4096 count=1 && cmp /tmp/pat3 /tmp/fm
}

# Compression page (MODE SELECT 0Fh), door lock (PREVENT ALLOW), unload and load (LOAD UNLOAD).
tape_misc() {
	mtc compression 1 && mtc compression 0 && mtc lock && mtc unlock && mtc offline || return 1
	mtc status
	mtc load && tape_status "BOT"
}

tape_tests() {
	NST=$(lun_node 2 scsi_tape "nst[0-9]") && ST=${NST#n} ||
		{ FAILED=1; say "STEP find-st FAIL 0"; return; }
	say "STEP find-st PASS 0 $ST $NST"
	for i in 1 2 3 4; do mkfiles /tmp/a$i $i; done
	step tape-status tape_status "BOT"
	step tape-write3 tape_write3
	step tape-read tape_read_seq
	step tape-fsf-bsf tape_fsf_bsf
	step tape-eod tape_eod
	step tape-rewind-close tape_rewind_close
	step tape-ili tape_ili
	step tape-fixed-512 tape_fixed 512 20
	step tape-fixed-fm tape_fixed_fm
	step tape-fixed-64k tape_fixed 65536 128
	step tape-variable mtc setblk 0
	step tape-tell mtc tell
	step tape-misc tape_misc
}

# ch_status WORDS...: mtx status shows each of WORDS (e.g. "Storage Element 1:Full").
ch_status() {
	$MTX -f "/dev/$CH" status | tee /tmp/mtx || return 1
	for w in "$@"; do grep -q "$w" /tmp/mtx || { echo "no '$w'"; return 1; }; done
}

# The cartridge loaded by the changer into drive 1 (LUN 3): written and read back with tar.
ch_drive_use() {
	i=0
	until $MT -f "/dev/$NST2" status >/tmp/mt 2>&1 && grep -q ONLINE /tmp/mt; do
		i=$((i + 1))
		[ $i -lt 50 ] || { cat /tmp/mt; return 1; }
		sleep 0.2
	done
	cat /tmp/mt
	$MT -f "/dev/$NST2" rewind && $TAR -cf "/dev/$NST2" -C /tmp/a3 . &&
		$MT -f "/dev/$NST2" rewind && untar "/dev/$NST2" /tmp/a3 &&
		$MT -f "/dev/$NST2" offline
}

changer_tests() {
	CH=$(lun_node 4 scsi_generic "sg*") &&
		[ "$(cat "/sys/class/scsi_generic/$CH/device/type")" = 8 ] &&
		NST2=$(lun_node 3 scsi_tape "nst[0-9]") ||
		{ FAILED=1; say "STEP find-changer FAIL 0"; return; }
	say "STEP find-changer PASS 0 $CH (type 8) drive 1 $NST2 sch: $(ls /sys/class/scsi_changer)"
	step ch-status ch_status "2 Drives, 10 Slots ( 2 Import/Export )" \
		"Data Transfer Element 1:Empty" "Storage Element 1:Full :VolumeTag=A0000001" \
		"Storage Element 2:Full :VolumeTag=A0000002" "Storage Element 3:Empty"
	step ch-load $MTX -f "/dev/$CH" load 1 1
	step ch-loaded ch_status \
		"Data Transfer Element 1:Full (Storage Element 1 Loaded):VolumeTag = A0000001" \
		"Storage Element 1:Empty"
	step ch-drive-use ch_drive_use
	step ch-unload $MTX -f "/dev/$CH" unload 1 1
	step ch-unloaded ch_status "Data Transfer Element 1:Empty" \
		"Storage Element 1:Full :VolumeTag=A0000001"
	step ch-transfer $MTX -f "/dev/$CH" transfer 2 3
	step ch-barcodes ch_status "Storage Element 2:Empty" \
		"Storage Element 3:Full :VolumeTag=A0000002"
}

devices_scen() {
	must modules modprobe -a sr_mod isofs st ch
	must login "login" "$P1"
	cd_tests
	tape_tests
	changer_tests
	step logout logout "$P1"
	step no-session no_sessions
	step dmesg-clean dmesg_clean "critical|Unhandled|rejected|hung_task|BUG|WARNING|conn error"
}

say "INFO guest up at $(cut -d' ' -f1 /proc/uptime) s; scenario $SCEN; portals $PORTALS"
must iscsid start_iscsid
if [ "$SCEN" = digest ]; then
	discover_refusals "$P1"
	must discovery discover_chap "$P1"
else
	must discovery discover "$P1"
fi
# Short replacement timeout for multipath, so a lost path fails over quickly.
tmo=30
[ "$SCEN" != multipath ] || tmo=5
for p in $PORTALS; do must "node-$p" node_new "$p" $tmo; done
case $SCEN in
basic | digest) basic ;;
stress) stress ;;
recovery) recovery ;;
multipath) multipath_scen ;;
sg) sg_scen ;;
devices) devices_scen ;;
*) say "STEP scenario FAIL 0 unknown scenario $SCEN"; FAILED=1 ;;
esac
finish
