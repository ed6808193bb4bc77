# SPDX-License-Identifier: GPL-2.0-only
"""ErrorRecoveryLevel 1 within a connection (RFC 7143 §7.8): a Data-Out whose data digest is
wrong is rejected and discarded, and the target asks for the missing bytes again with a
recovery R2T; at ERL 0 the same error ends the command with a CRC error. Driven by the
project's strict initiator (digests on, PDUs built by hand)."""
import struct

import pytest

from conftest import IQN
from iscsi_client import Initiator, crc32c, pad4

OP_SCSI_RSP, OP_R2T, OP_REJECT, OP_SNACK = 0x21, 0x31, 0x3F, 0x10
WRITE10, READ10 = 0x2A, 0x28
REJECT_DATA_DIGEST, REJECT_PROTOCOL = 0x02, 0x04
BASE_KEYS = [("ImmediateData", "No"), ("MaxRecvDataSegmentLength", "8192"),
             ("MaxBurstLength", "262144"), ("FirstBurstLength", "65536")]


def rw_cdb(op, lba, blocks):
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def login(d, erl, initial_r2t="Yes"):
    d.adm("--mode", "target", "--op", "update", "--tid", "1",
          "--name", "ErrorRecoveryLevel", "--value", str(erl))
    d.adm("--mode", "target", "--op", "update", "--tid", "1",
          "--name", "DataDigest", "--value", "CRC32C")
    ini = Initiator("127.0.0.1", d.port)
    keys = BASE_KEYS + [("InitialR2T", initial_r2t), ("ErrorRecoveryLevel", str(erl))]
    ini.login(IQN, keys=keys, digests=("None", "CRC32C"))
    assert ini.ddigest and ini.params["ErrorRecoveryLevel"] == str(erl)
    for _ in range(4):  # the power-on unit attention
        if ini.scsi(bytes(6), lun=1).status == 0:
            break
    return ini


def send_cmd(ini, cdb, edtl, final=True):
    itt = ini.next_itt()
    bhs = bytearray(48)
    bhs[0] = 0x01
    bhs[1] = (0x80 if final else 0) | 0x20 | 1
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = struct.pack(">I", edtl)
    bhs[24:28] = struct.pack(">I", ini.cmdsn)
    bhs[28:32] = struct.pack(">I", ini.expstatsn)
    bhs[32:32 + len(cdb)] = cdb
    ini.cmdsn = (ini.cmdsn + 1) & 0xFFFFFFFF
    ini.send_pdu(bytes(bhs))
    return itt


def data_out(ini, itt, ttt, data, offset, datasn, final, corrupt=False):
    bhs = ini.data_out_bhs(itt, ttt, offset, datasn, final, lun=1)
    bhs[5:8] = struct.pack(">I", len(data))[1:]  # sent raw: the data digest may be corrupt
    padded = data + b"\0" * pad4(len(data))
    crc = crc32c(padded) ^ (0x5A5A5A5A if corrupt else 0)
    ini.send_raw(bytes(bhs) + padded + struct.pack("<I", crc))


def send_seq(ini, itt, ttt, data, start, end, bad=()):
    """One Data-Out sequence in 8 KiB PDUs; PDUs whose index is in bad get a wrong digest."""
    off, sn = start, 0
    while off < end:
        n = min(8192, end - off)
        data_out(ini, itt, ttt, data[off:off + n], off, sn, off + n >= end, corrupt=sn in bad)
        off, sn = off + n, sn + 1


def expect(ini, opcode):
    pdu = ini.recv_pdu()
    assert pdu.opcode == opcode, "got opcode 0x%02x, wanted 0x%02x" % (pdu.opcode, opcode)
    return pdu


def read_back(ini, lba, blocks):
    r = ini.scsi(rw_cdb(READ10, lba, blocks), lun=1, read_len=blocks * 512)
    assert r.status == 0, (r.status, r.sense)
    return r.data


