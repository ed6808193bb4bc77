# SPDX-License-Identifier: GPL-2.0-only
"""CHAP for the test initiator (RFC 7143 §12.1.3, RFC 1994): one-way and mutual logins with
CHAP_A 5 (MD5), 6 (SHA-1), 7 (SHA-256) and 8 (SHA3-256), hex or base64 values, and hooks to
send wrong, missing or reflected values. Builds on iscsi_client.Initiator."""
import base64
import hashlib
import os
import struct

from iscsi_client import OP_LOGIN, OP_LOGIN_RSP, Initiator, LoginError, decode_keys, encode_keys

ALGS = {5: "md5", 6: "sha1", 7: "sha256", 8: "sha3_256"}


def chap_digest(alg, ident, secret, challenge):
    h = hashlib.new(ALGS[alg])
    h.update(bytes([ident]) + secret + challenge)
    return h.digest()


def chap_decode(value):
    if value[:2] in ("0x", "0X"):
        v = value[2:]
        return bytes.fromhex(("0" + v) if len(v) % 2 else v)
    if value[:2] in ("0b", "0B"):
        return base64.b64decode(value[2:], validate=True)
    raise ValueError("bad CHAP binary value %r" % value)


def chap_encode(data, b64=False):
    return "0b" + base64.b64encode(data).decode() if b64 else "0x" + data.hex()


class ChapInitiator(Initiator):
    """Initiator whose login() can run CHAP. Failures raise LoginError."""

    def exchange(self, csg, nsg, transit, keys):
        """One Login Request/Response; returns (flags, keys)."""
        itt = self.next_itt()
        bhs = bytearray(48)
        bhs[0] = 0x40 | OP_LOGIN
        bhs[1] = (0x80 if transit else 0) | (csg << 2) | nsg
        bhs[8:14] = self.isid
        bhs[14:16] = struct.pack(">H", self.tsih)
        bhs[16:20] = struct.pack(">I", itt)
        bhs[24:28] = struct.pack(">I", self.cmdsn)
        bhs[28:32] = struct.pack(">I", self.expstatsn)
        self.send_pdu(bytes(bhs), encode_keys(keys))
        rsp = self.recv_pdu()
        if rsp.opcode != OP_LOGIN_RSP:
            raise ConnectionError("expected login response, got 0x%02x" % rsp.opcode)
        keys_back = decode_keys(rsp.data)
        if rsp.bhs[36] != 0:
            raise LoginError(rsp.bhs[36], rsp.bhs[37], keys_back)
        self.expstatsn = (rsp.u32(24) + 1) & 0xFFFFFFFF
        self.maxcmdsn = rsp.u32(32)
        if rsp.flags & 0x80 and (rsp.flags & 3) == 3:
            self.tsih = struct.unpack(">H", rsp.bhs[14:16])[0]
        return rsp.flags, keys_back

    def chap_login(self, target=None, user="", secret=b"", algs="5", mutual=None, discovery=False,
                   b64=False, tamper=None, reflect=False):
        """Full login with CHAP. mutual=(user, secret) checks the target's answer. tamper(keys)
        may change the CHAP_N/CHAP_R list before it is sent. Returns the negotiated keys."""
        sec = [("InitiatorName", self.initiator),
               ("SessionType", "Discovery" if discovery else "Normal")]
        if target and not discovery:
            sec.append(("TargetName", target))
        sec.append(("AuthMethod", "CHAP,None"))
        _, got = self.exchange(0, 1, False, sec)
        assert got.get("AuthMethod") == "CHAP", got
        _, got = self.exchange(0, 1, False, [("CHAP_A", algs)])
        self.chap_alg = int(got["CHAP_A"])
        ident = int(got["CHAP_I"])
        challenge = chap_decode(got["CHAP_C"])
        self.target_challenge = challenge
        resp = chap_digest(self.chap_alg, ident, secret, challenge)
        keys = [("CHAP_N", user), ("CHAP_R", chap_encode(resp, b64))]
        my_id, my_chal = 0, b""
        if mutual or reflect:
            my_id = os.urandom(1)[0]
            my_chal = challenge if reflect else os.urandom(len(challenge))
            keys += [("CHAP_I", str(my_id)), ("CHAP_C", chap_encode(my_chal, b64))]
        if tamper:
            keys = tamper(keys)
        flags, got = self.exchange(0, 1, True, keys)
        if mutual:
            want = chap_digest(self.chap_alg, my_id, mutual[1], my_chal)
            assert got.get("CHAP_N") == mutual[0], got
            if chap_decode(got["CHAP_R"]) != want:
                raise AssertionError("target's mutual CHAP response is wrong")
        negotiated = dict(got)
        if not flags & 0x80:
            raise AssertionError("target did not leave the security stage: %r" % got)
        op = [("ImmediateData", "Yes"), ("InitialR2T", "No"),
              ("MaxRecvDataSegmentLength", "262144")]
        if discovery:
            op = [("MaxRecvDataSegmentLength", "262144")]
        _, got = self.exchange(1, 3, True, op)
        negotiated.update(got)
        self.params = negotiated
        return negotiated
