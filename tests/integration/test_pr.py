# SPDX-License-Identifier: GPL-2.0-only
"""Persistent reservations end to end with two I_T nexuses: PREEMPT AND ABORT really aborts
the preempted nexus' command in flight, REGISTER AND MOVE, SPEC_I_PT, REPORT CAPABILITIES,
and APTPL state kept in the state directory across a daemon restart."""
import os
import struct
import time

from bs_util import new_lu, new_target
from conftest import Daemon
from task_util import (CONFLICT, GOOD, SIMPLE, asc_of, collect, read10, send, session,
                       slow_lu, transport_id)

REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT_ABORT, REG_IGNORE, REG_MOVE = range(8)
WE, EA = 1, 3


def tid_bytes(name):
    """iSCSI TransportID, format 01b (initiator port) or 00b (name only)."""
    fmt = 0x40 if ",i,0x" in name else 0x00
    body = name.encode() + b"\0"
    body += b"\0" * (-len(body) % 4)
    return bytes([fmt | 0x05, 0]) + struct.pack(">H", len(body)) + body


def pr_out(ini, sa, key=0, sa_key=0, typ=0, flags20=0, extra=b"", param=None):
    data = param if param is not None else \
        struct.pack(">QQIBBH", key, sa_key, 0, flags20, 0, 0) + extra
    cdb = struct.pack(">BBBxxIB", 0x5F, sa, typ, len(data), 0)
    return ini.scsi(cdb, lun=1, data_out=data)


def pr_in(ini, sa, alloc=1024):
    r = ini.scsi(struct.pack(">BBxxxxxHx", 0x5E, sa, alloc), lun=1, read_len=alloc)
    assert r.status == GOOD
    return r.data


def keys(ini):
    d = pr_in(ini, 0)
    n = struct.unpack(">I", d[4:8])[0]
    return sorted(struct.unpack(">Q", d[8 + i:16 + i])[0] for i in range(0, n, 8))


def reservation(ini):
    d = pr_in(ini, 1)
    if struct.unpack(">I", d[4:8])[0] == 0:
        return None
    return struct.unpack(">Q", d[8:16])[0], d[21] & 0x0F


def ua(ini):
    r = ini.scsi(bytes(6), lun=1)
    return asc_of(r.sense) if r.status == 2 else None


def registered_pair(d, isid_last):
    """Sessions A and B (ISIDs ending isid_last, isid_last + 1), registered under keys 0xA
    and 0xB."""
    a = session(d, isid_last)
    b = session(d, isid_last + 1)
    assert pr_out(a, REGISTER, sa_key=0xA).status == GOOD
    assert pr_out(b, REGISTER, sa_key=0xB).status == GOOD
    return a, b


def test_preempt_and_abort_aborts_the_held_command(daemon, workdir):
    slow_lu(daemon, workdir, 1500)
    a, b = registered_pair(daemon, 0x11)
    assert pr_out(a, RESERVE, key=0xA, typ=WE).status == GOOD
    held = send(a, read10(0), SIMPLE, read_len=512)   # sits in the slow store
    time.sleep(0.3)                                    # reaches it before B's command
    r = pr_out(b, PREEMPT_ABORT, key=0xB, sa_key=0xA, typ=EA)
    assert r.status == GOOD
    assert reservation(b) == (0xB, EA)
    assert keys(b) == [0xB]
    # the held READ never answers (aborted, TAS 0); A learns of the preemption
    assert collect(a, 1, timeout=2.5) == [], "aborted command answered"
    assert ua(a) == (0x2A, 0x05)                       # REGISTRATIONS PREEMPTED
    assert a.scsi(read10(0), lun=1, read_len=512).status == CONFLICT
    a.logout()
    b.logout()
    assert held


def test_preempt_without_abort_lets_the_command_finish(daemon, workdir):
    slow_lu(daemon, workdir, 800)
    a, b = registered_pair(daemon, 0x21)
    held = send(a, read10(0), SIMPLE, read_len=512)
    time.sleep(0.2)
    assert pr_out(b, PREEMPT, key=0xB, sa_key=0xA).status == GOOD
    assert [x[0] for x in collect(a, 1, timeout=3)] == [held]
    a.logout()
    b.logout()


