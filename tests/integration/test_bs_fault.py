# SPDX-License-Identifier: GPL-2.0-only
"""The fault wrapper store (--bstype fault): injected EIO, ENOSPC, EROFS, torn writes and
latency (global and per LBA range) reach the initiator as the right sense data, commands on a
hang range stay in flight until --params fault_release=1, and nothing acknowledged is lost."""
import json
import os
import threading
import time

import pytest

from bs_util import (GOOD, assert_sense, file_bytes, login, lu_update, make_file, new_lu,
                     new_target, read, sync_cache, write)

SIZE = 16 << 20
BS = 512


def fault_lu(d, workdir, bsopts, path=True):
    p = make_file(workdir, "fault.img", SIZE) if path else None
    new_target(d)
    new_lu(d, p, "fault", bsopts=bsopts)
    return p


@pytest.mark.parametrize("lower", ["io_uring", "aio", "rdwr"])
def test_eio_read_and_write(daemon, workdir, lower):
    path = fault_lu(daemon, workdir, "lower=%s,eio=100-107" % lower)
    ini = login(daemon)
    assert_sense(read(ini, 100, 1), 0x3, 0x11, 0x00)
    assert_sense(read(ini, 96, 8), 0x3, 0x11, 0x00)      # overlaps the range's first LBA
    assert_sense(write(ini, 107, bytes(BS)), 0x3, 0x0C, 0x00)
    assert read(ini, 92, 8).status == GOOD                 # 92..99: just before the range
    assert read(ini, 108, 8).status == GOOD                # just after
    data = os.urandom(8 * BS)
    assert write(ini, 0, data).status == GOOD
    assert read(ini, 0, 8).data == data
    assert sync_cache(ini).status == GOOD
    assert file_bytes(path, 0, len(data)) == data
    ini.logout()


def test_enospc_write(daemon, workdir):
    fault_lu(daemon, workdir, "enospc=200-299")
    ini = login(daemon)
    assert_sense(write(ini, 250, bytes(4 * BS)), 0x7, 0x27, 0x07)
    assert read(ini, 250, 4).status == GOOD               # reads are unaffected
    ini.logout()


def test_erofs_write(daemon, workdir):
    fault_lu(daemon, workdir, "erofs=300")
    ini = login(daemon)
    assert_sense(write(ini, 300, bytes(BS)), 0x7, 0x27, 0x00)
    assert write(ini, 301, bytes(BS)).status == GOOD
    ini.logout()


def test_torn_write(daemon, workdir):
    """A torn write stores its first half, then fails with MEDIUM ERROR (write)."""
    path = fault_lu(daemon, workdir, "torn=400-415")
    ini = login(daemon)
    old = b"\x11" * (16 * BS)
    # the range is not writable as a whole, so seed it through the file itself
    with open(path, "r+b") as f:
        f.seek(400 * BS)
        f.write(old)
    new = b"\x22" * (16 * BS)
    assert_sense(write(ini, 400, new), 0x3, 0x0C, 0x00)
    got = read(ini, 400, 16).data
    assert got[:8 * BS] == new[:8 * BS] and got[8 * BS:] == old[8 * BS:]
    ini.logout()


def test_nothing_acknowledged_is_lost(daemon, workdir):
    """Mixed good and failing writes: every acknowledged block reads back, on the LU and in
    the file after SYNCHRONIZE CACHE; failed writes are never reported GOOD."""
    path = fault_lu(daemon, workdir, "lower=rdwr,workers=2,eio=64-71,enospc=128-135,"
                    "torn=192-199")
    ini = login(daemon)
    acked = {}
    for lba in range(0, 256, 8):
        data = os.urandom(8 * BS)
        r = write(ini, lba, data)
        bad = lba in (64, 128, 192)
        assert (r.status == GOOD) != bad, (lba, r.status)
        if r.status == GOOD:
            acked[lba] = data
    assert sync_cache(ini).status == GOOD
    for lba, data in acked.items():
        assert read(ini, lba, 8).data == data
        assert file_bytes(path, lba * BS, len(data)) == data
    ini.logout()


def test_delay(daemon, workdir):
    fault_lu(daemon, workdir, "delay_ms=300")
    ini = login(daemon)
    data = os.urandom(8 * BS)
    t0 = time.monotonic()
    assert write(ini, 0, data).status == GOOD
    r = read(ini, 0, 8)
    elapsed = time.monotonic() - t0
    assert r.status == GOOD and r.data == data
    assert elapsed >= 0.55, elapsed
    ini.logout()


def test_delay_with_fault(daemon, workdir):
    fault_lu(daemon, workdir, "lower=aio,delay_ms=50,eio=0")
    ini = login(daemon)
    assert_sense(read(ini, 0, 1), 0x3, 0x11, 0x00)
    assert read(ini, 1, 1).status == GOOD
    ini.logout()


def test_over_null(daemon, workdir):
    fault_lu(daemon, workdir, "lower=null,size=1048576,eio=10", path=False)
    ini = login(daemon)
    assert_sense(read(ini, 10, 1), 0x3, 0x11, 0x00)
    r = read(ini, 11, 1)
    assert r.status == GOOD and r.data == bytes(BS)
    ini.logout()


