#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (run from anywhere; idempotent)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TGT = "iqn.2026-11.org.utgt:fuzz"
INI = "iqn.2026-11.org.utgt:fuzzer"


def keys(*kv):
    return b"".join(("%s=%s" % p).encode() + b"\0" for p in kv)


def pad(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def bhs(op, flags=0, dsl=0, ahs=0, lun=0, itt=1, f20=0, f24=0, f28=0, tail=b""):
    h = bytearray(48)
    h[0], h[1], h[4] = op, flags, ahs // 4
    h[5:8] = struct.pack(">I", dsl)[1:]
    h[8:16] = struct.pack(">Q", lun)
    h[16:20] = struct.pack(">I", itt)
    h[20:24] = struct.pack(">I", f20)
    h[24:28] = struct.pack(">I", f24)
    h[28:32] = struct.pack(">I", f28)
    h[32:32 + len(tail)] = tail
    return bytes(h)


def login(data, flags=0x87, itt=1, cmdsn=1, tsih=0):
    h = bytearray(bhs(0x43, flags, len(data), itt=itt, f24=cmdsn))
    h[8:14] = bytes([0x80, 0x12, 0x34, 0x56, 0x78, 0x9A])
    h[14:16] = struct.pack(">H", tsih)
    return bytes(h) + pad(data)


def scsi(cdb, itt, cmdsn, edtl=0, flags=0x80, data=b"", lun=1, ahs=b""):
    cdb16 = cdb[:16] + b"\0" * (16 - len(cdb[:16]))
    h = bhs(0x01, flags, len(data), len(ahs), lun << 48, itt, edtl, cmdsn, 0, cdb16)
    return h + ahs + pad(data)


def write(d, name, blob):
    os.makedirs(os.path.join(HERE, "corpus", d), exist_ok=True)
    with open(os.path.join(HERE, "corpus", d, name), "wb") as f:
        f.write(blob)


LOGIN_KEYS = keys(("InitiatorName", INI), ("TargetName", TGT), ("SessionType", "Normal"),
                  ("HeaderDigest", "None"), ("DataDigest", "None"), ("ImmediateData", "Yes"),
                  ("InitialR2T", "No"), ("MaxRecvDataSegmentLength", "65536"),
                  ("MaxBurstLength", "262144"), ("FirstBurstLength", "65536"))
INQ = bytes([0x12, 0, 0, 0, 96, 0])
READ10 = bytes([0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0])
WRITE10 = bytes([0x2A, 0, 0, 0, 0, 8, 0, 0, 2, 0])


def seeds_pdu():
    write("pdu", "login", login(LOGIN_KEYS)[:48])
    write("pdu", "scsi_read", scsi(READ10, 1, 1, 4096, 0xC0)[:48])
    ext = struct.pack(">HB", 17, 1) + b"\0" + bytes(16)  # ExtCDB AHS, 16 extra bytes + pad
    write("pdu", "scsi_extcdb", scsi(bytes([0x7F] + [0] * 15), 1, 1, ahs=ext))
    bidi = struct.pack(">HBB", 5, 2, 0) + struct.pack(">I", 512)
    write("pdu", "scsi_bidi", scsi(READ10, 1, 1, 512, 0xE0, ahs=bidi))
    write("pdu", "dataout", bhs(0x05, 0x80, 512, lun=1 << 48, itt=1, f20=0x10))
    write("pdu", "nop", bhs(0x40, 0x80, 0, itt=9, f20=0xFFFFFFFF))


def seeds_text():
    write("text", "login_sec", b"\x00" + keys(("InitiatorName", INI), ("TargetName", TGT),
                                              ("AuthMethod", "CHAP,None")))
    write("text", "login_op", b"\x01" + LOGIN_KEYS)
    write("text", "ffp", b"\x02" + keys(("SendTargets", "All"), ("MaxRecvDataSegmentLength", "8192")))
    write("text", "discovery", b"\x81" + keys(("SessionType", "Discovery"), ("MaxBurstLength", "512")))
    write("text", "chap", b"\x00" + keys(("CHAP_A", "5,6,7,8"), ("CHAP_N", "u"),
                                         ("CHAP_R", "0x" + "ab" * 16), ("CHAP_C", "0bAAECAwQ=")))
    write("text", "odd", b"\x41" + keys(("X-com.example", "1"), ("IFMarker", "Yes"),
                                        ("OFMarkInt", "1~65535"), ("ErrorRecoveryLevel", "0x2")))


def seeds_cdb():
    def c(name, sel, buflen, cdb, data=b""):
        write("cdb", name, bytes([sel, buflen >> 8, buflen & 0xFF, len(cdb) - 1]) + cdb + data)
    c("inquiry", 0x11, 8, INQ)
    c("inquiry_vpd", 0x11, 16, bytes([0x12, 1, 0x83, 0, 255, 0]))
    c("read10", 0x11, 256, READ10)
    c("write10", 0x61, 64, WRITE10, bytes(range(256)) * 4)
    c("report_luns", 0x10, 16, bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]))
    c("readcap16", 0x11, 2, bytes([0x9E, 0x10] + [0] * 11 + [32, 0, 0]))
    c("mode_sense", 0x11, 16, bytes([0x5A, 0, 0x3F, 0, 0, 0, 0, 1, 0, 0]))
    c("mode_select", 0x61, 2, bytes([0x55, 0x10, 0, 0, 0, 0, 0, 0, 28, 0]),
      bytes(8) + bytes([0x08, 0x12, 0x04]) + bytes(17))
    c("sync_cache", 0x01, 0, bytes([0x35] + [0] * 9))
    c("unmap", 0x61, 2, bytes([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0]),
      bytes([0, 22, 0, 16]) + bytes(4) + struct.pack(">QI", 0, 8) + bytes(4))
    c("write_same16", 0x61, 32, bytes([0x93, 0x08] + [0] * 8 + [0, 0, 0, 8, 0, 0]), bytes(512))
    c("caw", 0x61, 64, bytes([0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]), bytes(1024))
    c("pr_in", 0x11, 16, bytes([0x5E, 0, 0, 0, 0, 0, 0, 1, 0, 0]))
    c("pr_out", 0x61, 2, bytes([0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0]), bytes(24))
    c("rsoc", 0x11, 64, bytes([0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]))
    c("tur_lun0", 0x00, 0, bytes(6))
    c("ro_write", 0x62, 64, WRITE10, bytes(1024))
    c("absent", 0x13, 8, INQ)


