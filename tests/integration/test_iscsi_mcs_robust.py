# SPDX-License-Identifier: GPL-2.0-only
"""MC/S and ERL 2 corner cases (RFC 7143 §6.2, §7.2.2, §11.2.1.7, §11.5.1): a TMF waiting on a
task of a dropped connection while its own connection goes too, a command still waiting for
its CmdSN on a failed connection reassigned at ERL 2, and an ITT used on two connections of
one session. Run them under the ASan build as well: the first one is a use-after-free there
when the target keeps a pointer into the freed connection."""
import os
import struct
import time

from bs_util import lu_update, make_file, new_lu, new_target
from test_bs_fault import wait_inflight
from test_iscsi_mcs import (ERL2_KEYS, OP_R2T, OP_SCSI_RSP, WRITE10, Session, data_out, kill,
                            read, reassign, recv_status, rw_cdb, send_cmd, silent, tmf_send,
                            write)

OP_REJECT, OP_TMF_RSP = 0x3F, 0x22
ABORT_TASK = 1
REJECT_TASK_IN_PROGRESS = 0x07
HANG = "500-507"


def hang_target(d, workdir):
    """Target IQN, LUN 1 on the fault store: commands on LBAs 500-507 wait for a release."""
    new_target(d)
    new_lu(d, make_file(workdir, "hang.img", 16 << 20), "fault", bsopts="lower=rdwr,hang=" + HANG)


def abort_task(ini, itt, ref_cmdsn):
    """Sends ABORT TASK for itt; returns the TMF's ITT (the response is read by the caller)."""
    return tmf_send(ini, ABORT_TASK, itt, ref_cmdsn=ref_cmdsn)


def erl2_session(d):
    """A session at ErrorRecoveryLevel 2 with a second connection (CID 1): (session, B)."""
    d.adm("--mode", "target", "--op", "update", "--tid", "1",
          "--name", "ErrorRecoveryLevel", "--value", "2")
    s = Session(d, keys=ERL2_KEYS)
    return s, s.join(1)


def statuses(ini, itts):
    """Reads PDUs until every ITT of itts has its status; returns {itt: (status, data)}."""
    out, chunks = {}, {}
    while len(out) < len(itts):
        pdu = ini.recv_pdu()
        assert pdu.itt in itts, "unexpected ITT 0x%x (opcode 0x%02x)" % (pdu.itt, pdu.opcode)
        if pdu.opcode == 0x25:
            chunks.setdefault(pdu.itt, {})[pdu.u32(40)] = pdu.data
            if not pdu.flags & 0x01:
                continue
        else:
            assert pdu.opcode == OP_SCSI_RSP, hex(pdu.opcode)
        got = chunks.get(pdu.itt, {})
        out[pdu.itt] = (pdu.bhs[3], b"".join(got[k] for k in sorted(got)))
    return out


def test_tmf_of_a_dropped_connection_outlived_by_its_task(daemon, workdir):
    """ABORT TASK on B names A's WRITE held in the store; A drops (ERL 0: not kept), then B
    drops and is freed. The WRITE comes back afterwards: it must not reach B's TMF."""
    hang_target(daemon, workdir)
    s = Session(daemon)
    try:
        b = s.join(1)
        a = s.lead
        itt = send_cmd(a, s.take(), rw_cdb(WRITE10, 500, 8), os.urandom(4096))
        time.sleep(0.3)  # in the backing store, held
        s.on(1, lambda ini: abort_task(ini, itt, s.cmdsn - 1))
        assert silent(b, 0.3)  # the TMF waits for the held WRITE
        wait_inflight(daemon, 1)
        kill(s, a)
        kill(s, b)
        time.sleep(0.3)
        lu_update(daemon, "fault_release=1")
        wait_inflight(daemon, 0)
        time.sleep(0.3)
        # the target serves a new session on the same LU (and did not crash)
        s2 = Session(daemon, isid=bytes([0x80, 0x12, 0x34, 0x56, 0x78, 0x02]))
        try:
            s2.on(0, lambda ini: write(ini, 0, b"\x11" * 4096))
            assert s2.on(0, lambda ini: read(ini, 0, 8)) == b"\x11" * 4096
        finally:
            s2.close()
    finally:
        s.close()
    log = daemon.read_log()
    assert "AddressSanitizer" not in log and "runtime error" not in log, log


def test_tmf_answered_when_the_task_of_a_dropped_connection_returns(daemon, workdir):
    """Same, but B stays: its ABORT TASK is answered once A's held WRITE came back."""
    hang_target(daemon, workdir)
    s = Session(daemon)
    try:
        b = s.join(1)
        itt = send_cmd(s.lead, s.take(), rw_cdb(WRITE10, 500, 8), os.urandom(4096))
        time.sleep(0.3)
        tmf_itt = s.on(1, lambda ini: abort_task(ini, itt, s.cmdsn - 1))
        assert silent(b, 0.3)
        kill(s, s.lead)
        assert silent(b, 0.3)
        lu_update(daemon, "fault_release=1")
        pdu = b.recv_pdu()
        assert pdu.opcode == OP_TMF_RSP and pdu.itt == tmf_itt and pdu.bhs[2] == 0
        s.on(0, lambda ini: write(ini, 0, b"\x22" * 4096))
    finally:
        s.close()


