# SPDX-License-Identifier: GPL-2.0-only
"""Smoke run of the benchmark (a few seconds), so that bench/ does not rot: utgtd and tgt start,
every initiator (iscsi-perf, iobench, qemu-img bench, iperf3) runs once, and the reports are
written. Benchmarks are not tests: no number is checked here, only that each cell produced I/O
and CPU accounting."""
import csv
import os
import shutil
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("UTGT_BUILDDIR", os.path.join(ROOT, "build"))


def deps_ok():
    r = subprocess.run([os.path.join(HERE, "deps.sh")], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def test_bench_smoke():
    ok, why = deps_ok()
    if not ok:
        pytest.skip("benchmark tools missing: " + why.strip())
    out = tempfile.mkdtemp(prefix="utgt-bench-smoke-")
    try:
        r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "bench.py"), "--smoke",
                            "--build", BUILD, "--out", out, "--shm", out],
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stdout + r.stderr
        with open(os.path.join(out, "runs.csv")) as f:
            rows = list(csv.DictReader(f))
        ceiling = [row for row in rows if row["section"] == "ceiling"]
        rows = [row for row in rows if row["section"] != "ceiling"]
        if shutil.which("iperf3"):
            assert ceiling and float(ceiling[0]["mbps"]) > 0, ceiling
        systems = {row["system"] for row in rows}
        assert "utgt" in systems, rows
        if shutil.which("tgtd"):
            assert "tgt" in systems, rows
        tools = {row["tool"] for row in rows}
        assert tools == {"iscsi-perf", "iobench", "qemu-img"}, tools
        for row in rows:
            assert int(row["ios"]) > 0 and float(row["cpu_us_per_io"]) >= 0, row
        with open(os.path.join(out, "results.md")) as f:
            text = f.read()
        assert "## Throughput" in text and "## Goals" in text, text
        assert os.path.exists(os.path.join(out, "summary.csv"))
        if shutil.which("gnuplot"):
            assert os.path.getsize(os.path.join(out, "bench.png")) > 0
    finally:
        shutil.rmtree(out, ignore_errors=True)
