#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs what the benchmark needs from Debian: tgt to compare with, the initiators
# (libiscsi's iscsi-perf, libiscsi-dev for bench/iobench.c, qemu-img bench), iperf3 for the
# loopback ceiling and gnuplot for the plot. Idempotent and quiet when nothing is missing.
set -eu

PKGS="tgt libiscsi-bin libiscsi-dev qemu-utils qemu-block-extra iperf3 gnuplot-nox gcc
pkg-config procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: missing packages:$missing" >&2
	echo "bench: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "bench: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