def test_erl2_pending_command_reassigned_before_its_turn(target):
    """A WRITE on B waiting for an earlier CmdSN when B fails stays with B (ERL 2): TASK
    REASSIGN moves it to A, where it waits for the gap again and then runs."""
    s, b = erl2_session(target)
    try:
        blob = os.urandom(4096)
        gap, later = s.take(), s.take()
        itt = send_cmd(b, later, rw_cdb(WRITE10, 700, 8), blob)  # all of it immediate data
        assert silent(b, 0.3)  # waits for CmdSN gap
        kill(s, b)
        assert reassign(s, 0, itt) == 0  # kept (not "task does not exist")
        assert silent(s.lead, 0.3)  # still waits for the gap, now on A
        tur = send_cmd(s.lead, gap, bytes(10))
        got = statuses(s.lead, {tur, itt})
        assert got[tur][0] == 0 and got[itt][0] == 0
        assert s.on(0, lambda ini: read(ini, 700, 8)) == blob
        assert reassign(s, 0, itt) == 1  # done
    finally:
        s.close()


def test_erl2_pending_command_reassigned_after_the_gap(target):
    """The gap is filled on A after B failed: the kept command's CmdSN counts as received (it
    holds nothing back), and TASK REASSIGN then runs it at once, asking for its data."""
    s, b = erl2_session(target)
    try:
        blob = os.urandom(8192)
        gap, later = s.take(), s.take()
        itt = send_cmd(b, later, rw_cdb(WRITE10, 800, 16), edtl=len(blob))  # no data yet
        assert silent(b, 0.3)
        kill(s, b)
        tur = send_cmd(s.lead, gap, bytes(10))
        assert recv_status(s.lead, tur)[0] == 0
        s.on(0, lambda ini: write(ini, 900, blob[:4096]))  # CmdSN later+1 is not held
        assert reassign(s, 0, itt) == 0
        r2t = s.lead.recv_pdu()
        assert r2t.opcode == OP_R2T and r2t.itt == itt
        assert r2t.u32(40) == 0 and r2t.u32(44) == len(blob)
        data_out(s.lead, itt, r2t.u32(20), blob, 0)
        assert recv_status(s.lead, itt)[0] == 0
        assert s.on(0, lambda ini: read(ini, 800, 16)) == blob
    finally:
        s.close()


def test_itt_in_use_on_another_connection_is_rejected(target):
    """ITTs are unique session-wide: a command on B with the ITT of A's outstanding WRITE gets
    a Reject (Task in progress); A's WRITE goes on, and B's CmdSN is taken as received."""
    s = Session(target)
    try:
        b = s.join(1)
        blob = os.urandom(4096)
        itt = send_cmd(s.lead, s.take(), rw_cdb(WRITE10, 1000, 8), edtl=len(blob))
        r2t = s.lead.recv_pdu()
        assert r2t.opcode == OP_R2T and r2t.itt == itt
        b.itt = itt  # B reuses it, with immediate data the target must skip
        send_cmd(b, s.take(), rw_cdb(WRITE10, 1100, 8), b"\x99" * 4096)
        rej = b.recv_pdu()
        assert rej.opcode == OP_REJECT and rej.bhs[2] == REJECT_TASK_IN_PROGRESS
        assert rej.data[:48][16:20] == struct.pack(">I", itt)  # the rejected header
        b.itt = itt + 1
        assert s.on(1, lambda ini: ini.scsi(bytes(6), lun=1)).status == 0  # not held
        data_out(s.lead, itt, r2t.u32(20), blob, 0)
        assert recv_status(s.lead, itt)[0] == 0
        assert s.on(1, lambda ini: read(ini, 1000, 8)) == blob
        assert s.on(1, lambda ini: read(ini, 1100, 8)) == bytes(4096)  # rejected: not written
        # once A's task is done, B may use the ITT
        b.itt = itt
        assert s.on(1, lambda ini: ini.scsi(bytes(6), lun=1)).status == 0
    finally:
        s.close()


def test_erl2_pending_command_dropped_after_time2retain(target):
    """A kept pending command lives as long as its connection's retention, no longer; its
    CmdSN still counts as received afterwards."""
    target.adm("--mode", "target", "--op", "update", "--tid", "1",
               "--name", "ErrorRecoveryLevel", "--value", "2")
    s = Session(target, keys=ERL2_KEYS + [("DefaultTime2Wait", "0"), ("DefaultTime2Retain", "1")])
    try:
        b = s.join(1)
        gap, later = s.take(), s.take()
        itt = send_cmd(b, later, rw_cdb(WRITE10, 1200, 8), b"\x33" * 4096)
        assert silent(b, 0.3)
        kill(s, b)
        time.sleep(int(s.lead.params.get("DefaultTime2Wait", "2")) + 1.5)
        assert reassign(s, 0, itt) == 1  # Time2Retain is over: the command is gone
        tur = send_cmd(s.lead, gap, bytes(10))
        assert recv_status(s.lead, tur)[0] == 0
        for _ in range(20):  # later CmdSNs run: the dropped command left no gap
            s.on(0, lambda ini: ini.scsi(bytes(6), lun=1))
        assert s.on(0, lambda ini: read(ini, 1200, 8)) == bytes(4096)  # never written
    finally:
        s.close()
