# SPDX-License-Identifier: GPL-2.0-only
"""The libiscsi conformance matrix: every iscsi-test-cu suite, each in its own process with a
timeout, against a table of LUN configurations (thin file, fully allocated file, read-only,
removable, null, 4096-byte blocks). Per test it records passed / failed / skipped (libiscsi
counts a skip as passed in its CUnit summary; the verbose output says "[SKIPPED]").

Run directly for the table:  python3 tests/conformance/matrix.py [--config NAME]... [--suite S]...
test_matrix.py runs it under pytest."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from conftest import IQN, Daemon, free_port  # noqa: E402

SUITE_TIMEOUT = 120
# Sanitize.Reset sleeps 60 s once it has seen a SANITIZE survive its resets, after the three
# paced overwrites of Sanitize.Overwrite (about 8 s each at sanitize_rate=16).
SUITE_TIMEOUTS = {"Sanitize": 240}
# Suites run over one portal. libiscsi's Sanitize.Reservations takes a RESERVE(6) on the second
# session and releases it only by logging a cloned session out: with two portals that session
# is the permanent second path, so the reservation stays and Sanitize.Reset's SANITIZE meets a
# RESERVATION CONFLICT. With one portal the second session is a clone that logs out.
SINGLE_PATH_SUITES = {"Sanitize"}
LUN_SIZE = 128 << 20

# Suites that need no writes: the only ones the read-only configuration runs.
READ_ONLY_SUITES = [
    "ReadOnly", "Inquiry", "ReadCapacity10", "ReadCapacity16", "Read6", "Read10", "Read12",
    "Read16", "ModeSense6", "TestUnitReady", "ReportSupportedOpcodes",
]

# The null store discards writes and reads zeroes: only suites that never read data back.
NULL_SUITES = [
    "Inquiry", "TestUnitReady", "ReadCapacity10", "ReadCapacity16", "Read6", "Read10", "Read12",
    "Read16", "Write10", "Write12", "Write16", "Verify10", "Verify12", "Verify16",
    "WriteVerify10", "WriteVerify12", "WriteVerify16", "Prefetch10", "Prefetch16",
    "ReadDefectData10", "ReadDefectData12", "ModeSense6", "ReportSupportedOpcodes", "Mandatory",
    "iSCSIcmdsn", "iSCSITMF",
]

# Tests that cannot pass on a configuration whatever the target does, shown as "n/a" (not run
# results): each with the reason.
NA_FULL = {
    # Sends WRITE SAME with UNMAP and fails either way on a fully provisioned LU: a refusal is a
    # failed command, an acceptance contradicts LBPME=0.
    "WriteSame10.UnmapVPD": "assumes logical block provisioning",
    "WriteSame16.UnmapVPD": "assumes logical block provisioning",
}
# Sanitize.Reset needs a SANITIZE still running 4 s after it started, across resets and a
# re-login: only the thin configuration paces its overwrite (sanitize_rate=16, 8 s for the LU);
# elsewhere the 128 MiB LU is overwritten in about a second.
NA_FAST_SANITIZE = {"Sanitize.Reset": "SANITIZE is not paced: done before the resets"}
NA_4K = {
    # libiscsi 1.19's verify_write_works() sends 512 bytes whatever the block size (fixed
    # upstream in 2020, "test-tool: Use block_size instead of hardcoded 512 bytes").
    "ProutReserve.Access" + t: "libiscsi 1.19 writes 512 bytes to a 4096-byte LU"
    for t in ("EA", "WE", "EARO", "WERO", "EAAR", "WEAR")
}

# name: backing store, block size, LU params, file preallocation, suites (None: all)
CONFIGS = {
    "thin": dict(bstype=None, blocksize=None, params="thin_provisioning=1,sanitize_rate=16",
                 prealloc=False),
    "full": dict(bstype=None, blocksize=None, params=None, prealloc=True,
                 na=dict(NA_FULL, **NA_FAST_SANITIZE)),
    "ro": dict(bstype=None, blocksize=None, params="readonly=1,thin_provisioning=1",
               prealloc=False, suites=READ_ONLY_SUITES),
    "removable": dict(bstype=None, blocksize=None, params="removable=1,thin_provisioning=1",
                      prealloc=False, na=NA_FAST_SANITIZE),
    "null": dict(bstype="null", blocksize=None, params=None, prealloc=False, suites=NULL_SUITES),
    # 512-byte blocks in 4 KiB physical blocks (LBPPBE 3): the tests that need LBPPB > 1. Only
    # suites libiscsi 1.19 handles with LBPPB > 1 (GetLBAStatus.UnmapSingle does not).
    "phys4k": dict(bstype=None, blocksize=None,
                   params="thin_provisioning=1,physical_block_size=4096", prealloc=False,
                   suites=["CompareAndWrite", "WriteSame10", "WriteSame16"]),
    "4k": dict(bstype=None, blocksize=4096, params="thin_provisioning=1", prealloc=False,
               na=dict(NA_4K, **NA_FAST_SANITIZE)),
}

TEST_RE = re.compile(r"^  Test: (\S+) \.\.\.", re.M)
# CUnit's own verdict: "passed"/"FAILED" at a line start or right after "...", never the
# "[FAILED]" of a test's log line.
STATUS_RE = re.compile(r"(?m)(?:^|\.\.\.)(passed|FAILED)(?=\s|$)")


def all_suites():
    """Suite names of 'iscsi-test-cu --list' under ALL (e.g. 'CompareAndWrite')."""
    out = subprocess.run(["iscsi-test-cu", "--list"], capture_output=True, text=True,
                         timeout=30).stdout
    return [l.split(".")[1] for l in out.split() if l.count(".") == 1 and l.startswith("ALL.")]


def family(suite):
    return "iSCSI" if suite.startswith("iSCSI") else "SCSI"


def parse_output(suite, out, na=None):
    """{test name: 'pass'|'fail'|'skip'|'n/a'} from CUnit's verbose output."""
    res = {}
    marks = list(TEST_RE.finditer(out))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(out)
        block = out[m.end():end]
        st = STATUS_RE.search(block)
        name = "%s.%s" % (suite, m.group(1))
        if na and name in na:
            res[name] = "n/a"
        elif not st or st.group(1) == "FAILED":
            res[name] = "fail"
        elif "[SKIPPED]" in block[:st.start()]:
            res[name] = "skip"
        else:
            res[name] = "pass"
    return res