def test_register_and_move(target):
    a = session(target, 0x31)
    b = session(target, 0x32)
    assert pr_out(a, REGISTER, sa_key=0xA).status == GOOD
    assert pr_out(a, RESERVE, key=0xA, typ=EA).status == GOOD
    assert b.scsi(read10(0), lun=1, read_len=512).status == CONFLICT
    tid = tid_bytes(transport_id(b))
    param = struct.pack(">QQBBHI", 0xA, 0xB, 0, 0x02, 1, len(tid)) + tid  # UNREG
    assert pr_out(a, REG_MOVE, param=param).status == GOOD
    assert keys(b) == [0xB]
    assert reservation(b) == (0xB, EA)
    assert b.scsi(read10(0), lun=1, read_len=512).status == GOOD
    assert a.scsi(read10(0), lun=1, read_len=512).status == CONFLICT
    # full status names B's port as the holder
    d = pr_in(b, 3)
    assert d[8 + 12] & 0x01 and transport_id(b).encode() in d
    a.logout()
    b.logout()


def test_spec_i_pt_registers_other_ports(target):
    a = session(target, 0x41)
    b = session(target, 0x42)
    tids = tid_bytes(transport_id(b)) + tid_bytes("iqn.2026-11.org.utgt:absent")
    extra = struct.pack(">I", len(tids)) + tids
    assert pr_out(a, REGISTER, sa_key=0xAB, flags20=0x08, extra=extra).status == GOOD
    assert keys(a) == [0xAB, 0xAB, 0xAB]
    # B is registered without having sent REGISTER: it may reserve with the key
    assert pr_out(b, RESERVE, key=0xAB, typ=WE).status == GOOD
    assert reservation(a) == (0xAB, WE)
    # SPEC_I_PT again from a registered nexus: INVALID FIELD IN CDB
    r = pr_out(a, REGISTER, key=0xAB, sa_key=0xAC, flags20=0x08, extra=extra)
    assert r.status == 2 and asc_of(r.sense) == (0x24, 0x00)
    a.logout()
    b.logout()


def test_report_capabilities(target):
    a = session(target, 0x51)
    d = pr_in(a, 2)
    assert d[2] == 0x10 | 0x08 | 0x04 | 0x01        # CRH SIP_C ATP_C PTPL_C
    assert d[3] & 0x80 and not d[3] & 0x01          # TMV, PTPL_A 0
    assert d[4:6] == bytes([0xEA, 0x01])            # the six types
    a.logout()


def test_aptpl_survives_restart_in_state_dir(workdir):
    img = os.path.join(workdir, "pr.img")
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    d = Daemon(workdir).start()
    try:
        new_target(d)
        new_lu(d, img)
        a = session(d, 0x61)
        assert pr_out(a, REGISTER, sa_key=0x1234, flags20=0x01).status == GOOD  # APTPL
        assert pr_out(a, RESERVE, key=0x1234, typ=EA).status == GOOD
        a.logout()
    finally:
        assert d.stop() == 0
    state = os.listdir(os.path.join(workdir, "state"))
    assert any(n.startswith("pr-") for n in state), state
    assert not os.path.exists(img + ".pr")
    d = Daemon(workdir).start()
    try:
        new_target(d)
        new_lu(d, img)
        b = session(d, 0x62)
        assert keys(b) == [0x1234]
        assert reservation(b) == (0x1234, EA)
        assert b.scsi(read10(0), lun=1, read_len=512).status == CONFLICT
        assert pr_in(b, 2)[3] & 0x01                 # PTPL_A
        a = session(d, 0x61)                         # the same I_T nexus as before
        assert a.scsi(read10(0), lun=1, read_len=512).status == GOOD
        assert pr_out(a, CLEAR, key=0x1234).status == GOOD
        a.logout()
        b.logout()
    finally:
        assert d.stop() == 0
    assert not [n for n in os.listdir(os.path.join(workdir, "state")) if n.startswith("pr-")]
