#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Runs one libFuzzer target for FUZZ_SECONDS (default 60) over its seed corpus.
#   run-fuzz.sh FUZZER SEED_DIR WORK_DIR
# New inputs go to WORK_DIR (created); crashes are written there too and fail the run.
set -eu
fuzzer=$1 seeds=$2 work=$3
secs=${FUZZ_SECONDS:-60}
mkdir -p "$work"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work" "$seeds"
