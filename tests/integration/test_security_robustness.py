# SPDX-License-Identifier: GPL-2.0-only
"""Black-box robustness (loopback, bounded): thousands of malformed PDUs and abrupt disconnects
(mid-login, mid-command, mid-Data-Out) must leave utgtd serving, with its descriptor count and
RSS back to baseline; slow-loris logins are dropped by the login timeout while others log in."""
import os
import random
import socket
import struct
import time

import pytest

from conftest import IQN
from iscsi_client import Initiator, encode_keys, pad4

LOGIN_TIMEOUT_S = 15  # ISCSI_LOGIN_TIMEOUT_MS


def fd_count(d):
    return len(os.listdir("/proc/%d/fd" % d.proc.pid))


def rss_kib(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_fds(d, want, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = fd_count(d)
        if n <= want:
            return n
        time.sleep(0.1)
    return fd_count(d)


def io_check(d):
    """A normal login, a write and a read-back."""
    i = Initiator("127.0.0.1", d.port)
    i.login(IQN)
    for _ in range(3):  # unit attentions (power on, ...) go to the first commands
        if i.scsi(bytes(6), lun=1).status == 0:
            break
    data = os.urandom(4096)
    r = i.scsi(bytes([0x2A, 0, 0, 0, 0, 16, 0, 0, 8, 0]), lun=1, data_out=data)
    assert r.status == 0
    r = i.scsi(bytes([0x28, 0, 0, 0, 0, 16, 0, 0, 8, 0]), lun=1, read_len=4096)
    assert r.status == 0 and r.data == data
    i.logout()
    i.close()


def baseline(d):
    for _ in range(3):  # warm the pools up
        io_check(d)
    time.sleep(0.3)
    return fd_count(d), rss_kib(d)


def sanitized(d):
    with open("/proc/%d/maps" % d.proc.pid) as f:
        return "libasan" in f.read()


def check_back_to_baseline(d, fds0, rss0):
    io_check(d)
    fds = wait_fds(d, fds0)
    assert fds <= fds0, "descriptors leaked: %d -> %d" % (fds0, fds)
    rss = rss_kib(d)
    # allocator caches keep some pages: allow a bounded slack, never growth per connection;
    # under ASan freed memory sits in its quarantine (256 MiB), and LeakSanitizer checks leaks
    slack = (320 if sanitized(d) else 32) * 1024
    assert rss <= rss0 + slack, "RSS grew from %d KiB to %d KiB" % (rss0, rss)
    assert d.proc.poll() is None


def connect(d, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def bhs(op, flags=0, dsl=0, ahs_words=0, lun=0, itt=1, f20=0, f24=0, f28=0, tail=b""):
    h = bytearray(48)
    h[0], h[1], h[4] = op, flags, ahs_words
    h[5:8] = struct.pack(">I", dsl)[1:]
    h[8:16] = struct.pack(">Q", lun)
    h[16:20] = struct.pack(">I", itt)
    h[20:24] = struct.pack(">I", f20)
    h[24:28] = struct.pack(">I", f24)
    h[28:32] = struct.pack(">I", f28)
    h[32:32 + len(tail)] = tail
    return bytes(h)


def login_pdu(keys, flags=0x87, isid=b"\x80\x12\x34\x56\x78\x9a"):
    data = encode_keys(keys)
    h = bytearray(bhs(0x43, flags, len(data)))
    h[8:14] = isid
    return bytes(h) + data + b"\0" * pad4(len(data))


def malformed(rng):
    """One hostile byte string: random, truncated or lying headers, bad keys."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 600))
    if kind == 1:  # bad opcode
        return bhs(rng.choice([0x07, 0x1C, 0x3F, 0x20, 0x25]), 0x80)
    if kind == 2:  # data segment length lies (larger than what follows)
        return bhs(0x43, 0x87, rng.randrange(9000, 1 << 24)) + rng.randbytes(100)
    if kind == 3:  # AHS length with a login
        return bhs(0x43, 0x87, 0, rng.randrange(1, 256)) + rng.randbytes(rng.randrange(0, 1100))
    if kind == 4:  # malformed keys
        junk = [b"=", b"a" * 70 + b"=1", b"noequals", b"InitiatorName=" + b"x" * 300, b"\xff\xfe=\x00"]
        data = b"\0".join(rng.sample(junk, 3)) + b"\0"
        h = bytearray(bhs(0x43, 0x87, len(data)))
        return bytes(h) + data + b"\0" * pad4(len(data))
    if kind == 5:  # SCSI command before login
        return bhs(0x01, 0xC0, 0, lun=1 << 48, f20=4096, tail=bytes([0x28] + [0] * 15))
    if kind == 6:  # login mutated byte-wise
        p = bytearray(login_pdu([("InitiatorName", "iqn.2026-11.org.utgt:fuzz"), ("TargetName", IQN),
                                 ("AuthMethod", "None")]))
        for _ in range(rng.randrange(1, 8)):
            p[rng.randrange(len(p))] = rng.randrange(256)
        return bytes(p)
    # a valid-looking login with C=1 forever (text accumulation)
    return b"".join(login_pdu([("X-pad", "y" * 200)], flags=0x47) for _ in range(rng.randrange(1, 20)))


def ffp_malformed(rng, itt, cmdsn):
    """A hostile PDU inside a logged-in session."""
    kind = rng.randrange(7)
    lun = rng.choice([0, 1, 5, 0xFFFF]) << 48
    if kind == 0:  # Data-Out for nothing, bad offsets
        return bhs(0x05, 0x80, 512, lun=lun, itt=rng.randrange(1 << 32), f20=rng.randrange(1 << 32),
                   tail=struct.pack(">III", 0, rng.randrange(1 << 32), rng.randrange(1 << 32))) + bytes(512)
    if kind == 1:  # write whose immediate data exceeds EDTL
        return bhs(0x01, 0xA0, 1024, lun=lun, itt=itt, f20=512, f24=cmdsn,
                   tail=bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0] + [0] * 6)) + bytes(1024)
    if kind == 2:  # extended CDB AHS with a lying length
        ahs = struct.pack(">HBB", rng.randrange(65536), 1, 0) + rng.randbytes(12)
        return bhs(0x01, 0xC0, 0, 4, lun, itt, 512, cmdsn, 0, bytes([0x7F] + [0] * 15)) + ahs
    if kind == 3:  # random CDB
        return bhs(0x01, rng.choice([0x80, 0xC0, 0xA0, 0xE0]), 0, lun=lun, itt=itt,
                   f20=rng.randrange(1 << 20), f24=cmdsn, tail=rng.randbytes(16))
    if kind == 4:  # text with garbage
        data = rng.randbytes(rng.randrange(1, 200))
        return bhs(0x44, 0x80, len(data), itt=itt, f20=0xFFFFFFFF, f24=cmdsn) + data + b"\0" * pad4(len(data))
    if kind == 5:  # TMF on random tags
        return bhs(0x42, 0x80 | rng.randrange(1, 16), 0, lun=lun, itt=itt, f20=rng.randrange(1 << 32), f24=cmdsn)
    return rng.randbytes(48)


def test_malformed_pdus(target):
    d = target
    fds0, rss0 = baseline(d)
    rng = random.Random(7143)
    deadline = time.monotonic() + 60
    sent = 0
    # before login: one hostile stream per connection, many connections
    while sent < 2000 and time.monotonic() < deadline:
        s = connect(d)
        try:
            s.sendall(malformed(rng))
            s.settimeout(0.01)
            try:
                s.recv(4096)
            except (socket.timeout, ConnectionError):
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        (rst_close if sent % 3 == 0 else socket.socket.close)(s)
        sent += 1
    assert sent >= 1000
    print("malformed streams sent:", sent)
    # after login: hostile PDUs inside sessions
    pdus = 0
    for sess in range(20):
        i = Initiator("127.0.0.1", d.port)
        i.login(IQN)
        try:
            for k in range(100):
                i.send_raw(ffp_malformed(rng, 0x1000 + k, i.cmdsn + k))
                pdus += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
        i.sock.settimeout(0.2)
        try:
            while i.sock.recv(65536):
                pass
        except (socket.timeout, ConnectionError, OSError):
            pass
        i.close()
    assert pdus >= 500
    print("malformed PDUs in sessions:", pdus)
    check_back_to_baseline(d, fds0, rss0)
    log = d.read_log()
    assert "AddressSanitizer" not in log and "runtime error" not in log


def test_abrupt_disconnects(target):
    d = target
    fds0, rss0 = baseline(d)
    login = login_pdu([("InitiatorName", "iqn.2026-11.org.utgt:cut"), ("TargetName", IQN),
                       ("SessionType", "Normal"), ("ImmediateData", "No"), ("InitialR2T", "Yes"),
                       ("MaxRecvDataSegmentLength", "65536")])
    for n in range(300):
        # mid-login: half a login PDU
        s = connect(d)
        s.sendall(login[:rng_cut(n, len(login))])
        (rst_close if n % 2 else socket.socket.close)(s)
    for n in range(150):
        i = Initiator("127.0.0.1", d.port, initiator="iqn.2026-11.org.utgt:cut%d" % (n % 7))
        i.login(IQN, keys=[("ImmediateData", "No"), ("InitialR2T", "Yes"),
                           ("MaxRecvDataSegmentLength", "65536"), ("MaxBurstLength", "262144")])
        itt = i.next_itt()
        if n % 3 == 0:
            # mid-command: a command header without its CDB bytes
            i.send_raw(bhs(0x01, 0xC0, 0, lun=1 << 48, itt=itt, f20=4096, f24=i.cmdsn)[:30])
        else:
            # mid-Data-Out: a 64 KiB write, R2T received, half the Data-Out sent
            i.send_raw(bhs(0x01, 0xA0, 0, lun=1 << 48, itt=itt, f20=65536, f24=i.cmdsn,
                           tail=bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 128, 0] + [0] * 6)))
            r2t = i.recv_pdu()
            assert r2t.opcode == 0x31
            ttt = r2t.u32(20)
            i.send_raw(bhs(0x05, 0x00, 8192, lun=1 << 48, itt=itt, f20=ttt,
                           tail=struct.pack(">III", 0, 0, 0)) + bytes(4096))
        (rst_close if n % 2 else socket.socket.close)(i.sock)
    check_back_to_baseline(d, fds0, rss0)


def rng_cut(n, length):
    return 1 + (n * 37) % (length - 1)


def test_slowloris_login_times_out(target):
    d = target
    fds0, _ = baseline(d)
    slow = []
    for n in range(16):
        s = connect(d)
        if n % 2:
            s.sendall(login_pdu([("InitiatorName", "iqn.2026-11.org.utgt:slow")])[:20])
        slow.append(s)
    start = time.monotonic()
    # others are not starved meanwhile
    io_check(d)
    closed = set()
    while len(closed) < len(slow) and time.monotonic() - start < LOGIN_TIMEOUT_S + 10:
        for n, s in enumerate(slow):
            if n in closed:
                continue
            try:
                s.send(b"\0")  # one byte now and then: never a whole PDU
                s.settimeout(0.05)
                if s.recv(1) == b"":
                    closed.add(n)
            except socket.timeout:
                pass
            except OSError:
                closed.add(n)
        time.sleep(0.5)
    elapsed = time.monotonic() - start
    for s in slow:
        s.close()
    assert len(closed) == len(slow), "%d of %d slow logins still open after %.1fs" % (
        len(slow) - len(closed), len(slow), elapsed)
    assert elapsed >= LOGIN_TIMEOUT_S - 2
    assert wait_fds(d, fds0) <= fds0
