# SPDX-License-Identifier: GPL-2.0-only
"""A small, strict iSCSI initiator for tests (RFC 7143): login with any keys, SCSI commands
with immediate/unsolicited/solicited data, header and data digests, NOP, text, logout, and
raw PDUs for hostile-input tests. Not fast; exact."""
import socket
import struct

OP_NOP_OUT, OP_SCSI_CMD, OP_TMF, OP_LOGIN, OP_TEXT, OP_DATA_OUT, OP_LOGOUT = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
OP_NOP_IN, OP_SCSI_RSP, OP_TMF_RSP, OP_LOGIN_RSP, OP_TEXT_RSP, OP_DATA_IN, OP_LOGOUT_RSP = 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26
OP_R2T, OP_ASYNC, OP_REJECT = 0x31, 0x32, 0x3F


def _crc32c_table():
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def pad4(n):
    return (4 - n % 4) % 4


def encode_keys(keys):
    out = b""
    for k, v in keys:
        out += ("%s=%s" % (k, v)).encode() + b"\0"
    return out


def decode_keys(data):
    res = {}
    for item in data.split(b"\0"):
        if not item:
            continue
        k, _, v = item.decode(errors="replace").partition("=")
        res[k] = v
    return res


class PDU:
    def __init__(self, bhs, ahs=b"", data=b""):
        self.bhs, self.ahs, self.data = bhs, ahs, data

    @property
    def opcode(self):
        return self.bhs[0] & 0x3F

    @property
    def flags(self):
        return self.bhs[1]

    @property
    def itt(self):
        return struct.unpack(">I", self.bhs[16:20])[0]

    def u32(self, off):
        return struct.unpack(">I", self.bhs[off:off + 4])[0]


class LoginError(Exception):
    def __init__(self, cls, detail, keys):
        super().__init__("login failed: status %02x/%02x" % (cls, detail))
        self.status_class, self.status_detail, self.keys = cls, detail, keys


class SCSIResult:
    def __init__(self):
        self.status = None
        self.response = None
        self.data = b""
        self.sense = b""
        self.residual = 0
        self.overflow = False
        self.underflow = False

    @property
    def sense_key(self):
        if len(self.sense) < 3:
            return None
        return self.sense[2] & 0x0F if self.sense[0] & 0x7F in (0x70, 0x71) else self.sense[1] & 0x0F

    @property
    def asc_ascq(self):
        s = self.sense
        if len(s) < 4:
            return None
        if s[0] & 0x7F in (0x70, 0x71):
            return (s[12], s[13]) if len(s) >= 14 else None
        return (s[2], s[3])