@pytest.mark.parametrize("opts", ["lower=nosuch", "eio=9-3", "eio=x", "delay_ms=999999",
                                  "lower=rdwr,workers=0", "eio", "delay=5-9", "delay=9-5:10",
                                  "delay=1:70000", "hang=", "hang=3-1", "lower=aio,sqpoll=1"])
def test_bad_options_refused(daemon, workdir, opts):
    p = make_file(workdir, "f.img", SIZE)
    new_target(daemon)
    assert new_lu(daemon, p, "fault", bsopts=opts, check=False).returncode != 0


def test_flush_eio(daemon, workdir):
    fault_lu(daemon, workdir, "flush_eio=1")
    ini = login(daemon)
    assert write(ini, 0, bytes(BS)).status == GOOD
    r = sync_cache(ini)
    assert_sense(r, 0x3, 0x0C, 0x00)
    ini.logout()


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def test_delay_per_range(daemon, workdir):
    """delay=A-B:MS holds only commands on its range; a command over two ranges waits the
    longer delay; delay_ms still applies everywhere else."""
    fault_lu(daemon, workdir, "lower=rdwr,delay=100-199:600,delay=300:300,delay_ms=0")
    ini = login(daemon)
    data = os.urandom(8 * BS)
    r, fast = timed(lambda: write(ini, 0, data))
    assert r.status == GOOD
    r, slow = timed(lambda: write(ini, 196, data))         # 196..203 overlaps 100-199
    assert r.status == GOOD and slow >= 0.6, slow
    assert fast < slow
    r, mid = timed(lambda: read(ini, 296, 8))               # 296..303 overlaps LBA 300
    assert r.status == GOOD and 0.3 <= mid, mid
    r, both = timed(lambda: read(ini, 190, 120))            # both ranges: the longer one
    assert r.status == GOOD and both >= 0.6, both
    assert read(ini, 196, 8).data == data
    ini.logout()


def inflight_bs(d):
    """Commands of utgtd that are inside the backing store (--mode conn --op show inflight)."""
    r = d.adm("--mode", "conn", "--op", "show", "--name", "inflight", json_out=True)
    return [c for c in json.loads(r.stdout)["inflight"] if c["state"] == "in backing store"]


def wait_inflight(d, n):
    deadline = time.monotonic() + 10
    while len(inflight_bs(d)) != n:
        assert time.monotonic() < deadline, inflight_bs(d)
        time.sleep(0.05)


def test_hang_until_release(daemon, workdir):
    """A command on a hang range stays in the store, however long, while other commands (other
    LBAs, other sessions) complete; fault_release=1 lets it finish, with its data."""
    path = fault_lu(daemon, workdir, "lower=rdwr,hang=500-507,eio=600,hang=600")
    ini = login(daemon)
    ini2 = login(daemon, name="iqn.2026-11.org.utgt:client2")
    data = os.urandom(8 * BS)
    result = {}
    th = threading.Thread(target=lambda: result.update(r=write(ini, 500, data)))
    th.start()
    try:
        wait_inflight(daemon, 1)
        c = inflight_bs(daemon)[0]
        assert c["bs_op"] == "write" and c["bs_offset"] == 500 * BS, c
        other = os.urandom(8 * BS)
        assert write(ini2, 0, other).status == GOOD          # the store is not blocked
        assert read(ini2, 0, 8).data == other
        assert th.is_alive() and "r" not in result
        assert file_bytes(path, 500 * BS, len(data)) == bytes(len(data))
        assert lu_update(daemon, "fault_release=0").returncode == 0
        assert len(inflight_bs(daemon)) == 1
        assert lu_update(daemon, "fault_release=1").returncode == 0
        th.join(10)
        assert not th.is_alive()
    finally:
        lu_update(daemon, "fault_release=1", check=False)
        th.join(10)
    assert result["r"].status == GOOD
    assert sync_cache(ini2).status == GOOD                  # FLUSH covers no LBA: not held
    assert file_bytes(path, 500 * BS, len(data)) == data    # (a READ of 500-507 would hang)
    # released commands still get their fault; a new command on the range hangs again
    th = threading.Thread(target=lambda: result.update(r=read(ini, 600, 1)))
    th.start()
    try:
        wait_inflight(daemon, 1)
        lu_update(daemon, "fault_release=1")
        th.join(10)
    finally:
        lu_update(daemon, "fault_release=1", check=False)
        th.join(10)
    assert_sense(result["r"], 0x3, 0x11, 0x00)
    assert lu_update(daemon, "fault_release=x", check=False).returncode != 0
    ini.logout()
    ini2.logout()


def test_release_needs_fault_store(daemon, workdir):
    p = make_file(workdir, "f.img", SIZE)
    new_target(daemon)
    new_lu(daemon, p, "rdwr")
    r = lu_update(daemon, "fault_release=1", check=False)
    assert r.returncode != 0 and "unknown parameter" in r.stderr, r.stderr
