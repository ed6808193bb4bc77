# SPDX-License-Identifier: GPL-2.0-only
"""Multiple connections per session (RFC 7143 §4.2, §6.3.4, §7.1): connections joining a
session by TSIH (handed over to the session's reactor), one CmdSN space over them, connection
allegiance, a connection lost mid-I/O, logout reasons, connection reinstatement, and logins
that must be refused. The Linux initiator and libiscsi do not do MC/S: the project's strict
initiator drives every connection."""
import os
import socket
import struct
import time

import pytest

from conftest import IQN, Daemon, free_port, setup_target
from iscsi_client import Initiator, LoginError

OP_SCSI_CMD, OP_SCSI_RSP, OP_DATA_IN, OP_R2T = 0x01, 0x21, 0x25, 0x31
WRITE10, READ10, TUR = 0x2A, 0x28, 0x00
KEYS = [("ImmediateData", "Yes"), ("InitialR2T", "No"), ("MaxRecvDataSegmentLength", "262144"),
        ("MaxBurstLength", "1048576"), ("FirstBurstLength", "262144"), ("MaxConnections", "8")]
SESSION_KEYS = ("ImmediateData", "InitialR2T", "FirstBurstLength", "MaxBurstLength", "MaxConnections")
ISID = bytes([0x80, 0x12, 0x34, 0x56, 0x78, 0x01])


class Session:
    """Connections of one session sharing its CmdSN (the client is synchronous per call)."""

    def __init__(self, d, keys=KEYS, port=None, isid=ISID):
        self.d = d
        self.port = port or d.port
        lead = Initiator("127.0.0.1", self.port)
        lead.isid = isid
        lead.login(IQN, keys=keys)
        self.conns = [lead]
        self.cmdsn = lead.cmdsn
        for _ in range(4):  # the power-on unit attention
            if self.on(0, lambda i: i.scsi(bytes(10), lun=1)).status == 0:
                break

    @property
    def lead(self):
        return self.conns[0]

    def join(self, cid, port=None, initiator=None):
        ini = Initiator("127.0.0.1", port or self.port, **({"initiator": initiator} if initiator else {}))
        ini.isid, ini.tsih, ini.cid, ini.cmdsn = self.lead.isid, self.lead.tsih, cid, self.cmdsn
        ini.itt = (cid + 1) << 24  # ITTs are the session's (RFC 7143 §11.2.1.7): one range a CID
        try:
            ini.login(IQN)
        except Exception:
            ini.close()
            raise
        assert ini.tsih == self.lead.tsih
        for k in SESSION_KEYS:  # session-wide keys are Irrelevant on other connections
            assert ini.params.get(k) in (None, "Irrelevant"), (k, ini.params)
            ini.params[k] = self.lead.params.get(k, ini.params.get(k))
        self.conns.append(ini)
        return ini

    def on(self, idx, fn):
        ini = self.conns[idx]
        ini.cmdsn = self.cmdsn
        try:
            return fn(ini)
        finally:
            self.cmdsn = ini.cmdsn

    def take(self):
        sn = self.cmdsn
        self.cmdsn = (self.cmdsn + 1) & 0xFFFFFFFF
        return sn

    def close(self):
        for c in self.conns:
            c.close()


