#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# What the benchmark needs from Debian (tgt to compare with, libiscsi tools and headers for
# bench/iobench.c, qemu-img, iperf3, gnuplot) is part of the project's test set-up: one list,
# one installer. Idempotent and quiet when nothing is missing.
exec "$(dirname "$0")/../scripts/install-deps.sh" all