def seeds_mgmt():
    reqs = [
        {"mode": "target", "op": "new", "tid": 1, "targetname": TGT},
        {"mode": "target", "op": "show"},
        {"mode": "sys", "op": "show"},
        {"mode": "logicalunit", "op": "new", "tid": 1, "lun": 1, "bstype": "null",
         "backing_store": "x", "params": "vendor_id=A,product_id=B"},
        {"mode": "target", "op": "bind", "tid": 1, "initiator_address": "10.0.0.0/8",
         "initiator_name": INI},
        {"mode": "target", "op": "update", "tid": 1, "name": "MaxRecvDataSegmentLength",
         "value": "8192"},
        {"mode": "account", "op": "new", "user": "u", "password": "p"},
        {"mode": "account", "op": "bind", "tid": 1, "user": "u", "outgoing": True},
        {"mode": "session", "op": "show", "tid": 1},
        {"mode": "logicalunit", "op": "update", "tid": 1, "lun": 0, "params": {"readonly": "1"}},
        {"mode": "sys", "op": "update", "name": "State", "value": "offline"},
    ]
    for i, r in enumerate(reqs):
        write("mgmt", "req%02d" % i, json.dumps(r).encode())


def seeds_conn():
    lg = login(LOGIN_KEYS, flags=0x87)  # CSG=1 -> FFP, no security stage
    ffp = [scsi(INQ, 2, 1, 96, 0xC0), scsi(READ10, 3, 2, 4096, 0xC0),
           scsi(WRITE10, 4, 3, 1024, 0xA0, bytes(1024)),
           scsi(WRITE10, 5, 4, 1024, 0x20, bytes(512)) + bhs(0x05, 0x80, 512, lun=1 << 48, itt=5,
                                                             f20=0xFFFFFFFF,
                                                             tail=struct.pack(">III", 0, 0, 512)) + bytes(512),
           bhs(0x44, 0x80, 16, itt=6, f20=0xFFFFFFFF, f24=5) + pad(keys(("SendTargets", "All"))),
           bhs(0x40, 0x80, 0, itt=7, f20=0xFFFFFFFF, f24=6),
           bhs(0x42, 0x81, 0, lun=1 << 48, itt=8, f20=2, f24=6),
           bhs(0x46, 0x80, 0, itt=9, f24=6)]
    write("conn", "session", lg + b"".join(ffp))
    write("conn", "login_only", lg)
    sec = login(keys(("InitiatorName", INI), ("TargetName", "iqn.2026-11.org.utgt:chap"),
                     ("AuthMethod", "CHAP,None")), flags=0x01) + \
        login(keys(("CHAP_A", "7,5")), flags=0x01, itt=1) + \
        login(keys(("CHAP_N", "fuzz"), ("CHAP_R", "0x" + "00" * 32)), flags=0x81, itt=1)
    write("conn", "chap", sec)
    disc = login(keys(("InitiatorName", INI), ("SessionType", "Discovery"),
                      ("MaxRecvDataSegmentLength", "8192")), flags=0x87)
    write("conn", "discovery", disc + bhs(0x44, 0x80, 16, itt=2, f20=0xFFFFFFFF, f24=1) +
          pad(keys(("SendTargets", "All"))))
    write("conn", "garbage", bytes(range(256)) * 2)


if __name__ == "__main__":
    seeds_pdu()
    seeds_text()
    seeds_cdb()
    seeds_mgmt()
    seeds_conn()
