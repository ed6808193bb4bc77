# SPDX-License-Identifier: GPL-2.0-only
"""Every backing-store driver end to end through iSCSI: io_uring, aio and rdwr over regular
files and loop block devices (buffered, O_DIRECT, O_SYNC, 4096-byte blocks), io_uring on a
per-LU ring (--bsopts sqpoll=1 / fixed=1), io_uring inline on the reactor (tmpfs, inline=1),
null, and read-only stores. Data written with the strict initiator or qemu-img must read back
identically, and be on the backing file after SYNCHRONIZE CACHE."""
import os
import shutil
import struct
import tempfile
import time

import pytest

from bs_util import (DRIVERS, GOOD, Loop, assert_sense, file_bytes, login, make_file, new_lu,
                     new_target, read, read_capacity, sync_cache, write)
from conftest import have, qemu_img_roundtrip

SIZE = 32 << 20


@pytest.fixture
def loops():
    made = []

    def attach(path, readonly=False):
        lp = Loop(path, readonly)
        made.append(lp)
        return lp.dev

    yield attach
    for lp in made:
        lp.close()


def roundtrip(ini, backing, bs=512, lba=8, blocks=256, verify_file=True, tail=True):
    """Writes random blocks, reads them back, flushes and checks the backing file."""
    data = os.urandom(blocks * bs)
    r = write(ini, lba, data, bs)
    assert r.status == GOOD, r.sense.hex()
    r = read(ini, lba, blocks, bs)
    assert r.status == GOOD and r.data == data
    assert sync_cache(ini).status == GOOD
    if verify_file:
        assert file_bytes(backing, lba * bs, len(data)) == data
    if tail:
        # untouched blocks after the write still read as zeroes
        r = read(ini, lba + blocks, 8, bs)
        assert r.status == GOOD and r.data == bytes(8 * bs)