def rw_cdb(op, lba, blocks):
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def write(ini, lba, data):
    r = ini.scsi(rw_cdb(WRITE10, lba, len(data) // 512), lun=1, data_out=data)
    assert r.status == 0, (r.status, r.sense)


def read(ini, lba, blocks):
    r = ini.scsi(rw_cdb(READ10, lba, blocks), lun=1, read_len=blocks * 512)
    assert r.status == 0, (r.status, r.sense)
    return r.data


def send_cmd(ini, cmdsn, cdb, data=b"", read_len=0, final=True, edtl=None):
    """A raw SCSI Command with the given CmdSN (data as immediate data). Returns its ITT."""
    itt = ini.next_itt()
    bhs = bytearray(48)
    bhs[0] = OP_SCSI_CMD
    bhs[1] = (0x80 if final else 0) | (0x40 if read_len else 0) | (0x20 if data or edtl else 0) | 1
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = struct.pack(">I", edtl if edtl is not None else (len(data) or read_len))
    bhs[24:28] = struct.pack(">I", cmdsn)
    bhs[28:32] = struct.pack(">I", ini.expstatsn)
    bhs[32:32 + len(cdb)] = cdb
    ini.send_pdu(bytes(bhs), data)
    return itt


def recv_status(ini, itt):
    """Reads PDUs until the status of itt; returns (status, data)."""
    chunks = {}
    while True:
        pdu = ini.recv_pdu()
        assert pdu.itt == itt, "answer for ITT 0x%x on the connection of 0x%x" % (pdu.itt, itt)
        if pdu.opcode == OP_DATA_IN:
            chunks[pdu.u32(40)] = pdu.data
            if pdu.flags & 0x01:
                return pdu.bhs[3], b"".join(chunks[k] for k in sorted(chunks))
        elif pdu.opcode == OP_SCSI_RSP:
            return pdu.bhs[3], b"".join(chunks[k] for k in sorted(chunks))
        else:
            raise AssertionError("unexpected opcode 0x%02x" % pdu.opcode)


def silent(ini, secs=0.4):
    """True when the target sends nothing on this connection for secs."""
    ini.sock.settimeout(secs)
    try:
        return not ini.sock.recv(1, socket.MSG_PEEK)
    except socket.timeout:
        return True
    finally:
        ini.sock.settimeout(10)


def closed_by_target(ini, secs=5):
    ini.sock.settimeout(secs)
    try:
        while True:
            if not ini.sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


@pytest.fixture
def sess(target):
    s = Session(target)
    yield s
    s.close()


def test_two_connections_one_session(sess):
    b = sess.join(1)
    assert sess.lead.params["MaxConnections"] == "8"
    blobs = [os.urandom(8 * 512) for _ in range(16)]
    for i, blob in enumerate(blobs):  # written on one connection, read back on the other
        sess.on(i % 2, lambda ini, i=i, blob=blob: write(ini, 100 + 8 * i, blob))
    for i, blob in enumerate(blobs):
        assert sess.on((i + 1) % 2, lambda ini, i=i: read(ini, 100 + 8 * i, 8)) == blob
    # the window is the session's: both connections see the same MaxCmdSN
    sess.on(0, lambda ini: ini.nop())
    sess.on(1, lambda ini: ini.nop())
    assert sess.lead.maxcmdsn == b.maxcmdsn


def test_one_cmdsn_space_over_four_connections(sess):
    for cid in (1, 2, 3):
        sess.join(cid)
    blobs = [os.urandom(4096) for _ in range(4)]
    base = sess.cmdsn
    sess.cmdsn = (base + 4) & 0xFFFFFFFF
    itts = {}
    # CmdSN base+3..base+1 first, each on its own connection: they must wait for base
    for k in (3, 2, 1):
        itts[k] = send_cmd(sess.conns[k], base + k, rw_cdb(WRITE10, 2000 + 8 * k, 8), blobs[k])
    for k in (3, 2, 1):
        assert silent(sess.conns[k], 0.3), "CmdSN %d ran before the gap at %d was filled" % (base + k, base)
    itts[0] = send_cmd(sess.conns[0], base, rw_cdb(WRITE10, 2000, 8), blobs[0])
    for k in range(4):  # every answer on the connection its command came on (allegiance)
        status, _ = recv_status(sess.conns[k], itts[k])
        assert status == 0
    for k in range(4):
        assert sess.on((k + 2) % 4, lambda ini, k=k: read(ini, 2000 + 8 * k, 8)) == blobs[k]
    # many commands round robin: the window never leaks
    for n in range(300):
        sess.on(n % 4, lambda ini: ini.scsi(bytes(6), lun=1))
    maxes = set()
    for k in range(4):
        sess.on(k, lambda ini: ini.nop())
        maxes.add(sess.conns[k].maxcmdsn)
    assert len(maxes) == 1 and ((maxes.pop() - sess.cmdsn) & 0xFFFFFFFF) >= 100


def test_connection_killed_mid_io(sess):
    b = sess.join(1)
    blob = os.urandom(64 * 512)
    # a write on B waiting for its Data-Out when B dies
    itt = send_cmd(b, sess.take(), rw_cdb(WRITE10, 5000, 64), edtl=len(blob))
    pdu = b.recv_pdu()
    assert pdu.opcode == OP_R2T and pdu.itt == itt
    # a command on B still waiting for an earlier CmdSN: its CmdSN is taken as received
    gap = sess.take()
    later = sess.take()
    send_cmd(b, later, bytes(10))
    time.sleep(0.3)
    b.sock.shutdown(socket.SHUT_RDWR)
    b.close()
    sess.conns.remove(b)
    time.sleep(0.3)
    itt0 = send_cmd(sess.lead, gap, bytes(10))
    assert recv_status(sess.lead, itt0)[0] == 0
    for i in range(8):  # the session goes on after the lost CmdSN on the dead connection
        sess.on(0, lambda ini, i=i: write(ini, 6000 + 8 * i, blob[:4096]))
        assert sess.on(0, lambda ini, i=i: read(ini, 6000 + 8 * i, 8)) == blob[:4096]
    c = sess.join(2)  # and takes new connections
    assert sess.on(1, lambda ini: read(ini, 6000, 8)) == blob[:4096]
    assert c.tsih == sess.lead.tsih


def test_logout_close_connection(sess):
    b = sess.join(1)
    c = sess.join(2)
    assert sess.on(1, lambda ini: ini.logout(1)) == 0  # B closes itself
    assert closed_by_target(b)
    assert sess.on(0, lambda ini: ini.logout(1, cid=2)) == 0  # A closes C
    assert closed_by_target(c)
    assert sess.on(0, lambda ini: ini.logout(1, cid=77)) == 1  # CID not found
    sess.on(0, lambda ini: write(ini, 7000, b"\x5a" * 4096))
    assert sess.on(0, lambda ini: read(ini, 7000, 8)) == b"\x5a" * 4096
    sess.conns[1:] = []
    sess.join(1)  # the CID is free again
    assert sess.on(1, lambda ini: read(ini, 7000, 8)) == b"\x5a" * 4096


def test_logout_recovery_needs_erl2(sess):
    b = sess.join(1)
    rsp = sess.on(0, lambda ini: ini.logout(2, cid=1, full=True))
    assert rsp.bhs[2] == 2  # connection recovery is not supported (ERL 0)
    assert struct.unpack(">H", rsp.bhs[40:42])[0] == 2  # DefaultTime2Wait
    assert sess.on(1, lambda ini: ini.nop()).opcode == 0x20  # B still works


def test_logout_session_closes_every_connection(sess):
    others = [sess.join(cid) for cid in (1, 2)]
    assert sess.on(0, lambda ini: ini.logout(0)) == 0
    assert closed_by_target(sess.lead)
    for o in others:
        assert closed_by_target(o)
    with pytest.raises(LoginError) as e:  # the TSIH is gone with the session
        sess.join(3)
    assert (e.value.status_class, e.value.status_detail) == (2, 0x0A)


def test_connection_reinstatement(sess):
    b = sess.join(1)
    sess.on(1, lambda ini: write(ini, 8000, b"\xa5" * 4096))
    b2 = sess.join(1)  # same CID: replaces B
    assert closed_by_target(b)
    sess.conns.remove(b)
    assert sess.on(1, lambda ini: read(ini, 8000, 8)) == b"\xa5" * 4096
    assert sess.on(0, lambda ini: read(ini, 8000, 8)) == b"\xa5" * 4096
    assert b2.tsih == sess.lead.tsih


def test_abort_task_from_another_connection(sess):
    b = sess.join(1)
    itt = send_cmd(b, sess.take(), rw_cdb(WRITE10, 9000, 8), edtl=4096)
    pdu = b.recv_pdu()
    assert pdu.opcode == OP_R2T and pdu.itt == itt
    # ITTs are the session's: A aborts B's task
    assert sess.on(0, lambda ini: ini.tmf(1, ref_itt=itt, lun=1, ref_cmdsn=sess.cmdsn - 1)) == 0
    assert sess.on(0, lambda ini: ini.tmf(1, ref_itt=itt, lun=1, ref_cmdsn=sess.cmdsn - 1)) == 1
    assert sess.on(1, lambda ini: read(ini, 9000, 8)) is not None


def expect_refused(fn, detail):
    with pytest.raises(LoginError) as e:
        fn()
    assert (e.value.status_class, e.value.status_detail) == (2, detail)


def test_hostile_joins_refused(sess):
    for cid in range(1, 8):
        sess.join(cid)
    expect_refused(lambda: sess.join(8), 0x06)  # a 9th connection: too many connections
    # the TSIH of this session from another initiator name: no such session for it
    expect_refused(lambda: sess.join(9, initiator="iqn.2026-11.org.utgt:intruder"), 0x0A)
    # a TSIH nobody has
    ini = Initiator("127.0.0.1", sess.port)
    ini.isid, ini.tsih, ini.cid = sess.lead.isid, (sess.lead.tsih + 1000) & 0xFFFF or 1, 1
    expect_refused(lambda: ini.login(IQN), 0x0A)
    ini.close()
    # the session still works on all eight connections
    for k in range(8):
        sess.on(k, lambda ini: ini.scsi(bytes(6), lun=1))


def test_max_connections_as_negotiated(target):
    s = Session(target, keys=[k for k in KEYS if k[0] != "MaxConnections"] + [("MaxConnections", "2")])
    try:
        assert s.lead.params["MaxConnections"] == "2"
        s.join(1)
        expect_refused(lambda: s.join(2), 0x06)
        s2 = Session(target, keys=[k for k in KEYS if k[0] != "MaxConnections"],
                     isid=ISID[:5] + b"\x02")
        try:  # not offered: the RFC default, one connection
            expect_refused(lambda: s2.join(1), 0x06)
        finally:
            s2.close()
    finally:
        s.close()


def test_join_through_another_portal_group(workdir):
    p1, p2 = free_port(), free_port()
    d = Daemon(workdir, portals=["127.0.0.1:%d,1" % p1, "127.0.0.1:%d,2" % p2], threads=3).start()
    try:
        setup_target(d, workdir)
        s = Session(d, port=p1)
        try:
            s.join(1, port=p1)
            # same initiator, ISID and TSIH through portal group 2: another I_T nexus
            expect_refused(lambda: s.join(2, port=p2), 0x08)
            assert s.on(1, lambda ini: ini.scsi(bytes(6), lun=1)).status == 0
        finally:
            s.close()
    finally:
        assert d.stop() == 0


# ---- ERL 2: connection recovery and TASK REASSIGN ----

TASK_REASSIGN = 8
ERL2_KEYS = KEYS + [("ErrorRecoveryLevel", "2")]


@pytest.fixture
def erl2(target):
    target.adm("--mode", "target", "--op", "update", "--tid", "1",
               "--name", "ErrorRecoveryLevel", "--value", "2")
    s = Session(target, keys=ERL2_KEYS)
    assert s.lead.params["ErrorRecoveryLevel"] == "2"
    yield s
    s.close()


def tmf_send(ini, function, rtt, ref_cmdsn=0, exp_data_sn=0):
    """Sends an immediate TMF request on LUN 1 naming rtt; returns its ITT."""
    tmf_itt = ini.next_itt()
    bhs = ini._cmd_bhs(0x02, tmf_itt, immediate=True)
    bhs[1] = 0x80 | function
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[20:24] = struct.pack(">I", rtt)
    bhs[32:36] = struct.pack(">I", ref_cmdsn)
    bhs[36:40] = struct.pack(">I", exp_data_sn)
    ini.send_pdu(bytes(bhs))
    return tmf_itt


def reassign(sess, idx, itt, exp_data_sn=0):
    def fn(ini):
        tmf_itt = tmf_send(ini, TASK_REASSIGN, itt, exp_data_sn=exp_data_sn)
        pdu = ini.recv_pdu()
        assert pdu.opcode == 0x22 and pdu.itt == tmf_itt, hex(pdu.opcode)
        return pdu.bhs[2]
    return sess.on(idx, fn)


def data_out(ini, itt, ttt, data, offset, final=True, datasn=0):
    ini.send_pdu(bytes(ini.data_out_bhs(itt, ttt, offset, datasn, final, lun=1)), data)


def kill(sess, ini):
    ini.sock.shutdown(socket.SHUT_RDWR)
    ini.close()
    sess.conns.remove(ini)
    time.sleep(0.3)


def test_reassign_refused_below_erl2(sess):
    b = sess.join(1)
    itt = send_cmd(b, sess.take(), rw_cdb(WRITE10, 100, 8), edtl=4096)
    assert b.recv_pdu().opcode == OP_R2T
    assert reassign(sess, 0, itt) == 4  # allegiance reassignment not supported (ERL 0)


def test_erl2_write_reassigned_after_connection_loss(erl2):
    b = erl2.join(1)
    blob = os.urandom(64 * 512)
    itt = send_cmd(b, erl2.take(), rw_cdb(WRITE10, 3000, 64), edtl=len(blob))
    r2t = b.recv_pdu()
    assert r2t.opcode == OP_R2T and r2t.u32(44) == len(blob)
    data_out(b, itt, r2t.u32(20), blob[:8192], 0, final=False)  # part of it, then B dies
    time.sleep(0.2)
    kill(erl2, b)
    assert reassign(erl2, 0, 0xDEAD) == 1  # task does not exist
    assert reassign(erl2, 0, itt) == 0
    # the new connection asks for what did not arrive (§7.2.2) and completes the task
    r2t = erl2.lead.recv_pdu()
    assert r2t.opcode == OP_R2T and r2t.itt == itt
    off, length = r2t.u32(40), r2t.u32(44)
    assert off == 8192 and off + length == len(blob)
    data_out(erl2.lead, itt, r2t.u32(20), blob[off:], off)
    assert recv_status(erl2.lead, itt)[0] == 0
    assert erl2.on(0, lambda ini: read(ini, 3000, 64)) == blob
    assert reassign(erl2, 0, itt) == 1  # done: nothing left to reassign


def test_erl2_read_answer_resent_on_new_connection(erl2):
    blob = os.urandom(8 << 20)
    for i in range(8):
        erl2.on(0, lambda ini, i=i: write(ini, 20000 + 2048 * i, blob[i << 20:(i + 1) << 20]))
    # B barely reads: the target cannot send the 8 MiB answer before B dies
    b = Initiator("127.0.0.1", erl2.port)
    small = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    small.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    small.settimeout(10)
    small.connect(("127.0.0.1", erl2.port))
    b.sock.close()
    b.sock = small
    b.isid, b.tsih, b.cid, b.cmdsn = erl2.lead.isid, erl2.lead.tsih, 1, erl2.cmdsn
    b.login(IQN)
    erl2.conns.append(b)
    itt = send_cmd(b, erl2.take(), rw_cdb(READ10, 20000, 16384), read_len=len(blob))
    time.sleep(0.5)
    kill(erl2, b)
    assert reassign(erl2, 0, itt) == 0
    status, data = recv_status(erl2.lead, itt)
    assert status == 0 and data == blob


def test_erl2_logout_for_recovery(erl2):
    b = erl2.join(1)
    itt = send_cmd(b, erl2.take(), rw_cdb(WRITE10, 4000, 8), edtl=4096)
    assert b.recv_pdu().opcode == OP_R2T
    assert reassign(erl2, 0, itt) == 3  # B is alive: the task is still allegiant to it
    rsp = erl2.on(0, lambda ini: ini.logout(2, cid=1, full=True))
    assert rsp.bhs[2] == 0
    assert struct.unpack(">H", rsp.bhs[42:44])[0] == 20  # DefaultTime2Retain
    assert closed_by_target(b)
    erl2.conns.remove(b)
    c = erl2.join(1)  # the recovered connection takes the task over
    assert reassign(erl2, 1, itt) == 0
    r2t = c.recv_pdu()
    assert r2t.opcode == OP_R2T and r2t.u32(40) == 0 and r2t.u32(44) == 4096
    data_out(c, itt, r2t.u32(20), b"\x77" * 4096, 0)
    assert recv_status(c, itt)[0] == 0
    assert erl2.on(0, lambda ini: read(ini, 4000, 8)) == b"\x77" * 4096


def test_erl2_tasks_dropped_after_time2retain(target):
    target.adm("--mode", "target", "--op", "update", "--tid", "1",
               "--name", "ErrorRecoveryLevel", "--value", "2")
    s = Session(target, keys=ERL2_KEYS + [("DefaultTime2Wait", "0"), ("DefaultTime2Retain", "1")])
    try:
        assert s.lead.params["DefaultTime2Retain"] == "1"
        b = s.join(1)
        itt = send_cmd(b, s.take(), rw_cdb(WRITE10, 100, 8), edtl=4096)
        assert b.recv_pdu().opcode == OP_R2T
        kill(s, b)
        time.sleep(int(s.lead.params.get("DefaultTime2Wait", "2")) + 1.5)
        assert reassign(s, 0, itt) == 1  # Time2Retain is over: the task is gone
        for _ in range(200):  # and its window slot came back
            s.on(0, lambda ini: ini.scsi(bytes(6), lun=1))
    finally:
        s.close()


def test_erl2_reassign_waits_for_the_backing_store(daemon, workdir):
    from bs_util import make_file, new_lu, new_target
    new_target(daemon)
    new_lu(daemon, make_file(workdir, "slow.img", 16 << 20), "fault", bsopts="delay_ms=1500")
    daemon.adm("--mode", "target", "--op", "update", "--tid", "1",
               "--name", "ErrorRecoveryLevel", "--value", "2")
    s = Session(daemon, keys=ERL2_KEYS)
    try:
        blob = os.urandom(4096)
        s.on(0, lambda ini: write(ini, 64, blob))
        b = s.join(1)
        itt = send_cmd(b, s.take(), rw_cdb(READ10, 64, 8), read_len=4096)
        time.sleep(0.3)  # the read sits in the backing store when B dies
        kill(s, b)
        start = time.monotonic()
        assert reassign(s, 0, itt) == 0  # answered once the read completed and moved
        assert time.monotonic() - start > 0.5
        status, data = recv_status(s.lead, itt)
        assert status == 0 and data == blob
    finally:
        s.close()


def test_erl2_session_survives_its_only_connection(erl2):
    lead = erl2.lead
    itt = send_cmd(lead, erl2.take(), rw_cdb(WRITE10, 4100, 8), edtl=4096)
    assert lead.recv_pdu().opcode == OP_R2T
    kill(erl2, lead)
    # within Time2Retain the session (its TSIH) takes a connection again: the same CID
    erl2.conns.append(lead)  # join() reads ISID/TSIH from the first connection
    c = erl2.join(0)
    erl2.conns.remove(lead)
    assert reassign(erl2, 0, itt) == 0
    r2t = c.recv_pdu()
    assert r2t.opcode == OP_R2T and r2t.u32(40) == 0 and r2t.u32(44) == 4096
    data_out(c, itt, r2t.u32(20), b"\x42" * 4096, 0)
    assert recv_status(c, itt)[0] == 0
    assert erl2.on(0, lambda ini: read(ini, 4100, 8)) == b"\x42" * 4096
