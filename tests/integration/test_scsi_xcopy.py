# SPDX-License-Identifier: GPL-2.0-only
"""Third-party copy and SANITIZE through the project's strict initiator: EXTENDED COPY (LID1)
between two LUs of a target, RECEIVE COPY RESULTS, the destination's write protection, and a
paced SANITIZE that answers NOT READY with a growing progress indication and outlives the
connection that started it."""
import struct
import threading
import time

from conftest import IQN, setup_target
from iscsi_client import Initiator

READ10 = 0x28
WRITE10 = 0x2A
BS = 512


def cdb10(op, lba, blocks):
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def login(d):
    ini = Initiator("127.0.0.1", d.port)
    ini.login(IQN)
    for lun in (1, 2):
        for _ in range(4):
            if ini.scsi(bytes(6), lun=lun).status == 0:
                break
    return ini


def naa_designator(ini, lun):
    r = ini.scsi(bytes([0x12, 0x01, 0x83, 0, 0xFF, 0]), lun=lun, read_len=255)
    assert r.status == 0
    assert r.data[5] & 0x0F == 3  # the first designator is the NAA one
    return r.data[4:24]


def xcopy_list(list_id, cscds, segs):
    """segs: (src index, dst index, blocks, src lba, dst lba)."""
    body = b""
    for desig in cscds:
        body += bytes([0xE4, 0, 0, 0]) + desig.ljust(20, b"\0") + bytes(5) + \
            struct.pack(">I", BS)[1:]
    seg = b""
    for src, dst, n, slba, dlba in segs:
        seg += struct.pack(">BBHHHHHQQ", 0x02, 0, 0x18, src, dst, 0, n, slba, dlba)
    hdr = struct.pack(">BBHIII", list_id, 0, len(body), 0, len(seg), 0)
    return hdr + body + seg


def xcopy_cdb(plen):
    return bytes([0x83, 0]) + bytes(8) + struct.pack(">I", plen) + bytes(2)


def rcr_cdb(sa, list_id):
    return bytes([0x84, sa, list_id]) + bytes(7) + struct.pack(">I", 1024) + bytes(2)


def test_xcopy_between_two_lus_and_copy_status(daemon, workdir):
    setup_target(daemon, workdir, luns=2, size=16 << 20)
    ini = login(daemon)
    pattern = bytes((i * 13 + 7) & 0xFF for i in range(3000 * BS))
    for off in range(0, 3000, 1000):
        r = ini.scsi(cdb10(WRITE10, off, 1000), lun=1,
                     data_out=pattern[off * BS:(off + 1000) * BS])
        assert r.status == 0
    src, dst = naa_designator(ini, 1), naa_designator(ini, 2)
    assert src != dst
    plist = xcopy_list(3, [src, dst], [(0, 1, 3000, 0, 100)])  # 1.5 MiB: two chunks
    r = ini.scsi(xcopy_cdb(len(plist)), lun=1, data_out=plist)
    assert r.status == 0, r.sense.hex()
    for off in range(0, 3000, 1000):
        r = ini.scsi(cdb10(READ10, 100 + off, 1000), lun=2, read_len=1000 * BS)
        assert r.status == 0
        assert r.data == pattern[off * BS:(off + 1000) * BS]
    # the source is untouched
    r = ini.scsi(cdb10(READ10, 100, 8), lun=1, read_len=8 * BS)
    assert r.data == pattern[100 * BS:108 * BS]

    # COPY STATUS of list 3 lives in the LU the copy was sent to, reported once
    r = ini.scsi(rcr_cdb(0x00, 3), lun=2, read_len=1024)
    assert r.status == 2 and r.asc_ascq == (0x24, 0x00)
    r = ini.scsi(rcr_cdb(0x00, 3), lun=1, read_len=1024)
    assert r.status == 0
    avail, st, segs, units, count = struct.unpack(">IBHBI", r.data[:12])
    assert (avail, st, segs, units, count) == (8, 0x01, 1, 0, 3000 * BS)
    r = ini.scsi(rcr_cdb(0x00, 3), lun=1, read_len=1024)
    assert r.status == 2 and r.asc_ascq == (0x24, 0x00)

    # OPERATING PARAMETERS: the limits the parser enforces
    r = ini.scsi(rcr_cdb(0x03, 0), lun=1, read_len=1024)
    assert r.status == 0
    max_cscd, max_seg, max_list = struct.unpack(">HHI", r.data[8:16])
    assert (max_cscd, max_seg, max_list) == (4, 8, 1024)
    plist = xcopy_list(4, [src] * 5, [(0, 0, 1, 0, 1)])
    r = ini.scsi(xcopy_cdb(len(plist)), lun=1, data_out=plist)
    assert r.status == 2 and r.asc_ascq == (0x26, 0x06)  # TOO MANY TARGET DESCRIPTORS

    # a write-protected destination refuses the copy before anything is written
    daemon.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1",
               "--lun", "2", "--params", "readonly=1")
    plist = xcopy_list(5, [src, dst], [(0, 1, 8, 0, 5000)])
    r = ini.scsi(xcopy_cdb(len(plist)), lun=1, data_out=plist)
    assert r.status == 2 and r.sense_key == 0x07 and r.asc_ascq == (0x27, 0x00)
    # a designator that names no LU of the target
    plist = xcopy_list(6, [bytes([1, 3, 0, 16, 0x60]) + bytes(15)], [(0, 0, 8, 0, 5000)])
    r = ini.scsi(xcopy_cdb(len(plist)), lun=1, data_out=plist)
    assert r.status == 2 and r.sense_key == 0x0A and r.asc_ascq == (0x08, 0x04)
    ini.close()


