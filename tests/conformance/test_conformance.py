# SPDX-License-Identifier: GPL-2.0-only
"""libiscsi's conformance suite (iscsi-test-cu), suite by suite with a timeout, against a
fresh utgtd. Every listed suite must finish with 0 failures."""
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from conftest import IQN, Daemon, have, setup_target  # noqa: E402

# The suites the foundation must pass with 0 failures (issue "utgtd serves a disk", item 8).
SUITES = [
    "SCSI.Inquiry", "SCSI.TestUnitReady", "SCSI.ReadCapacity10", "SCSI.ReadCapacity16",
    "SCSI.Read6", "SCSI.Read10", "SCSI.Read12", "SCSI.Read16",
    "SCSI.Write10", "SCSI.Write12", "SCSI.Write16", "SCSI.Verify10", "SCSI.Verify16",
    "SCSI.ReportSupportedOpcodes", "SCSI.ModeSense6", "SCSI.Mandatory",
    "iSCSI.iSCSIcmdsn", "iSCSI.iSCSIResiduals",
]
SUITE_TIMEOUT = 300

SUMMARY = re.compile(r"^\s*tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", re.M)


@pytest.fixture(scope="module")
def conformance_target(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("conformance"))
    d = Daemon(workdir).start()
    setup_target(d, workdir, size=128 << 20)
    yield d
    assert d.stop() == 0, d.read_log()


def run_suite(d, suite):
    argv = ["iscsi-test-cu", "--dataloss", "--test=" + suite, d.url(1)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=SUITE_TIMEOUT)
    m = SUMMARY.search(r.stdout)
    assert m, "no CUnit summary for %s:\n%s\n%s" % (suite, r.stdout[-3000:], r.stderr[-2000:])
    total, ran, passed, failed, inactive = map(int, m.groups())
    return total, ran, passed, failed, r.stdout


@pytest.mark.skipif(not have("iscsi-test-cu"), reason="libiscsi-bin missing")
@pytest.mark.parametrize("suite", SUITES)
def test_suite_has_no_failures(conformance_target, suite):
    total, ran, passed, failed, out = run_suite(conformance_target, suite)
    failures = [l for l in out.splitlines() if "FAILED" in l or "Failed" in l]
    assert failed == 0, "%s: %d of %d failed\n%s\n%s" % (suite, failed, ran, "\n".join(failures[:40]), out[-4000:])
    assert ran > 0