def pattern(n, seed):
    return bytes((i * 7 + seed + (i >> 9)) & 0xFF for i in range(n))


def test_solicited_digest_error_recovery_r2t(target):
    ini = login(target, 1)
    data = pattern(65536, 3)
    itt = send_cmd(ini, rw_cdb(WRITE10, 100, 128), len(data))
    r2t = expect(ini, OP_R2T)
    ttt, r2tsn = r2t.u32(20), r2t.u32(36)
    assert (r2t.u32(40), r2t.u32(44)) == (0, 65536)
    send_seq(ini, itt, ttt, data, 0, 65536, bad={2})
    rej = expect(ini, OP_REJECT)
    assert rej.bhs[2] == REJECT_DATA_DIGEST
    assert struct.unpack(">I", rej.data[16:20])[0] == itt  # the rejected header comes back
    rec = expect(ini, OP_R2T)  # recovery R2T for the first missing byte on
    assert rec.itt == itt and rec.u32(36) == r2tsn + 1
    assert rec.u32(40) == 16384 and rec.u32(44) == 65536 - 16384
    send_seq(ini, itt, rec.u32(20), data, 16384, 65536)
    rsp = expect(ini, OP_SCSI_RSP)
    assert rsp.itt == itt and rsp.bhs[2] == 0 and rsp.bhs[3] == 0
    assert read_back(ini, 100, 128) == data
    ini.close()


def test_two_digest_errors_and_last_pdu(target):
    ini = login(target, 1)
    data = pattern(32768, 9)
    itt = send_cmd(ini, rw_cdb(WRITE10, 300, 64), len(data))
    r2t = expect(ini, OP_R2T)
    send_seq(ini, itt, r2t.u32(20), data, 0, 32768, bad={3})  # the final PDU itself
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_DATA_DIGEST
    rec = expect(ini, OP_R2T)
    assert (rec.u32(40), rec.u32(44)) == (24576, 8192)
    send_seq(ini, itt, rec.u32(20), data, 24576, 32768, bad={0})  # and again
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_DATA_DIGEST
    rec2 = expect(ini, OP_R2T)
    assert (rec2.u32(40), rec2.u32(44)) == (24576, 8192) and rec2.u32(36) == rec.u32(36) + 1
    send_seq(ini, itt, rec2.u32(20), data, 24576, 32768)
    rsp = expect(ini, OP_SCSI_RSP)
    assert rsp.bhs[3] == 0
    assert read_back(ini, 300, 64) == data
    ini.close()


def test_unsolicited_digest_error_recovery_r2t(target):
    ini = login(target, 1, initial_r2t="No")
    data = pattern(131072, 5)
    itt = send_cmd(ini, rw_cdb(WRITE10, 500, 256), len(data), final=False)
    send_seq(ini, itt, 0xFFFFFFFF, data, 0, 65536, bad={1})  # FirstBurstLength unsolicited
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_DATA_DIGEST
    r2t = expect(ini, OP_R2T)
    assert r2t.u32(40) == 8192  # everything from the lost PDU on
    off = 8192
    while True:
        end = r2t.u32(40) + r2t.u32(44)
        send_seq(ini, itt, r2t.u32(20), data, off, end)
        off = end
        pdu = ini.recv_pdu()
        if pdu.opcode == OP_SCSI_RSP:
            break
        assert pdu.opcode == OP_R2T and pdu.u32(40) == off
        r2t = pdu
    assert off == len(data) and pdu.bhs[3] == 0
    assert read_back(ini, 500, 256) == data
    ini.close()


