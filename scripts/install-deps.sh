#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Installs the Debian packages utgt needs to build and test. Idempotent and quiet when
# nothing is missing. Usage: scripts/install-deps.sh [build|test|all] (default: all)
set -eu

BUILD_PKGS="gcc clang meson ninja-build pkg-config liburing-dev libisal-dev libssl-dev
libjansson-dev libaio-dev libcmocka-dev libsystemd-dev scdoc libcap-ng-dev libseccomp-dev"
TEST_PKGS="python3 python3-pytest libiscsi-bin qemu-utils qemu-block-extra sg3-utils
util-linux iproute2 procps tgt qemu-system-x86 libiscsi-dev iperf3 gnuplot-nox genisoimage
open-isns-server open-isns-utils"

case "${1:-all}" in
build) want="$BUILD_PKGS" ;;
test) want="$TEST_PKGS" ;;
all) want="$BUILD_PKGS $TEST_PKGS" ;;
*) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "utgt: missing packages:$missing" >&2
	echo "utgt: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "utgt: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
