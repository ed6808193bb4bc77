# SPDX-License-Identifier: GPL-2.0-only
"""Task management end to end: libiscsi's iSCSITMF suite, and every RFC 7143 function driven
by the project's initiator: tasks waiting for Data-Out really aborted, unit attentions on the
other I_T nexuses, TARGET COLD RESET closing every session."""
import struct
import subprocess

import pytest

from conftest import IQN, Daemon, free_port, have, setup_target
from iscsi_client import Initiator

ABORT_TASK, ABORT_TASK_SET, CLEAR_ACA, CLEAR_TASK_SET = 1, 2, 3, 4
LU_RESET, WARM_RESET, COLD_RESET, TASK_REASSIGN = 5, 6, 7, 8
COMPLETE, NO_TASK, NO_LUN, NO_REASSIGN, REJECTED = 0, 1, 2, 4, 255
OP_SCSI_CMD, OP_R2T, OP_SCSI_RSP = 0x01, 0x31, 0x21
WRITE10, TUR = 0x2A, 0x00

R2T_KEYS = [("ImmediateData", "No"), ("InitialR2T", "Yes"), ("MaxRecvDataSegmentLength", "65536"),
            ("MaxBurstLength", "262144"), ("FirstBurstLength", "65536")]


def login(d, isid_last=0x9A, keys=None):
    ini = Initiator("127.0.0.1", d.port)
    ini.isid = ini.isid[:5] + bytes([isid_last])
    ini.login(IQN, keys=keys)
    for _ in range(4):  # clear the power-on unit attention
        if ini.scsi(bytes(6), lun=1).status == 0:
            break
    return ini


def write_waiting_for_data(ini, lba=0, blocks=8):
    """Sends WRITE(10) with no data and returns (itt, cmdsn) once its R2T arrived."""
    itt = ini.next_itt()
    bhs = ini._cmd_bhs(OP_SCSI_CMD, itt)
    bhs[1] = 0x80 | 0x20 | 1
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[20:24] = struct.pack(">I", blocks * 512)
    bhs[32:42] = struct.pack(">BBIBHB", WRITE10, 0, lba, 0, blocks, 0)
    cmdsn = ini.cmdsn
    ini.cmdsn = (ini.cmdsn + 1) & 0xFFFFFFFF
    ini.send_pdu(bytes(bhs))
    pdu = ini.recv_pdu()
    assert pdu.opcode == OP_R2T and pdu.itt == itt
    return itt, cmdsn


def ua_of(ini):
    r = ini.scsi(bytes(6), lun=1)
    return r.asc_ascq if r.status == 2 else None


@pytest.mark.skipif(not have("iscsi-test-cu"), reason="libiscsi-bin missing")
@pytest.mark.parametrize("suite", ["iSCSI.iSCSITMF", "iSCSI"])  # iSCSI: every iSCSI suite
def test_libiscsi_iscsi_suites(target, suite):
    r = subprocess.run(["iscsi-test-cu", "--dataloss", "--test=" + suite, target.url(1)],
                       capture_output=True, text=True, timeout=300)
    line = [l for l in r.stdout.splitlines() if l.strip().startswith("tests")]
    assert line, r.stdout[-3000:] + r.stderr[-2000:]
    total, ran, passed, failed, inactive = map(int, line[0].split()[1:6])
    assert failed == 0 and ran == total and ran > 0, r.stdout[-4000:]
    assert inactive == 0  # CUnit's count of tests not run


def test_abort_task_waiting_for_data_out(target):
    ini = login(target, keys=R2T_KEYS)
    itt, cmdsn = write_waiting_for_data(ini)
    assert ini.tmf(ABORT_TASK, ref_itt=itt, lun=1, ref_cmdsn=cmdsn) == COMPLETE
    # the task is gone: no SCSI Response for it, and the session goes on
    assert ini.tmf(ABORT_TASK, ref_itt=itt, lun=1, ref_cmdsn=cmdsn) == NO_TASK
    r = ini.scsi(bytes(6), lun=1)
    assert r.status == 0
    ini.logout()


def test_lun_reset_aborts_and_raises_ua_elsewhere(target):
    a = login(target, 0x01, keys=R2T_KEYS)
    b = login(target, 0x02)
    write_waiting_for_data(a)
    assert a.tmf(LU_RESET, lun=1) == COMPLETE
    # BUS DEVICE RESET FUNCTION OCCURRED on every I_T nexus, the requester's too (SAM-5)
    assert ua_of(a) == (0x29, 0x03)
    assert ua_of(b) == (0x29, 0x03)
    assert a.tmf(LU_RESET, lun=9) == NO_LUN
    a.logout()
    b.logout()


def test_clear_task_set_and_abort_task_set(target):
    a = login(target, 0x03, keys=R2T_KEYS)
    b = login(target, 0x04)
    write_waiting_for_data(a)
    assert a.tmf(ABORT_TASK_SET, lun=1) == COMPLETE
    assert ua_of(b) is None  # ABORT TASK SET touches only its own nexus
    write_waiting_for_data(a)
    assert a.tmf(CLEAR_TASK_SET, lun=1) == COMPLETE
    assert ua_of(b) == (0x2F, 0x00)  # COMMANDS CLEARED BY ANOTHER INITIATOR
    assert a.tmf(CLEAR_ACA, lun=1) == COMPLETE
    assert a.tmf(TASK_REASSIGN, ref_itt=5, lun=1) == NO_REASSIGN  # ERL 0
    assert a.scsi(bytes(6), lun=1).status == 0
    a.logout()
    b.logout()


def test_warm_and_cold_reset(target):
    a = login(target, 0x05, keys=R2T_KEYS)
    b = login(target, 0x06)
    write_waiting_for_data(a)
    assert a.tmf(WARM_RESET) == COMPLETE
    assert ua_of(b) == (0x29, 0x03)
    assert ua_of(a) == (0x29, 0x03)
    assert a.scsi(bytes(6), lun=1).status == 0
    assert a.tmf(COLD_RESET) == COMPLETE
    for ini in (a, b):  # every session of the target is dropped
        with pytest.raises((ConnectionError, OSError)):
            for _ in range(3):
                ini.scsi(bytes(6), lun=1)
    c = login(target, 0x07)  # and new ones come in
    assert c.scsi(bytes(6), lun=1).status == 0
    c.logout()


@pytest.mark.skipif(not have("iscsi-test-cu"), reason="libiscsi-bin missing")
def test_libiscsi_multipathio_two_portals(workdir):
    """The same LU through two portals: MultipathIO (its Reset test wants the LU reset unit
    attention on every path, the resetting one included)."""
    d = Daemon(workdir)
    port2 = free_port()
    d.portals = ["127.0.0.1:%d" % d.port, "127.0.0.1:%d" % port2]
    d.start()
    try:
        setup_target(d, workdir, size=64 << 20)
        url2 = "iscsi://127.0.0.1:%d/%s/1" % (port2, IQN)
        r = subprocess.run(["iscsi-test-cu", "--dataloss", "--test=ALL.MultipathIO", d.url(1), url2],
                           capture_output=True, text=True, timeout=300)
        line = [l for l in r.stdout.splitlines() if l.strip().startswith("tests")]
        assert line, r.stdout[-3000:] + r.stderr[-2000:]
        total, ran, passed, failed, inactive = map(int, line[0].split()[1:6])
        assert failed == 0 and ran == total and inactive == 0 and ran > 0, r.stdout[-4000:]
    finally:
        assert d.stop() == 0, d.read_log()