def test_erl0_digest_error_ends_command(target):
    ini = login(target, 0)
    data = pattern(16384, 1)
    itt = send_cmd(ini, rw_cdb(WRITE10, 700, 32), len(data))
    r2t = expect(ini, OP_R2T)
    send_seq(ini, itt, r2t.u32(20), data, 0, 16384, bad={0})
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_DATA_DIGEST
    rsp = expect(ini, OP_SCSI_RSP)
    assert rsp.itt == itt and rsp.bhs[3] == 0x02
    sense = rsp.data[2:]
    assert (sense[2] & 0x0F, sense[12], sense[13]) == (0x0B, 0x47, 0x05)
    ini.close()


def snack(ini, typ, beg, run, exp_statsn, itt=0xFFFFFFFF, ttt=0xFFFFFFFF):
    bhs = bytearray(48)
    bhs[0] = OP_SNACK
    bhs[1] = 0x80 | typ
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = struct.pack(">I", ttt)
    bhs[28:32] = struct.pack(">I", exp_statsn)
    bhs[40:44] = struct.pack(">I", beg)
    bhs[44:48] = struct.pack(">I", run)
    ini.send_pdu(bytes(bhs))


def raw_response(ini, cdb, read_len=0):
    """Runs a command without data out; returns its final PDU (SCSI Response or Data-In S)."""
    itt = ini.next_itt()
    bhs = bytearray(48)
    bhs[0] = 0x01
    bhs[1] = 0x80 | (0x40 if read_len else 0) | 1
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = struct.pack(">I", read_len)
    bhs[24:28] = struct.pack(">I", ini.cmdsn)
    bhs[28:32] = struct.pack(">I", ini.expstatsn)
    bhs[32:32 + len(cdb)] = cdb
    ini.cmdsn = (ini.cmdsn + 1) & 0xFFFFFFFF
    ini.send_pdu(bytes(bhs))
    while True:
        pdu = ini.recv_pdu()
        assert pdu.itt == itt
        if pdu.opcode == OP_SCSI_RSP or (pdu.opcode == 0x25 and pdu.flags & 0x01):
            return pdu


def test_status_snack_resends_responses(target):
    ini = login(target, 1)
    first = raw_response(ini, bytes(6))                             # TEST UNIT READY
    bad = raw_response(ini, bytes([0x12, 0, 0, 0, 0, 0]) + b"", 0)  # INQUIRY, no buffer
    sense = raw_response(ini, bytes([0x03, 0, 0, 0, 0xFF, 0]))      # REQUEST SENSE, no buffer
    sn = first.u32(24)
    assert (bad.u32(24), sense.u32(24)) == (sn + 1, sn + 2)
    snack(ini, 1, sn, 2, sn)
    for want in (first, bad):
        got = expect(ini, want.opcode)
        assert got.bhs[:24] == want.bhs[:24] and got.u32(24) == want.u32(24)
        assert got.bhs[36:] == want.bhs[36:] and got.data == want.data
    snack(ini, 1, sn + 1, 0, sn + 1)  # RunLength 0: everything from BegRun on
    assert expect(ini, OP_SCSI_RSP).u32(24) == sn + 1
    assert expect(ini, OP_SCSI_RSP).u32(24) == sn + 2
    # a read whose status came in the last Data-In comes back as a SCSI Response
    rd = raw_response(ini, rw_cdb(READ10, 0, 8), read_len=4096)
    assert rd.opcode == 0x25
    snack(ini, 1, rd.u32(24), 1, rd.u32(24))
    rsp = expect(ini, OP_SCSI_RSP)
    assert (rsp.itt, rsp.u32(24), rsp.bhs[3], rsp.u32(44)) == (rd.itt, rd.u32(24), 0, 0)
    assert raw_response(ini, bytes(6)).bhs[3] == 0  # the session goes on
    ini.close()


@pytest.mark.parametrize("beg_off,run,exp_off", [
    (5, 1, 0),               # never sent
    (0, 0xFFFFFFFF, 0),      # RunLength past the end / overflow
    (0, 2, 1),               # already acknowledged by ExpStatSN
    (-300, 1, -300),         # older than what is kept
])
def test_hostile_status_snack_rejected(target, beg_off, run, exp_off):
    ini = login(target, 1)
    sn = raw_response(ini, bytes(6)).u32(24)
    snack(ini, 1, (sn + beg_off) & 0xFFFFFFFF, run, (sn + exp_off) & 0xFFFFFFFF)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()