def make_file(path, size, prealloc):
    with open(path, "wb") as f:
        if prealloc:
            os.posix_fallocate(f.fileno(), 0, size)
        else:
            f.truncate(size)


def start_target(workdir, cfg):
    d = Daemon(workdir, portals=None)
    d.port2 = free_port()
    d.portals = ["127.0.0.1:%d" % d.port, "127.0.0.1:%d" % d.port2]
    d.start()
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1",
          "--targetname", IQN)
    args = ["--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1"]
    if cfg["bstype"] == "null":
        args += ["--bstype", "null", "--backing-store", "None", "--bsopts", "size=%d" % LUN_SIZE]
    else:
        path = os.path.join(workdir, "lun1.img")
        make_file(path, LUN_SIZE, cfg["prealloc"])
        args += ["--backing-store", path]
    if cfg["blocksize"]:
        args += ["--blocksize", str(cfg["blocksize"])]
    d.adm(*args)
    if cfg["params"]:
        d.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1",
              "--lun", "1", "--params", cfg["params"])
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1",
          "--initiator-address", "ALL")
    return d


def run_suite(d, suite, na=None):
    """Runs one suite; returns ({test: status}, raw output, seconds)."""
    url1 = "iscsi://127.0.0.1:%d/%s/1" % (d.port, IQN)
    url2 = "iscsi://127.0.0.1:%d/%s/1" % (d.port2, IQN)
    argv = ["iscsi-test-cu", "--dataloss", "--allow-sanitize", "--verbose",
            "--test=%s.%s" % (family(suite), suite), url1]
    if suite not in SINGLE_PATH_SUITES:
        argv.append(url2)
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=SUITE_TIMEOUTS.get(suite, SUITE_TIMEOUT))
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return {"%s.<timeout>" % suite: "fail"}, out + "\nTIMEOUT", SUITE_TIMEOUT
    res = parse_output(suite, r.stdout, na)
    if not res:
        res = {"%s.<no output>" % suite: "fail"}
    return res, out, time.monotonic() - t0


