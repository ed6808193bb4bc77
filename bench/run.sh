#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# `make bench`: installs the tools (bench/deps.sh), builds a release utgtd in $BENCH_BUILD
# (default build-bench/, apart from make's build/), and runs bench/bench.py, which compares
# utgtd with tgt side by side. Arguments go to bench.py (e.g. --smoke, --reps 1, --seconds 2).
# Results: $BENCH_BUILD/bench/{results.md,runs.csv,summary.csv,bench.png}.
set -eu

cd "$(dirname "$0")/.."
BENCH_BUILD=${BENCH_BUILD:-build-bench}

bench/deps.sh
scripts/install-deps.sh build
if [ ! -f "$BENCH_BUILD/build.ninja" ]; then
	meson setup "$BENCH_BUILD" -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C "$BENCH_BUILD" >/dev/null
exec /usr/bin/python3 bench/bench.py --build "$BENCH_BUILD" "$@"