class Initiator:
    def __init__(self, host, port, initiator="iqn.2026-11.org.utgt:client", timeout=10.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_connection((host, port), timeout=timeout) if family == socket.AF_INET \
            else socket.create_connection((host, port, 0, 0), timeout=timeout)
        self.initiator = initiator
        self.itt = 1
        self.cmdsn = 1
        self.expstatsn = 0
        self.isid = bytes([0x80, 0x12, 0x34, 0x56, 0x78, 0x9A])
        self.tsih = 0
        self.cid = 0  # a second connection of a session (MC/S) sets its own CID and the TSIH
        self.hdigest = False
        self.ddigest = False
        self.params = {}
        self.maxcmdsn = 1
        self.async_events = []

    # ---- raw I/O ----
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_pdu(self, bhs, data=b"", ahs=b""):
        assert len(bhs) == 48
        bhs = bytearray(bhs)
        bhs[4] = len(ahs) // 4
        bhs[5:8] = struct.pack(">I", len(data))[1:]
        out = bytes(bhs) + ahs
        if self.hdigest:
            out += struct.pack("<I", crc32c(bytes(bhs) + ahs))
        if data:
            padded = data + b"\0" * pad4(len(data))
            out += padded
            if self.ddigest:
                out += struct.pack("<I", crc32c(padded))
        self.sock.sendall(out)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by target")
            buf += chunk
        return buf

    def recv_pdu(self):
        bhs = self._recv_exact(48)
        ahslen = bhs[4] * 4
        dlen = struct.unpack(">I", b"\0" + bhs[5:8])[0]
        ahs = self._recv_exact(ahslen) if ahslen else b""
        if self.hdigest:
            dig = struct.unpack("<I", self._recv_exact(4))[0]
            assert dig == crc32c(bhs + ahs), "bad header digest from target"
        data = b""
        if dlen:
            padded = self._recv_exact(dlen + pad4(dlen))
            if self.ddigest:
                dig = struct.unpack("<I", self._recv_exact(4))[0]
                assert dig == crc32c(padded), "bad data digest from target"
            data = padded[:dlen]
        pdu = PDU(bhs, ahs, data)
        if pdu.opcode in (OP_SCSI_RSP, OP_NOP_IN, OP_TMF_RSP, OP_TEXT_RSP, OP_LOGOUT_RSP, OP_LOGIN_RSP, OP_ASYNC, OP_REJECT) \
                or (pdu.opcode == OP_DATA_IN and pdu.flags & 0x01):
            statsn = pdu.u32(24)
            if pdu.opcode != OP_NOP_IN or pdu.itt != 0xFFFFFFFF:
                self.expstatsn = (statsn + 1) & 0xFFFFFFFF
        self.maxcmdsn = pdu.u32(32)  # MaxCmdSN sits at bytes 32-35 of every target PDU
        return pdu

    def next_itt(self):
        itt = self.itt
        self.itt = (self.itt + 1) & 0xFFFFFFFF or 1
        return itt

    # ---- login ----
    def login(self, target=None, discovery=False, keys=None, digests=None, auth=None):
        """Logs in; keys are extra operational keys [(k, v)]. Returns the negotiated dict."""
        sec = [("InitiatorName", self.initiator), ("SessionType", "Discovery" if discovery else "Normal")]
        if target and not discovery:
            sec.append(("TargetName", target))
        sec.append(("AuthMethod", auth or "None"))
        op = []
        if digests:
            op += [("HeaderDigest", digests[0]), ("DataDigest", digests[1])]
        op += keys or [("ImmediateData", "Yes"), ("InitialR2T", "No"), ("MaxRecvDataSegmentLength", "262144"),
                       ("MaxBurstLength", "1048576"), ("FirstBurstLength", "262144")]
        # Security stage, transit to operational
        rsp = self._login_step(0, 1, True, sec)
        negotiated = dict(rsp)
        rsp = self._login_step(1, 3, True, op)
        negotiated.update(rsp)
        self.params = negotiated
        self.hdigest = negotiated.get("HeaderDigest", "None") == "CRC32C"
        self.ddigest = negotiated.get("DataDigest", "None") == "CRC32C"
        return negotiated

    def _login_step(self, csg, nsg, transit, keys):
        itt = self.next_itt()
        collected = {}
        data = encode_keys(keys)
        while True:
            flags = (0x80 if transit else 0) | (csg << 2) | nsg
            bhs = bytearray(48)
            bhs[0] = 0x40 | OP_LOGIN
            bhs[1] = flags
            bhs[2] = 0x00  # version max
            bhs[3] = 0x00  # version min
            bhs[8:14] = self.isid
            bhs[14:16] = struct.pack(">H", self.tsih)
            bhs[16:20] = struct.pack(">I", itt)
            bhs[20:22] = struct.pack(">H", self.cid)  # CID
            bhs[24:28] = struct.pack(">I", self.cmdsn)
            bhs[28:32] = struct.pack(">I", self.expstatsn)
            self.send_pdu(bytes(bhs), data)
            rsp = self.recv_pdu()
            if rsp.opcode != OP_LOGIN_RSP:
                raise ConnectionError("expected login response, got opcode 0x%02x" % rsp.opcode)
            cls, detail = rsp.bhs[36], rsp.bhs[37]
            keys_back = decode_keys(rsp.data)
            if cls != 0:
                raise LoginError(cls, detail, keys_back)
            collected.update(keys_back)
            self.expstatsn = (rsp.u32(24) + 1) & 0xFFFFFFFF
            self.maxcmdsn = rsp.u32(32)
            if rsp.flags & 0x80 and (rsp.flags & 0x03) == nsg:
                self.tsih = struct.unpack(">H", rsp.bhs[14:16])[0]
                return collected
            if rsp.flags & 0x40:  # continue
                data = b""
                continue
            # target did not transit yet: resend without new keys
            data = b""

    # ---- full feature phase ----
    def _cmd_bhs(self, opcode, itt, immediate=False):
        bhs = bytearray(48)
        bhs[0] = opcode | (0x40 if immediate else 0)
        bhs[16:20] = struct.pack(">I", itt)
        bhs[24:28] = struct.pack(">I", self.cmdsn)
        bhs[28:32] = struct.pack(">I", self.expstatsn)
        return bhs

    def scsi(self, cdb, lun=0, data_out=None, read_len=0, edtl=None, attr=1, immediate_len=None):
        """Runs one SCSI command and returns a SCSIResult."""
        itt = self.next_itt()
        bhs = self._cmd_bhs(OP_SCSI_CMD, itt)
        write = data_out is not None
        flags = 0x80 | (attr & 7)
        if read_len:
            flags |= 0x40
        if write:
            flags |= 0x20
        if edtl is None:
            edtl = len(data_out) if write else read_len
        bhs[1] = flags
        bhs[8:16] = struct.pack(">Q", encode_lun(lun))
        bhs[20:24] = struct.pack(">I", edtl)
        cdb = bytes(cdb)
        ahs = b""
        if len(cdb) > 16:
            ext = cdb[16:]
            ahs_body = bytes([0x01, 0]) + ext  # type 1 extended CDB; length = len(ext)+1
            ahs = struct.pack(">H", len(ext) + 1) + ahs_body[0:1] + b"\0" + ext
            ahs += b"\0" * pad4(len(ahs))
            cdb = cdb[:16]
        bhs[32:48] = cdb.ljust(16, b"\0")
        imm = b""
        p = self.params
        fb = _int_key(p, "FirstBurstLength", 65536)
        if write and p.get("ImmediateData") == "Yes":
            limit = min(fb, self.target_mrdsl()) if immediate_len is None else immediate_len
            imm = data_out[:limit]
        unsolicited = write and p.get("InitialR2T") == "No" and len(imm) < min(fb, len(data_out))
        if unsolicited:
            bhs[1] &= 0x7F  # F=0: unsolicited Data-Out follows
        self.cmdsn = (self.cmdsn + 1) & 0xFFFFFFFF
        self.send_pdu(bytes(bhs), imm, ahs)
        sent = len(imm)
        if unsolicited:
            sent = self._send_data_out(itt, 0xFFFFFFFF, data_out, sent, min(fb, len(data_out)))
        res = SCSIResult()
        chunks = {}
        while True:
            pdu = self.recv_pdu()
            op = pdu.opcode
            if op == OP_R2T:
                ttt = pdu.u32(20)
                off = pdu.u32(40)
                length = pdu.u32(44)
                self._send_data_out(itt, ttt, data_out, off, off + length)
            elif op == OP_DATA_IN:
                off = pdu.u32(40)
                chunks[off] = pdu.data
                if pdu.flags & 0x01:
                    res.status = pdu.bhs[3]
                    res.overflow = bool(pdu.flags & 0x04)
                    res.underflow = bool(pdu.flags & 0x02)
                    res.residual = pdu.u32(44)
                    break
            elif op == OP_SCSI_RSP:
                res.response = pdu.bhs[2]
                res.status = pdu.bhs[3]
                res.overflow = bool(pdu.flags & 0x04)
                res.underflow = bool(pdu.flags & 0x02)
                res.residual = pdu.u32(44)
                if len(pdu.data) >= 2:
                    slen = struct.unpack(">H", pdu.data[:2])[0]
                    res.sense = pdu.data[2:2 + slen]
                break
            elif op == OP_NOP_IN:
                if pdu.u32(20) != 0xFFFFFFFF:
                    self.nop_reply(pdu)
            elif op == OP_ASYNC:
                self.async_events.append(pdu)
            elif op == OP_REJECT:
                raise ConnectionError("target rejected the command, reason 0x%02x" % pdu.bhs[2])
            else:
                raise ConnectionError("unexpected opcode 0x%02x" % op)
        res.data = b"".join(chunks[k] for k in sorted(chunks))
        return res

    def target_mrdsl(self):
        return _int_key(self.params, "MaxRecvDataSegmentLength", 8192)

    def data_out_bhs(self, itt, ttt, offset, datasn, final, lun=0):
        """The BHS of a Data-Out PDU (send_pdu fills in the data segment length)."""
        bhs = bytearray(48)
        bhs[0] = OP_DATA_OUT
        bhs[1] = 0x80 if final else 0
        bhs[8:16] = struct.pack(">Q", encode_lun(lun))
        bhs[16:20] = struct.pack(">I", itt)
        bhs[20:24] = struct.pack(">I", ttt)
        bhs[28:32] = struct.pack(">I", self.expstatsn)
        bhs[36:40] = struct.pack(">I", datasn)
        bhs[40:44] = struct.pack(">I", offset)
        return bhs

    def _send_data_out(self, itt, ttt, data, start, end):
        mrdsl = self.target_mrdsl()
        datasn = 0
        off = start
        while off < end:
            n = min(mrdsl, end - off)
            bhs = self.data_out_bhs(itt, ttt, off, datasn, off + n >= end)
            self.send_pdu(bytes(bhs), data[off:off + n])
            datasn += 1
            off += n
        return off

    def nop_reply(self, nop_in):
        bhs = self._cmd_bhs(OP_NOP_OUT, 0xFFFFFFFF, immediate=True)
        bhs[1] = 0x80
        bhs[8:16] = nop_in.bhs[8:16]
        bhs[20:24] = nop_in.bhs[20:24]
        self.send_pdu(bytes(bhs))

    def nop(self, data=b""):
        itt = self.next_itt()
        bhs = self._cmd_bhs(OP_NOP_OUT, itt, immediate=True)
        bhs[1] = 0x80
        bhs[20:24] = struct.pack(">I", 0xFFFFFFFF)
        self.send_pdu(bytes(bhs), data)
        while True:
            pdu = self.recv_pdu()
            if pdu.opcode == OP_NOP_IN and pdu.itt == itt:
                return pdu

    def text(self, keys):
        itt = self.next_itt()
        out = {}
        ttt = 0xFFFFFFFF
        data = encode_keys(keys)
        while True:
            bhs = self._cmd_bhs(OP_TEXT, itt, immediate=True)
            bhs[1] = 0x80
            bhs[20:24] = struct.pack(">I", ttt)
            self.send_pdu(bytes(bhs), data)
            pdu = self.recv_pdu()
            if pdu.opcode != OP_TEXT_RSP:
                raise ConnectionError("expected text response, got 0x%02x" % pdu.opcode)
            out.setdefault("_raw", b"")
            out["_raw"] += pdu.data
            if pdu.flags & 0x40:  # continue
                ttt = pdu.u32(20)
                data = b""
                continue
            break
        raw = out.pop("_raw")
        items = [i.decode() for i in raw.split(b"\0") if i]
        return items

    def tmf(self, function, ref_itt=0xFFFFFFFF, lun=0, ref_cmdsn=0):
        itt = self.next_itt()
        bhs = self._cmd_bhs(OP_TMF, itt, immediate=True)
        bhs[1] = 0x80 | function
        bhs[8:16] = struct.pack(">Q", encode_lun(lun))
        bhs[20:24] = struct.pack(">I", ref_itt)
        bhs[32:36] = struct.pack(">I", ref_cmdsn)
        self.send_pdu(bytes(bhs))
        while True:
            pdu = self.recv_pdu()
            if pdu.opcode == OP_TMF_RSP and pdu.itt == itt:
                return pdu.bhs[2]

    def logout(self, reason=0, cid=None, full=False):
        """Logout with reason 0/1/2 for cid (this connection's by default). Returns the
        response code, or with full=True the Logout Response PDU."""
        itt = self.next_itt()
        bhs = self._cmd_bhs(OP_LOGOUT, itt, immediate=True)
        bhs[1] = 0x80 | reason
        if reason:
            bhs[20:22] = struct.pack(">H", self.cid if cid is None else cid)
        self.send_pdu(bytes(bhs))
        while True:
            pdu = self.recv_pdu()
            if pdu.opcode == OP_LOGOUT_RSP:
                return pdu if full else pdu.bhs[2]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _int_key(params, key, default):
    """A numeric key's value; RFC defaults when absent, Irrelevant or NotUnderstood."""
    try:
        return int(params.get(key, default))
    except ValueError:
        return default


def encode_lun(lun):
    if lun < 256:
        return lun << 48
    return ((0x40 | (lun >> 8)) << 56) | ((lun & 0xFF) << 48)
