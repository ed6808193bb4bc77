#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Prints the closing line of `make test` from meson's JSON test logs, counting the test cases
inside each meson test (cmocka and pytest output): 'summary: N passed, N failed, N skipped'.
A meson test that failed without a parsable count counts as one failure."""
import json
import re
import sys

PYTEST = re.compile(r"(\d+) (passed|failed|skipped|error|errors)\b")
CMOCKA_PASS = re.compile(r"\[  PASSED  \] (\d+) test")
CMOCKA_FAIL = re.compile(r"\[  FAILED  \] (\d+) test")
CMOCKA_SKIP = re.compile(r"\[  SKIPPED \] (\d+) test")

totals = {"passed": 0, "failed": 0, "skipped": 0}


def count(stdout):
    found = {"passed": 0, "failed": 0, "skipped": 0}
    seen = False
    for pat, key in ((CMOCKA_PASS, "passed"), (CMOCKA_FAIL, "failed"), (CMOCKA_SKIP, "skipped")):
        for m in pat.finditer(stdout):
            found[key] += int(m.group(1))
            seen = True
    if not seen:
        tail = [l for l in stdout.strip().splitlines() if PYTEST.search(l)][-1:] or [""]
        for m in PYTEST.finditer(tail[0]):
            key = {"error": "failed", "errors": "failed"}.get(m.group(2), m.group(2))
            found[key] += int(m.group(1))
            seen = True
    return found if seen else None


for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        totals["failed"] += 1
        continue
    for line in lines:
        rec = json.loads(line)
        ok = rec.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        found = count((rec.get("stdout") or "") + "\n" + (rec.get("stderr") or ""))
        if found is None:
            found = {"passed": 1 if ok else 0, "failed": 0 if ok else 1, "skipped": 0}
        elif not ok and found["failed"] == 0:
            found["failed"] = 1
        for k in totals:
            totals[k] += found[k]

print("summary: %(passed)d passed, %(failed)d failed, %(skipped)d skipped" % totals)
sys.exit(1 if totals["failed"] else 0)
