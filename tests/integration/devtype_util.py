# SPDX-License-Identifier: GPL-2.0-only
"""Helpers for the device-type tests (test_devtype_*.py): a target with one LU of a chosen
--device-type, a login that consumes the LU's first unit attentions, and sense tuples."""
from bs_util import lu_update
from conftest import IQN
from iscsi_client import Initiator

__all__ = ["CHECK_CONDITION", "login", "lu_update", "new_lu", "new_target", "sense"]

CHECK_CONDITION = 2


def new_lu(d, device_type, path=None, lun=1):
    args = ["--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
            "--lun", str(lun), "--device-type", device_type]
    if path:
        args += ["--backing-store", path]
    d.adm(*args)


def new_target(d, device_type, path=None, lun=1):
    """Target 1 (IQN) open to every initiator, with LU lun of device_type on path."""
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
    new_lu(d, device_type, path, lun)
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1",
          "--initiator-address", "ALL")


def login(d, lun=1):
    """Logs in and consumes up to four CHECK CONDITIONs of TEST UNIT READY on lun: the power-on
    and LUN-change unit attentions (an empty drive stays NOT READY)."""
    ini = Initiator("127.0.0.1", d.port)
    ini.login(IQN)
    for _ in range(4):
        if ini.scsi([0, 0, 0, 0, 0, 0], lun=lun).status != CHECK_CONDITION:
            break
    return ini


def sense(r):
    return (r.sense_key, r.asc_ascq)