def run_config(name, suites=None, keep_logs=None):
    """Runs the suites of one configuration against its own utgtd. Returns
    {suite: ({test: status}, output)}."""
    cfg = CONFIGS[name]
    todo = [s for s in (suites or all_suites()) if cfg.get("suites") is None or s in cfg["suites"]]
    workdir = tempfile.mkdtemp(prefix="utgt-conf-%s-" % name, dir=os.environ.get("UTGT_TMPDIR"))
    results = {}
    d = start_target(workdir, cfg)
    try:
        for s in todo:
            res, out, _ = run_suite(d, s, cfg.get("na"))
            results[s] = (res, out)
            if d.proc.poll() is not None:
                raise RuntimeError("utgtd died during %s (%s):\n%s" % (s, name, d.read_log()[-3000:]))
    finally:
        rc = d.stop()
        log = d.read_log()
        if keep_logs:
            shutil.copy(d.log_path, os.path.join(keep_logs, "utgtd-%s.log" % name))
        shutil.rmtree(workdir, ignore_errors=True)
    if rc != 0:
        raise RuntimeError("utgtd (%s) exited with %s:\n%s" % (name, rc, log[-3000:]))
    return results


def run_matrix(configs=None, suites=None, jobs=2, keep_logs=None):
    configs = configs or list(CONFIGS)
    suites = suites or all_suites()
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        futs = {c: ex.submit(run_config, c, suites, keep_logs) for c in configs}
        return {c: f.result() for c, f in futs.items()}


def summarize(matrix, suites):
    """Per-test best outcome over configurations, and the printed table."""
    configs = list(matrix)
    lines = []
    head = "%-28s" % "suite" + "".join("%-14s" % c for c in configs)
    lines.append(head)
    lines.append("-" * len(head))
    tests = {}
    tot = {c: [0, 0, 0] for c in configs}
    for s in suites:
        row = "%-28s" % s
        for c in configs:
            if s not in matrix[c]:
                row += "%-14s" % "-"
                continue
            res = matrix[c][s][0]
            n = [sum(1 for v in res.values() if v == k) for k in ("pass", "fail", "skip")]
            for i in range(3):
                tot[c][i] += n[i]
            row += "%-14s" % ("%d/%d/%d" % tuple(n))
            for t, v in res.items():
                tests.setdefault(t, {})[c] = v
        lines.append(row)
    lines.append("-" * len(head))
    lines.append("%-28s" % "total pass/fail/skip" + "".join("%-14s" % ("%d/%d/%d" % tuple(tot[c]))
                                                          for c in configs))
    passed = sorted(t for t, v in tests.items() if "pass" in v.values())
    failed = sorted(t for t, v in tests.items() if "fail" in v.values())
    never = sorted(t for t in tests if t not in passed)
    lines.append("distinct tests: %d, passed in some configuration: %d, failed in some: %d, "
                 "passed nowhere: %d" % (len(tests), len(passed), len(failed), len(never)))
    for t in failed:
        lines.append("FAILED %s in %s" % (t, ",".join(c for c, v in tests[t].items() if v == "fail")))
    for t in never:
        if t not in failed:
            lines.append("NOT PASSED %s (%s)" % (t, ",".join("%s:%s" % kv for kv in tests[t].items())))
    return tests, failed, never, "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", action="append", choices=list(CONFIGS))
    ap.add_argument("--suite", action="append")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--logs", help="directory for utgtd logs and suite outputs")
    a = ap.parse_args()
    suites = a.suite or all_suites()
    t0 = time.monotonic()
    m = run_matrix(a.config, suites, a.jobs, a.logs)
    if a.logs:
        for c, r in m.items():
            for s, (_, out) in r.items():
                with open(os.path.join(a.logs, "%s-%s.txt" % (c, s)), "w") as f:
                    f.write(out)
    _, failed, never, table = summarize(m, suites)
    print(table)
    print("matrix took %.1f s" % (time.monotonic() - t0))
    return 1 if failed or never else 0


if __name__ == "__main__":
    sys.exit(main())