@pytest.mark.parametrize("oflags", [None, "direct", "sync"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_driver_file(daemon, workdir, driver, oflags):
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    new_lu(daemon, path, driver, bsoflags=oflags)
    ini = login(daemon)
    assert read_capacity(ini) == (SIZE // 512 - 1, 512)
    roundtrip(ini, path)
    # an unaligned tail (odd block count) and a write at the last LBA
    roundtrip(ini, path, lba=SIZE // 512 - 3, blocks=3, tail=False)
    ini.logout()


@pytest.mark.parametrize("oflags", [None, "direct"])
@pytest.mark.parametrize("driver", DRIVERS)
def test_driver_loop_device(daemon, workdir, loops, driver, oflags):
    path = make_file(workdir, "loop.img", SIZE)
    dev = loops(path)
    new_target(daemon)
    new_lu(daemon, dev, driver, bsoflags=oflags)
    ini = login(daemon)
    assert read_capacity(ini) == (SIZE // 512 - 1, 512)
    roundtrip(ini, path)
    ini.logout()


@pytest.mark.parametrize("driver", DRIVERS)
def test_driver_blocksize_4096(daemon, workdir, loops, driver):
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    new_lu(daemon, path, driver, blocksize=4096, bsoflags="direct")
    ini = login(daemon)
    assert read_capacity(ini) == (SIZE // 4096 - 1, 4096)
    roundtrip(ini, path, bs=4096, lba=3, blocks=33)
    ini.logout()


def test_null_reads_zeroes(daemon, workdir):
    new_target(daemon)
    new_lu(daemon, None, "null", bsopts="size=%d" % (1 << 30))
    ini = login(daemon)
    assert read_capacity(ini) == ((1 << 30) // 512 - 1, 512)
    assert write(ini, 0, os.urandom(64 * 512)).status == GOOD
    r = read(ini, 0, 64)
    assert r.status == GOOD and r.data == bytes(64 * 512)
    assert sync_cache(ini).status == GOOD
    ini.logout()


def test_null_default_size_is_1tib(daemon, workdir):
    new_target(daemon)
    new_lu(daemon, None, "null")
    ini = login(daemon)
    assert read_capacity(ini) == ((1 << 40) // 512 - 1, 512)
    ini.logout()


@pytest.mark.parametrize("driver", DRIVERS)
def test_readonly_param_write_protected(daemon, workdir, driver):
    path = make_file(workdir, "ro.img", SIZE, fill=b"\xa5")
    new_target(daemon)
    new_lu(daemon, path, driver, params="readonly=1")
    ini = login(daemon)
    r = write(ini, 0, bytes(4096))
    assert_sense(r, 0x7, 0x27, 0x00)
    r = read(ini, 0, 8)
    assert r.status == GOOD and r.data == b"\xa5" * 4096
    assert file_bytes(path, 0, 4096) == b"\xa5" * 4096
    ini.logout()


@pytest.mark.parametrize("driver", DRIVERS)
def test_readonly_device_falls_back(daemon, workdir, loops, driver):
    """A read-only block device (losetup -r) cannot be opened for writing: the LU becomes
    read-only (root ignores chmod 0444 on files, so a read-only loop device stands in)."""
    path = make_file(workdir, "ro.img", SIZE, fill=b"\x5a")
    dev = loops(path, readonly=True)
    new_target(daemon)
    new_lu(daemon, dev, driver)
    ini = login(daemon)
    assert_sense(write(ini, 0, bytes(512)), 0x7, 0x27, 0x00)
    r = read(ini, 0, 1)
    assert r.status == GOOD and r.data == b"\x5a" * 512
    ini.logout()
    assert "read-only" in daemon.read_log()


def test_directory_refused(daemon, workdir):
    new_target(daemon)
    r = new_lu(daemon, workdir, "io_uring", check=False)
    assert r.returncode != 0


def test_unknown_bsopt_refused(daemon, workdir):
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    assert new_lu(daemon, path, "rdwr", bsopts="nonsense=1", check=False).returncode != 0
    assert new_lu(daemon, path, "rdwr", bsopts="workers=2").returncode == 0


@pytest.mark.skipif(not have("qemu-img"), reason="qemu-utils missing")
@pytest.mark.parametrize("driver", DRIVERS)
def test_qemu_img_roundtrip(daemon, workdir, loops, driver):
    path = make_file(workdir, "lun.img", SIZE)
    dev = loops(path) if driver == "aio" else path
    new_target(daemon)
    new_lu(daemon, dev, driver, bsoflags="direct" if driver == "aio" else None)
    data = qemu_img_roundtrip(workdir, daemon.url(1))
    assert file_bytes(path, 0, len(data)) == data


@pytest.mark.parametrize("driver", DRIVERS)
def test_fua_write(daemon, workdir, driver):
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    new_lu(daemon, path, driver)
    ini = login(daemon)
    data = os.urandom(64 * 512)
    assert write(ini, 100, data, flags=0x08).status == GOOD      # FUA
    assert file_bytes(path, 100 * 512, len(data)) == data
    ini.logout()


def unmap(ini, lba, blocks):
    desc = struct.pack(">QII", lba, blocks, 0)
    param = struct.pack(">HH4x", 6 + len(desc), len(desc)) + desc
    cdb = struct.pack(">BB4xBHB", 0x42, 0, 0, len(param), 0)
    return ini.scsi(cdb, lun=1, data_out=param)


@pytest.mark.parametrize("loop", [False, True])
@pytest.mark.parametrize("driver", DRIVERS)
def test_unmap_punches_hole(daemon, workdir, loops, driver, loop):
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    new_lu(daemon, loops(path) if loop else path, driver, params="thin_provisioning=1")
    ini = login(daemon)
    data = os.urandom(2048 * 512)
    assert write(ini, 0, data).status == GOOD
    assert sync_cache(ini).status == GOOD
    before = os.stat(path).st_blocks
    r = unmap(ini, 0, 2048)
    assert r.status == GOOD, r.sense.hex()
    r = read(ini, 0, 2048)
    assert r.status == GOOD
    if not loop:
        # a file: the hole reads as zeroes and frees the blocks
        assert r.data == bytes(len(data))
        assert os.stat(path).st_blocks < before
    ini.logout()


def thread_names(d):
    """Names of utgtd's threads."""
    names = []
    task = "/proc/%d/task" % d.proc.pid
    for tid in os.listdir(task):
        try:
            with open(os.path.join(task, tid, "comm")) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def sqpoll_threads(d):
    """Names of utgtd's kernel SQPOLL threads ("iou-sqp-PID")."""
    return [n for n in thread_names(d) if n.startswith("iou-sqp-")]


def wait_sqpoll_threads(d, n):
    """The kernel names the thread once it first runs, and ends it asynchronously."""
    deadline = time.monotonic() + 10
    while len(sqpoll_threads(d)) != n:
        assert time.monotonic() < deadline, sqpoll_threads(d)
        time.sleep(0.02)


@pytest.mark.parametrize("bsopts", ["sqpoll=1", "fixed=1", "sqpoll=1,fixed=1,sqpoll_idle_ms=20",
                                    "sqpoll=1,sqpoll_cpu=0"])
@pytest.mark.parametrize("oflags", [None, "direct"])
def test_uring_own_ring(daemon, workdir, bsopts, oflags):
    """io_uring with its own ring: data written reads back, also from the file, and an SQPOLL
    ring really has a kernel submission thread, gone once the LU is deleted."""
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    before = len(sqpoll_threads(daemon))
    new_lu(daemon, path, "io_uring", bsopts=bsopts, bsoflags=oflags)
    wait_sqpoll_threads(daemon, before + ("sqpoll=1" in bsopts))
    ini = login(daemon)
    roundtrip(ini, path)
    roundtrip(ini, path, lba=SIZE // 512 - 3, blocks=3, tail=False)
    # many commands at once from two sessions: every one reads back
    ini2 = login(daemon, name="iqn.2026-11.org.utgt:client2")
    blocks = {lba: os.urandom(8 * 512) for lba in range(1024, 1024 + 64 * 8, 8)}
    for i, (lba, data) in enumerate(blocks.items()):
        assert write(ini if i % 2 else ini2, lba, data).status == GOOD
    assert sync_cache(ini).status == GOOD
    for lba, data in blocks.items():
        assert read(ini2, lba, 8).data == data
        assert file_bytes(path, lba * 512, len(data)) == data
    ini.logout()
    ini2.logout()
    daemon.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "delete", "--tid", "1",
               "--lun", "1")
    wait_sqpoll_threads(daemon, before)


def iowq_threads(d):
    """utgtd's io_uring worker threads ("iou-wrk-TID"): requests the kernel punted."""
    return [n for n in thread_names(d) if n.startswith("iou-wrk-")]


@pytest.mark.parametrize("where,bsopts", [("/dev/shm", None), (None, "inline=1"),
                                          ("/dev/shm", "inline=0")])
def test_uring_inline(daemon, workdir, where, bsopts):
    """Reads and writes on tmpfs (or with inline=1) run on the reactor: no io-wq worker thread
    ever starts, short/unaligned and FUA writes land in the file; inline=0 keeps the ring."""
    d = where and tempfile.mkdtemp(prefix="utgt-inline-", dir=where)
    try:
        path = make_file(d or workdir, "lun.img", SIZE)
        new_target(daemon)
        new_lu(daemon, path, "io_uring", bsopts=bsopts)
        ini = login(daemon)
        data = os.urandom(64 * 512)
        assert write(ini, 100, data, flags=0x08).status == GOOD      # FUA
        assert file_bytes(path, 100 * 512, len(data)) == data
        blocks = {lba: os.urandom(8 * 512) for lba in range(2048, 2048 + 64 * 8, 8)}
        for lba, data in blocks.items():
            assert write(ini, lba, data).status == GOOD
        for lba, data in blocks.items():
            assert read(ini, lba, 8).data == data
        # tmpfs has no RWF_NOWAIT: through the ring every write is punted to a worker (before
        # any SYNCHRONIZE CACHE: io_uring always runs fsync on a worker)
        assert bool(iowq_threads(daemon)) == (bsopts == "inline=0"), thread_names(daemon)
        roundtrip(ini, path)
        roundtrip(ini, path, lba=SIZE // 512 - 3, blocks=3, tail=False)
        ini.logout()
    finally:
        if d:
            shutil.rmtree(d, ignore_errors=True)


def test_uring_own_ring_loop_device(daemon, workdir, loops):
    path = make_file(workdir, "loop.img", SIZE)
    dev = loops(path)
    new_target(daemon)
    new_lu(daemon, dev, "io_uring", bsopts="sqpoll=1,fixed=1", bsoflags="direct")
    ini = login(daemon)
    roundtrip(ini, path)
    ini.logout()


@pytest.mark.parametrize("bsopts", ["sqpoll=2", "sqpoll_cpu=0", "sqpoll=1,sqpoll_cpu=99999",
                                    "sqpoll=1,sqpoll_idle_ms=0", "fixed=maybe", "workers=2",
                                    "inline=2", "sqpoll=1,inline=1"])
def test_uring_bad_bsopts_refused(daemon, workdir, bsopts):
    path = make_file(workdir, "lun.img", SIZE)
    new_target(daemon)
    r = daemon.adm("--debug", "--lld", "iscsi", "--mode", "logicalunit", "--op", "new",
                   "--tid", "1", "--lun", "1", "--backing-store", path, "--bstype", "io_uring",
                   "--bsopts", bsopts, check=False)
    assert r.returncode != 0
    assert "invalid request" in r.stderr and "bad --bsopts" in r.stderr, r.stderr
    key = bsopts.split(",")[-1].split("=")[0]
    assert "bs io_uring:" in daemon.read_log() and key in daemon.read_log()