def request_sense(ini):
    r = ini.scsi(bytes([0x03, 0, 0, 0, 96, 0]), lun=1, read_len=96)
    assert r.status == 0
    return r.data


def test_sanitize_outlives_its_connection_and_reports_progress(daemon, workdir):
    setup_target(daemon, workdir, luns=1, size=32 << 20)
    daemon.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1",
               "--lun", "1", "--params", "sanitize_rate=8")  # 32 MiB: about 4 s
    a = login(daemon)
    b = Initiator("127.0.0.1", daemon.port)
    b.isid = bytes([0x80, 0x12, 0x34, 0x56, 0x78, 0x9B])
    b.login(IQN)
    for _ in range(4):
        if b.scsi(bytes(6), lun=1).status == 0:
            break
    param = bytes([0x01, 0, 0, 2, 0xC3, 0x3C])
    cdb = bytes([0x48, 0x01, 0, 0, 0, 0, 0, 0, len(param), 0])
    def send():
        try:
            a.scsi(cdb, lun=1, data_out=param)
        except OSError:
            pass  # the connection is closed under it

    t = threading.Thread(target=send, daemon=True)
    t0 = time.monotonic()
    t.start()
    time.sleep(0.5)
    r = b.scsi(bytes(6), lun=1)
    assert r.status == 2 and r.sense_key == 0x02 and r.asc_ascq == (0x04, 0x1B)
    assert r.sense[15] & 0x80  # SKSV: progress indication
    p1 = struct.unpack(">H", request_sense(b)[16:18])[0]
    r = b.scsi(bytes([0x12, 0, 0, 0, 96, 0]), lun=1, read_len=96)  # INQUIRY still answers
    assert r.status == 0
    a.sock.close()  # the connection that sent the SANITIZE is lost
    time.sleep(1.0)
    s = request_sense(b)
    assert s[2] & 0x0F == 0x02 and (s[12], s[13]) == (0x04, 0x1B)
    p2 = struct.unpack(">H", s[16:18])[0]
    assert 0 < p1 < p2 < 0x10000
    while b.scsi(bytes(6), lun=1).status != 0:
        assert time.monotonic() - t0 < 30
        time.sleep(0.2)
    assert time.monotonic() - t0 > 3.0  # paced: 32 MiB at 8 MiB/s
    assert request_sense(b)[2] & 0x0F == 0
    for lba in (0, 30000, 65535):
        r = b.scsi(cdb10(READ10, lba, 1), lun=1, read_len=BS)
        assert r.status == 0 and r.data == bytes([0xC3, 0x3C]) * (BS // 2)
    b.close()
