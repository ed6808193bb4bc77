# SPDX-License-Identifier: GPL-2.0-only
"""Helpers for test_pr.py and test_task_attr.py: sessions with a chosen ISID, commands sent
without waiting for their answer (to keep several in flight with chosen task attributes), and
collection of the answers in the order they arrive."""
import struct
import time

from bs_util import new_lu, new_target
from conftest import IQN
from iscsi_client import Initiator, encode_lun

OP_SCSI_CMD, OP_DATA_IN, OP_SCSI_RSP, OP_NOP_IN = 0x01, 0x25, 0x21, 0x20
SIMPLE, ORDERED, HEAD_OF_QUEUE, ACA = 1, 2, 3, 4
GOOD, CHECK_CONDITION, CONFLICT = 0x00, 0x02, 0x18
SIZE = 16 << 20


def slow_lu(d, workdir, delay_ms):
    """Target IQN with LUN 1 on the fault store: every I/O takes delay_ms."""
    path = "%s/slow.img" % workdir
    with open(path, "wb") as f:
        f.truncate(SIZE)
    new_target(d)
    new_lu(d, path, "fault", bsopts="lower=rdwr,delay_ms=%d" % delay_ms)
    return path


def session(d, isid_last, name="iqn.2026-11.org.utgt:client"):
    """A logged-in session whose power-on unit attention is consumed."""
    ini = Initiator("127.0.0.1", d.port, initiator=name)
    ini.isid = ini.isid[:5] + bytes([isid_last])
    ini.login(IQN, keys=[("ImmediateData", "Yes"), ("InitialR2T", "No")])
    for _ in range(4):
        if ini.scsi(bytes(6), lun=1).status == GOOD:
            break
    return ini


def transport_id(ini):
    """The initiator port name of a session: "<name>,i,0x<isid>" (SPC-4 iSCSI TransportID)."""
    return "%s,i,0x%s" % (ini.initiator, ini.isid.hex())


def send(ini, cdb, attr=SIMPLE, lun=1, read_len=0, data=None):
    """Sends one SCSI command (immediate data only) without waiting; returns its ITT."""
    itt = ini.next_itt()
    bhs = ini._cmd_bhs(OP_SCSI_CMD, itt)
    bhs[1] = 0x80 | (0x40 if read_len else 0) | (0x20 if data else 0) | attr
    bhs[8:16] = struct.pack(">Q", encode_lun(lun))
    bhs[20:24] = struct.pack(">I", len(data) if data else read_len)
    bhs[32:48] = bytes(cdb).ljust(16, b"\0")
    ini.cmdsn = (ini.cmdsn + 1) & 0xFFFFFFFF
    ini.send_pdu(bytes(bhs), data or b"")
    return itt


def collect(ini, n, timeout=10.0):
    """Reads answers until n commands completed (or timeout); returns [(itt, status, sense)]
    in arrival order."""
    done = []
    old = ini.sock.gettimeout()
    deadline = time.monotonic() + timeout
    try:
        while len(done) < n and time.monotonic() < deadline:
            ini.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                pdu = ini.recv_pdu()
            except (TimeoutError, OSError):
                break
            if pdu.opcode == OP_DATA_IN and pdu.flags & 0x01:
                done.append((pdu.itt, pdu.bhs[3], b""))
            elif pdu.opcode == OP_SCSI_RSP:
                sense = b""
                if len(pdu.data) >= 2:
                    sense = pdu.data[2:2 + struct.unpack(">H", pdu.data[:2])[0]]
                done.append((pdu.itt, pdu.bhs[3], sense))
            elif pdu.opcode == OP_NOP_IN and pdu.u32(20) != 0xFFFFFFFF:
                ini.nop_reply(pdu)
    finally:
        ini.sock.settimeout(old)
    return done


def read10(lba, blocks=1):
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba, blocks=1):
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0)


def asc_of(sense):
    return (sense[12], sense[13]) if len(sense) >= 14 else None
