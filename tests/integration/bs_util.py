# SPDX-License-Identifier: GPL-2.0-only
"""Helpers for the backing-store tests (test_bs_*.py): LUs with a chosen --bstype over files
and loop devices, and SCSI commands through the project's strict initiator."""
import os
import struct
import subprocess

import pytest

from conftest import IQN
from iscsi_client import Initiator

TUR = 0x00
READ_CAPACITY10 = 0x25
READ10 = 0x28
WRITE10 = 0x2A
SYNC_CACHE10 = 0x35
SERVICE_IN16 = 0x9E

GOOD = 0x00
CHECK_CONDITION = 0x02

DRIVERS = ["io_uring", "aio", "rdwr"]


def cdb10(op, lba, blocks, flags=0):
    return struct.pack(">BBIBHB", op, flags, lba, 0, blocks, 0)


def new_target(d, tid=1, iqn=IQN):
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", str(tid),
          "--targetname", iqn)
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", str(tid),
          "--initiator-address", "ALL")


def new_lu(d, path, bstype=None, lun=1, tid=1, bsoflags=None, bsopts=None, blocksize=None,
           params=None, check=True):
    args = ["--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", str(tid),
            "--lun", str(lun)]
    if path is not None:
        args += ["--backing-store", path]
    if bstype:
        args += ["--bstype", bstype]
    if bsoflags:
        args += ["--bsoflags", bsoflags]
    if bsopts:
        args += ["--bsopts", bsopts]
    if blocksize:
        args += ["--blocksize", str(blocksize)]
    if params:
        args += ["--params", params]
    return d.adm(*args, check=check)


def lu_update(d, params, lun=1, tid=1, check=True):
    return d.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", str(tid),
                 "--lun", str(lun), "--params", params, check=check)


def make_file(workdir, name, size, fill=None):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        if fill is None:
            f.truncate(size)
        else:
            f.write(fill * (size // len(fill)))
    return path


class Loop:
    """A loop block device over a file; detached in close()."""

    def __init__(self, path, readonly=False):
        argv = ["losetup", "-f", "--show"] + (["-r"] if readonly else []) + [path]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            pytest.skip("losetup unavailable here (needs root and loop devices): " + r.stderr)
        self.dev = r.stdout.strip()

    def close(self):
        subprocess.run(["losetup", "-d", self.dev], capture_output=True, timeout=30)


def login(d, lun=1, name="iqn.2026-11.org.utgt:client"):
    """Logs in and clears the power-on / LUNs-changed unit attentions of lun."""
    ini = Initiator("127.0.0.1", d.port, initiator=name)
    ini.login(IQN)
    clear_ua(ini, lun)
    return ini


def clear_ua(ini, lun=1):
    for _ in range(8):
        r = ini.scsi(bytes(6), lun=lun)
        if r.status == GOOD:
            return
    raise AssertionError("unit attentions do not clear")


def write(ini, lba, data, bs=512, lun=1, flags=0):
    return ini.scsi(cdb10(WRITE10, lba, len(data) // bs, flags), lun=lun, data_out=data)


def read(ini, lba, blocks, bs=512, lun=1):
    return ini.scsi(cdb10(READ10, lba, blocks), lun=lun, read_len=blocks * bs)


def sync_cache(ini, lun=1):
    return ini.scsi(cdb10(SYNC_CACHE10, 0, 0), lun=lun)


def read_capacity(ini, lun=1):
    """(last LBA, block length) from READ CAPACITY(16)."""
    cdb = struct.pack(">BBQIBB", SERVICE_IN16, 0x10, 0, 32, 0, 0)
    r = ini.scsi(cdb, lun=lun, read_len=32)
    assert r.status == GOOD, (r.status, r.sense.hex())
    last, bl = struct.unpack(">QI", r.data[:12])
    return last, bl


def assert_sense(r, key, asc, ascq):
    assert r.status == CHECK_CONDITION, "status %r, expected CHECK CONDITION" % r.status
    assert r.sense_key == key and r.asc_ascq == (asc, ascq), \
        "sense %x/%02x/%02x, expected %x/%02x/%02x" % (
            r.sense_key, *(r.asc_ascq or (0, 0)), key, asc, ascq)


def file_bytes(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)
