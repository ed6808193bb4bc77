#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# `make run`: serve a demo target in the foreground on 127.0.0.1:$PORT until Ctrl-C.
# Target iqn.2026-11.org.utgt:demo, LUN 1 = a 1 GiB sparse file under ./var/.
set -eu
PORT=${PORT:-3260}
BUILD=${BUILD:-build}
IQN=iqn.2026-11.org.utgt:demo
VAR=$(pwd)/var
SOCK=$VAR/utgtd.sock
ADM="$BUILD/tools/utgtadm/utgtadm --control-socket $SOCK"

mkdir -p "$VAR"
[ -f "$VAR/demo.img" ] || truncate -s 1G "$VAR/demo.img"

"$BUILD/src/daemon/utgtd" -f --portal "127.0.0.1:$PORT" --control-socket "$SOCK" &
pid=$!
stop() {
	trap - INT TERM
	kill -TERM $pid 2>/dev/null || true
	wait $pid || true
	exit 0
}
trap stop INT TERM

i=0
until $ADM --mode sys --op show >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
		echo "utgtd did not start" >&2
		exit 1
	fi
	sleep 0.1
done
$ADM --lld iscsi --mode target --op new --tid 1 --targetname "$IQN"
$ADM --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --backing-store "$VAR/demo.img"
$ADM --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL

cat <<MSG

utgtd is serving $IQN on 127.0.0.1:$PORT (LUN 1: $VAR/demo.img, 1 GiB sparse).
Connect from another terminal:
  iscsi-ls -s iscsi://127.0.0.1:$PORT
  iscsi-inq iscsi://127.0.0.1:$PORT/$IQN/1
  qemu-img info iscsi://127.0.0.1:$PORT/$IQN/1
  iscsiadm -m discovery -t st -p 127.0.0.1:$PORT     (open-iscsi)
Manage it:
  $ADM --lld iscsi --mode target --op show
Press Ctrl-C to stop.
MSG
wait $pid || true
