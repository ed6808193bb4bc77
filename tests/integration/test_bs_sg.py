# SPDX-License-Identifier: GPL-2.0-only
"""SCSI passthrough: --device-type pt --bstype sg sends each CDB to a SCSI generic device with
SG_IO. The happy path needs a real /dev/sgN (e.g. the scsi_debug module); the development host
has none, so those tests skip: tests/vm/test_vm.py::test_sg runs pt and disk over sg against
scsi_debug inside the qemu guest. The refusals below run everywhere."""
import glob
import struct

import pytest

from bs_util import GOOD, Loop, login, make_file, new_lu, new_target

SG_DEVICES = sorted(glob.glob("/dev/sg[0-9]*"))
NO_SG = "no SCSI generic device on this host (no /dev/sg*; load scsi_debug to run it)"


def new_pt(d, path, check=True):
    return d.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
                 "--lun", "1", "--device-type", "pt", "--bstype", "sg", "--backing-store", path,
                 check=check)


def test_sg_refuses_regular_file(daemon, workdir):
    new_target(daemon)
    r = new_pt(daemon, make_file(workdir, "f.img", 1 << 20), check=False)
    assert r.returncode != 0
    assert "not a SCSI generic or block device" in daemon.read_log()


def test_sg_refuses_device_without_sg_io(daemon, workdir):
    lp = Loop(make_file(workdir, "f.img", 1 << 20))
    try:
        new_target(daemon)
        assert new_pt(daemon, lp.dev, check=False).returncode != 0
        assert "does not support SG_IO" in daemon.read_log()
    finally:
        lp.close()


def test_sg_store_refuses_disk_io(daemon, workdir):
    """A disk over sg needs a device answering SG_IO and READ CAPACITY: a regular file fails at
    creation (the disk over scsi_debug is tested in tests/vm, scenario sg)."""
    new_target(daemon)
    path = make_file(workdir, "f.img", 1 << 20)
    assert new_lu(daemon, path, "sg", check=False).returncode != 0


def test_sg_disk_refuses_device_without_sg_io(daemon, workdir):
    lp = Loop(make_file(workdir, "f.img", 1 << 20))
    try:
        new_target(daemon)
        assert new_lu(daemon, lp.dev, "sg", check=False).returncode != 0
        assert "does not support SG_IO" in daemon.read_log()
    finally:
        lp.close()


@pytest.mark.skipif(not SG_DEVICES, reason=NO_SG)
def test_sg_passthrough_inquiry_and_report_luns(daemon, workdir):
    new_target(daemon)
    new_pt(daemon, SG_DEVICES[0])
    ini = login(daemon)
    r = ini.scsi(struct.pack(">BBBHB", 0x12, 0, 0, 96, 0), lun=1, read_len=96)
    assert r.status == GOOD and len(r.data) >= 36
    r = ini.scsi(struct.pack(">BBBBBBIBB", 0xA0, 0, 0, 0, 0, 0, 256, 0, 0), lun=1, read_len=256)
    assert r.status == GOOD and struct.unpack(">I", r.data[:4])[0] == 16
    ini.logout()
