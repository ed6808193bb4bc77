# SPDX-License-Identifier: GPL-2.0-only
"""Online changes of a backing store without restarting utgtd: a grown file picked up with
--params size_refresh=1 (CAPACITY DATA HAS CHANGED on every nexus), and an LU taken offline,
given a new backing file with --params path=..., and brought back online."""
import os

import pytest

from bs_util import (GOOD, Loop, assert_sense, login, lu_update, make_file, new_lu, new_target,
                     read, read_capacity, write)

SIZE = 16 << 20


@pytest.mark.parametrize("driver", ["io_uring", "aio", "rdwr"])
def test_size_refresh_raises_capacity_changed(daemon, workdir, driver):
    path = make_file(workdir, "grow.img", SIZE)
    new_target(daemon)
    new_lu(daemon, path, driver)
    a = login(daemon)
    b = login(daemon, name="iqn.2026-11.org.utgt:client-b")
    assert read_capacity(a) == (SIZE // 512 - 1, 512)
    with open(path, "r+b") as f:
        f.truncate(2 * SIZE)
    lu_update(daemon, "size_refresh=1")
    for ini in (a, b):
        assert_sense(ini.scsi(bytes(6), lun=1), 0x6, 0x2A, 0x09)
        assert read_capacity(ini) == (2 * SIZE // 512 - 1, 512)
    data = os.urandom(4096)
    last = 2 * SIZE // 512 - 8
    assert write(a, last, data).status == GOOD
    assert read(b, last, 8).data == data
    a.logout()
    b.logout()


def test_size_refresh_unchanged_no_ua(daemon, workdir):
    path = make_file(workdir, "same.img", SIZE)
    new_target(daemon)
    new_lu(daemon, path)
    ini = login(daemon)
    lu_update(daemon, "size_refresh=1")
    assert ini.scsi(bytes(6), lun=1).status == GOOD
    ini.logout()


def test_size_refresh_loop_device(daemon, workdir):
    path = make_file(workdir, "grow.img", SIZE)
    lp = Loop(path)
    try:
        new_target(daemon)
        new_lu(daemon, lp.dev)
        ini = login(daemon)
        with open(path, "r+b") as f:
            f.truncate(3 * SIZE)
        os.system("losetup -c %s" % lp.dev)
        lu_update(daemon, "size_refresh=1")
        assert_sense(ini.scsi(bytes(6), lun=1), 0x6, 0x2A, 0x09)
        assert read_capacity(ini) == (3 * SIZE // 512 - 1, 512)
        ini.logout()
    finally:
        daemon.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "delete", "--tid", "1",
                   "--lun", "1", check=False)
        lp.close()


def test_size_refresh_null_refused(daemon, workdir):
    new_target(daemon)
    new_lu(daemon, None, "null")
    assert lu_update(daemon, "size_refresh=1", check=False).returncode != 0


@pytest.mark.parametrize("driver", ["io_uring", "aio", "rdwr", "fault"])
def test_offline_replace_online(daemon, workdir, driver):
    old = make_file(workdir, "old.img", SIZE, fill=b"\x01")
    new = make_file(workdir, "new.img", 2 * SIZE, fill=b"\x02")
    new_target(daemon)
    fault = "lower=rdwr,delay_ms=5,eio=9" if driver == "fault" else None
    new_lu(daemon, old, driver, bsopts=fault)
    ini = login(daemon)
    assert read(ini, 0, 1).data == b"\x01" * 512
    # the path of an online LU cannot change
    assert lu_update(daemon, "path=" + new, check=False).returncode != 0
    lu_update(daemon, "online=0")
    assert_sense(ini.scsi(bytes(6), lun=1), 0x2, 0x04, 0x12)
    # a bad path leaves the old store in place
    assert lu_update(daemon, "path=" + os.path.join(workdir, "missing"),
                     check=False).returncode != 0
    lu_update(daemon, "path=" + new)
    lu_update(daemon, "online=1")
    assert_sense(ini.scsi(bytes(6), lun=1), 0x6, 0x2A, 0x09)
    assert read_capacity(ini) == (2 * SIZE // 512 - 1, 512)
    assert read(ini, 0, 1).data == b"\x02" * 512
    if fault:
        assert_sense(read(ini, 9, 1), 0x3, 0x11, 0x00)   # the wrapper survives the reopen
    data = os.urandom(512)
    assert write(ini, 5, data).status == GOOD
    with open(new, "rb") as f:
        f.seek(5 * 512)
        assert f.read(512) == data
    out = daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert new in out
    ini.logout()


def test_offline_replace_failed_keeps_old(daemon, workdir):
    old = make_file(workdir, "old.img", SIZE, fill=b"\x03")
    new_target(daemon)
    new_lu(daemon, old)
    lu_update(daemon, "online=0")
    assert lu_update(daemon, "path=" + workdir, check=False).returncode != 0
    lu_update(daemon, "online=1")
    ini = login(daemon)
    assert read(ini, 0, 1).data == b"\x03" * 512
    ini.logout()