@pytest.mark.parametrize("erl,typ", [(0, 1), (0, 0), (1, 0), (1, 2), (1, 3), (1, 9)])
def test_snack_not_served_rejected(target, erl, typ):
    """SNACK at ERL 0, and at ERL 1 Data/R2T, DataACK, R-Data naming no kept task: Reject."""
    ini = login(target, erl)
    sn = raw_response(ini, bytes(6)).u32(24)
    snack(ini, typ, 0 if typ != 1 else sn, 1, sn, itt=ini.itt - 1)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()


def test_status_snack_run_too_long_for_one_go(target):
    """More responses than the control pool (32) in one SNACK: Reject, the session lives."""
    ini = login(target, 1)
    sn = raw_response(ini, bytes(6)).u32(24)
    for _ in range(40):
        raw_response(ini, bytes(6))
    snack(ini, 1, sn, 0, sn)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    snack(ini, 1, sn, 20, sn)  # a shorter run is served
    for i in range(20):
        assert expect(ini, OP_SCSI_RSP).u32(24) == sn + i
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()


def test_r2t_snack_resends_the_lost_r2t(target):
    ini = login(target, 1)
    data = pattern(32768, 11)
    itt = send_cmd(ini, rw_cdb(WRITE10, 900, 64), len(data))
    lost = expect(ini, OP_R2T)  # "lost": the initiator asks for it again
    r2tsn = lost.u32(36)
    snack(ini, 0, r2tsn + 1, 1, ini.expstatsn, itt=itt)  # an R2TSN never sent
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    snack(ini, 0, r2tsn, 1, ini.expstatsn, itt=itt)
    again = expect(ini, OP_R2T)
    assert again.bhs[:24] == lost.bhs[:24] and again.bhs[36:] == lost.bhs[36:]
    send_seq(ini, itt, again.u32(20), data, 0, 32768)
    assert expect(ini, OP_SCSI_RSP).bhs[3] == 0
    assert read_back(ini, 900, 64) == data
    ini.close()


def test_r2t_snack_after_data_arrived_rejected(target):
    ini = login(target, 1)
    data = pattern(32768, 12)
    itt = send_cmd(ini, rw_cdb(WRITE10, 950, 64), len(data))
    r2t = expect(ini, OP_R2T)
    data_out(ini, itt, r2t.u32(20), data[:8192], 0, 0, False)
    snack(ini, 0, r2t.u32(36), 0, ini.expstatsn, itt=itt)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    off, sn = 8192, 1
    while off < 32768:
        data_out(ini, itt, r2t.u32(20), data[off:off + 8192], off, sn, off + 8192 >= 32768)
        off, sn = off + 8192, sn + 1
    assert expect(ini, OP_SCSI_RSP).bhs[3] == 0
    assert read_back(ini, 950, 64) == data
    ini.close()


# ---- Data-In kept after the status (ERL >= 1): Data SNACK, R-Data SNACK, DataACK ----
OP_DATA_IN, OP_TEXT_RSP = 0x25, 0x24
DIN_ACK, DIN_STATUS = 0x40, 0x01
SNACK_DATA, SNACK_ACK, SNACK_RDATA = 0, 2, 3


