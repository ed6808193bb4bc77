# SPDX-License-Identifier: GPL-2.0-only
"""The full conformance matrix (matrix.py): every iscsi-test-cu suite against every LUN
configuration. Fails on any failed test, and on any test that no configuration passes (a test
skipped everywhere counts as not passed), except the ones listed in known_gaps.txt, each with
its reason. A listed test that now passes everywhere must be removed from the list."""
import os

import pytest

import matrix
from conftest import have

HERE = os.path.dirname(os.path.abspath(__file__))


def known_gaps():
    with open(os.path.join(HERE, "known_gaps.txt")) as f:
        return {l.split("#")[0].strip() for l in f if l.split("#")[0].strip()}


@pytest.fixture(scope="module")
def result():
    suites = matrix.all_suites()
    m = matrix.run_matrix(suites=suites)
    tests, failed, never, table = matrix.summarize(m, suites)
    print("\n" + table)
    return tests, failed, never, table


@pytest.mark.skipif(not have("iscsi-test-cu"), reason="libiscsi-bin missing")
def test_matrix_no_failures(result):
    tests, failed, never, table = result
    unexpected = [t for t in failed if t not in known_gaps()]
    assert not unexpected, "failed tests:\n" + "\n".join(unexpected) + "\n\n" + table


@pytest.mark.skipif(not have("iscsi-test-cu"), reason="libiscsi-bin missing")
def test_matrix_every_test_passes_somewhere(result):
    tests, failed, never, table = result
    gaps = known_gaps()
    missing = [t for t in never if t not in gaps]
    assert not missing, "tests no configuration passes:\n" + "\n".join(missing) + "\n\n" + table
    stale = sorted(t for t in gaps if t in tests and t not in never and t not in failed)
    assert not stale, "known_gaps.txt lists tests that pass now:\n" + "\n".join(stale)
