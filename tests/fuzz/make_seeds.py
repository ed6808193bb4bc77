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
    tid = bytes([0x45, 0, 0, 36]) + b"iqn.2026-11.org.utgt:ini,i,0x000001".ljust(36, b"\0")
    spec = bytes(8) + (1).to_bytes(8, "big") + bytes([0, 0, 0, 0, 0x08, 0, 0, 0])
    spec += len(tid).to_bytes(4, "big") + tid
    c("pr_out_spec_i_pt", 0x61, 8, bytes([0x5F, 0, 0, 0, 0, 0, 0, 0, len(spec), 0]), spec)
    move = (1).to_bytes(8, "big") + (2).to_bytes(8, "big") + bytes([0, 2, 0, 1])
    move += len(tid).to_bytes(4, "big") + tid
    c("pr_out_move", 0x61, 8, bytes([0x5F, 7, 1, 0, 0, 0, 0, 0, len(move), 0]), move)
    c("rsoc", 0x11, 64, bytes([0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]))
    c("rtpg", 0x11, 64, bytes([0xA3, 0x2A, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]))
    c("stpg", 0x61, 2, bytes([0xA4, 0x0A, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0]),
      bytes(4) + bytes([0x02, 0, 0, 1, 0x00, 0, 0, 2]))
    c("tur_lun0", 0x00, 0, bytes(6))
    c("ro_write", 0x62, 64, WRITE10, bytes(1024))
    c("absent", 0x13, 8, INQ)
    xcopy = struct.pack(">BBHIII", 1, 0, 32, 0, 28, 0) + bytes([0xE4, 0, 0, 0, 1, 3, 0, 16]) + \
        bytes(16) + bytes(5) + bytes([0, 2, 0]) + \
        struct.pack(">BBHHHHHQQ", 0x02, 0, 0x18, 0, 0, 0, 8, 0, 64)
    c("xcopy", 0x61, 8, bytes([0x83, 0] + [0] * 8 + [0, 0, 0, len(xcopy), 0, 0]), xcopy)
    c("rcr_op_params", 0x11, 8, bytes([0x84, 3, 0] + [0] * 7 + [0, 0, 4, 0, 0, 0]))


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


CONF_FULL = """# test
default-driver iscsi
ignore-errors no
include conf.d/*.conf
include none/*.conf
<target iqn.2026-11.org.utgt:c1>
	backing-store /dev/null
	initiator-address 127.0.0.1
	initiator-address fd00::/64
	initiator-name iqn.1994-05.com.redhat:a
	MaxRecvDataSegmentLength 65536
	ImmediateData Yes
</target>
<target iqn.2026-11.org.utgt:c2>
	<backing-store /dev/null>
		lun 3
		vendor_id ACME
		product_id "My Disk"
		scsi_sn SN0003
		write-cache off
		block-size 4096
		bsoflags sync
		bs-type io_uring
		params vendor_id=X,product_rev=1
	</backing-store>
	<direct-store /dev/null>
		lun 4
	</direct-store>
	device-type cd
	incominguser alice alicesecret123
	incominguser bob "bob secret 456"
	outgoinguser tgtuser tgtsecret7890
	controller_tid 7
</target>
"""


def seeds_config():
    example = os.path.join(HERE, "..", "..", "packaging", "targets.conf.example")
    with open(example, "rb") as f:
        text = f.read()
    write("config", "example", text)
    write("config", "example_on", text.replace(b"\n#", b"\n"))
    write("config", "full", CONF_FULL.encode())
    write("config", "self_include", b"include self.conf\n<target iqn.x:a>\n</target>\n")
    write("config", "errors", b"<target iqn.x:a>\n\tbacking-store /dev/null\n\tlun 0\n"
          b"</target>\n<target bad!>\n")


def isns_pdu(func, payload, flags=0x4c00, xid=1):
    return struct.pack(">HHHHHH", 1, func, len(payload), flags, xid, 0) + payload


def isns_tlv(tag, value):
    value = pad(value)
    return struct.pack(">II", tag, len(value)) + value


def seeds_isns():
    ok = struct.pack(">I", 0)
    write("isns", "reg_rsp", isns_pdu(0x8001, ok + isns_tlv(1, b"utgtd:h:3260\0") +
                                      isns_tlv(6, struct.pack(">I", 900))))
    write("isns", "scn", isns_pdu(0x0008, isns_tlv(32, TGT.encode() + b"\0") +
                                  isns_tlv(32, INI.encode() + b"\0") +
                                  isns_tlv(35, struct.pack(">I", 8))))
    write("isns", "esi", isns_pdu(0x000d, isns_tlv(1, b"utgtd:h:3260\0") +
                                  isns_tlv(16, b"\0" * 10 + b"\xff\xff\x7f\0\0\x01")))
    write("isns", "overrun", isns_pdu(0x8001, ok + struct.pack(">II", 6, 0x7ffffff0)))


if __name__ == "__main__":
    seeds_pdu()
    seeds_text()
    seeds_cdb()
    seeds_mgmt()
    seeds_conn()
    seeds_config()
    seeds_isns()