def read_pdus(ini, lba, blocks):
    """A READ(10) whose Data-In PDUs are all returned; ExpStatSN stays below its status."""
    exp = ini.expstatsn
    itt = ini.next_itt()
    bhs = bytearray(48)
    bhs[0] = 0x01
    bhs[1] = 0x80 | 0x40 | 1
    bhs[8:16] = struct.pack(">Q", 1 << 48)
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = struct.pack(">I", blocks * 512)
    bhs[24:28] = struct.pack(">I", ini.cmdsn)
    bhs[28:32] = struct.pack(">I", exp)
    bhs[32:42] = rw_cdb(READ10, lba, blocks)
    ini.cmdsn = (ini.cmdsn + 1) & 0xFFFFFFFF
    ini.send_pdu(bytes(bhs))
    pdus = []
    while not pdus or not pdus[-1].flags & DIN_STATUS:
        pdus.append(expect(ini, OP_DATA_IN))
        assert pdus[-1].itt == itt
    ini.expstatsn = exp  # the initiator "lost" a PDU: it does not acknowledge the status yet
    return itt, pdus


def same_pdu(a, b):
    """Identical but for ExpCmdSN/MaxCmdSN (they follow the session), and StatSN without S."""
    stat = a.flags & DIN_STATUS
    assert a.bhs[:24] == b.bhs[:24] and a.bhs[36:] == b.bhs[36:], (a.bhs.hex(), b.bhs.hex())
    return a.data == b.data and (not stat or a.u32(24) == b.u32(24))


def write_pattern(ini, lba, data):
    r = ini.scsi(rw_cdb(WRITE10, lba, len(data) // 512), lun=1, data_out=data)
    assert r.status == 0


def test_data_snack_resends_lost_datain(target):
    ini = login(target, 1)
    write_pattern(ini, 100, pattern(65536, 3))
    itt, pdus = read_pdus(ini, 100, 128)
    assert len(pdus) == 8 and b"".join(p.data for p in pdus) == pattern(65536, 3)
    sn = pdus[-1].u32(24)
    snack(ini, SNACK_DATA, 2, 3, sn, itt=itt)  # DataSN 2..4
    for want in pdus[2:5]:
        assert same_pdu(expect(ini, OP_DATA_IN), want)
    snack(ini, SNACK_DATA, 6, 0, sn, itt=itt)  # RunLength 0: to the end, status again
    for want in pdus[6:]:
        got = expect(ini, OP_DATA_IN)
        assert same_pdu(got, want)
    assert got.flags & DIN_STATUS and got.u32(24) == sn
    ini.expstatsn = sn + 1  # the status is acknowledged: the Data-In are freed
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    snack(ini, SNACK_DATA, 0, 1, sn + 1, itt=itt)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    ini.close()


@pytest.mark.parametrize("erl", [0, 1])
def test_a_bit_every_max_burst(target, erl):
    ini = login(target, erl)
    itt, pdus = read_pdus(ini, 0, 1024)  # 512 KiB: two MaxBurstLength (256 KiB) sequences
    acked = [i for i, p in enumerate(pdus) if p.flags & DIN_ACK]
    if erl:
        assert acked == [31, 63]
        assert all(pdus[i].u32(20) not in (0xFFFFFFFF, 0) for i in acked)
        ini.expstatsn = pdus[-1].u32(24) + 1
    else:
        assert acked == [] and all(p.u32(20) == 0xFFFFFFFF for p in pdus)
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()


def test_data_ack_frees(target):
    ini = login(target, 1)
    itt, pdus = read_pdus(ini, 0, 1024)
    sn, ttt = pdus[-1].u32(24), pdus[31].u32(20)
    snack(ini, SNACK_ACK, 32, 0, sn, ttt=ttt)  # the first burst is acknowledged
    snack(ini, SNACK_DATA, 31, 1, sn, itt=itt)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    snack(ini, SNACK_DATA, 32, 1, sn, itt=itt)
    assert same_pdu(expect(ini, OP_DATA_IN), pdus[32])
    snack(ini, SNACK_ACK, 64, 0, sn, ttt=pdus[63].u32(20))  # all of it: the task is freed
    snack(ini, SNACK_DATA, 63, 1, sn, itt=itt)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    snack(ini, SNACK_ACK, 64, 0, sn, ttt=ttt)  # the TTT is gone
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()


def test_rdata_snack_after_mrdsl_change(target):
    ini = login(target, 1)
    write_pattern(ini, 300, pattern(65536, 9))
    itt, pdus = read_pdus(ini, 300, 128)
    assert len(pdus) == 8
    sn = pdus[-1].u32(24)
    ini.text([("MaxRecvDataSegmentLength", "4096")])  # declared again, smaller (§13.12)
    ini.expstatsn = sn
    snack(ini, SNACK_RDATA, 0, 0, sn, itt=itt, ttt=0x1234)  # bytes 20-23: the SNACK Tag
    got = [expect(ini, OP_DATA_IN) for _ in range(16)]
    assert [(p.u32(36), p.u32(40), len(p.data)) for p in got] == \
        [(i, i * 4096, 4096) for i in range(16)]
    assert not any(p.flags & DIN_STATUS for p in got) and got[-1].flags & DIN_ACK
    assert b"".join(p.data for p in got) == pattern(65536, 9)
    rsp = expect(ini, OP_SCSI_RSP)
    assert (rsp.itt, rsp.bhs[3], rsp.u32(20), rsp.u32(24), rsp.u32(36)) == \
        (itt, 0, 0x1234, sn, 16)
    snack(ini, SNACK_DATA, 1, 1, sn, itt=itt)  # the new cut from now on
    p = expect(ini, OP_DATA_IN)
    assert (p.u32(36), p.u32(40), p.data) == (1, 4096, got[1].data)
    ini.close()


@pytest.mark.parametrize("typ,beg,run,which", [
    (SNACK_DATA, 0, 1, "bad-itt"),       # unknown ITT
    (SNACK_DATA, 8, 1, "itt"),           # DataSN never sent
    (SNACK_DATA, 7, 2, "itt"),           # past the end
    (SNACK_DATA, 1, 0xFFFFFFFF, "itt"),  # overflow
    (SNACK_ACK, 9, 0, "ttt"),            # acknowledges what was not sent
    (SNACK_ACK, 8, 0, "bad-ttt"),        # unknown TTT
    (SNACK_ACK, 8, 5, "ttt"),            # RunLength must be 0
    (SNACK_RDATA, 2, 0, "itt"),          # BegRun must be 0
    (SNACK_RDATA, 0, 0, "bad-itt"),
])
def test_hostile_data_snack_rejected(target, typ, beg, run, which):
    ini = login(target, 1)
    itt, pdus = read_pdus(ini, 0, 128)
    sn = pdus[-1].u32(24)
    kw = {"bad-itt": {"itt": itt + 77}, "itt": {"itt": itt},
          "ttt": {"ttt": pdus[-1].u32(20)}, "bad-ttt": {"ttt": 0x7FFF7FFF}}[which]
    snack(ini, typ, beg, run, sn, **kw)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    snack(ini, SNACK_DATA, 7, 1, sn, itt=itt)  # still kept and served
    assert same_pdu(expect(ini, OP_DATA_IN), pdus[7])
    ini.expstatsn = sn + 1
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()


def test_parked_reads_bounded(target):
    """More unacknowledged reads than kept (16): the oldest go, a SNACK for them is Rejected."""
    ini = login(target, 1)
    reads = [read_pdus(ini, i * 8, 8) for i in range(20)]
    first_itt, first = reads[0]
    last_itt, last = reads[-1]
    snack(ini, SNACK_DATA, 0, 1, first[-1].u32(24), itt=first_itt)
    assert expect(ini, OP_REJECT).bhs[2] == REJECT_PROTOCOL
    snack(ini, SNACK_DATA, 0, 1, first[-1].u32(24), itt=last_itt)
    assert same_pdu(expect(ini, OP_DATA_IN), last[0])
    ini.expstatsn = last[-1].u32(24) + 1
    assert raw_response(ini, bytes(6)).bhs[3] == 0
    ini.close()
