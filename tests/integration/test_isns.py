# SPDX-License-Identifier: GPL-2.0-only
"""iSNS (RFC 4171): utgtd registers its entity, portals (with portal groups) and targets with
Debian's isnsd, follows target add/delete, logs state change notifications, re-registers after
the server restarts and deregisters on shutdown (checked with isnsadm); a fake server in Python
sends malformed PDUs and the client must survive, reconnect and answer ESI."""
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import IQN, Daemon, free_port, setup_target

IQN2 = "iqn.2026-11.org.utgt:isns2"
INI = "iqn.2026-11.org.utgt:isns-initiator"

need_isnsd = pytest.mark.skipif(not (shutil.which("isnsd") or os.path.exists("/usr/sbin/isnsd")),
                                reason="isnsd not installed (apt package open-isns-server)")


def tool(name):
    return shutil.which(name) or os.path.join("/usr/sbin", name)


class Isnsd:
    """isnsd in the foreground on 127.0.0.1:port with its database in a temp dir."""

    def __init__(self, workdir, period=60):
        self.dir = os.path.join(workdir, "isns")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "isnsd.conf")
        self.adm_conf = os.path.join(self.dir, "isnsadm.conf")
        with open(self.conf, "w") as f:
            f.write("ServerAddress = 127.0.0.1:%d\nBindAddress = 127.0.0.1:%d\n"
                    "Database = %s/db\nPIDFile = %s/isnsd.pid\nControlSocket = %s/control\n"
                    "RegistrationPeriod = %ds\nDefaultDiscoveryDomain = 1\nSLPRegister = 0\n"
                    "Security = 0\n" % (self.port, self.port, self.dir, self.dir, self.dir, period))
        with open(self.adm_conf, "w") as f:
            f.write("ServerAddress = 127.0.0.1:%d\nSourceName = %s\nSecurity = 0\n"
                    % (self.port, INI))
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "isnsd.log"), "ab")
        self.proc = subprocess.Popen([tool("isnsd"), "-f", "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("isnsd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()

    def adm(self, *args):
        r = subprocess.run([tool("isnsadm"), "-c", self.adm_conf] + list(args),
                           capture_output=True, text=True, timeout=30)
        return r.stdout + r.stderr

    def names(self):
        return self.adm("--query", "iscsi-name")


def wait_for(fn, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def stop_clean(d):
    rc = d.stop()
    log = d.read_log()
    assert rc == 0, "utgtd exited with %s:\n%s" % (rc, log)
    assert "AddressSanitizer" not in log and "runtime error" not in log, log


def isns_on(d, port):
    d.adm("--mode", "sys", "--op", "update", "--name", "iSNSServerIP", "--value", "127.0.0.1")
    d.adm("--mode", "sys", "--op", "update", "--name", "iSNSServerPort", "--value", str(port))
    d.adm("--mode", "sys", "--op", "update", "--name", "iSNS", "--value", "On")


@contextlib.contextmanager
def isns_utgtd(workdir, port, server=None):
    """utgtd with target IQN and iSNS on toward 127.0.0.1:port, registered with server (an
    Isnsd) when one is given; stopped, and checked clean, at the end."""
    d = Daemon(workdir).start()
    try:
        setup_target(d, workdir)
        isns_on(d, port)
        if server:
            wait_for(lambda: IQN in server.names(), what="registration")
        yield d
    finally:
        stop_clean(d)


@pytest.fixture
def isnsd(workdir):
    s = Isnsd(workdir).start()
    yield s
    s.stop()


@need_isnsd
def test_isns_register_follow_targets_and_deregister(isnsd, workdir):
    with isns_utgtd(workdir, isnsd.port) as d:
        out = wait_for(lambda: IQN in isnsd.names() and isnsd.names(), what="registration")
        assert "Target" in out
        show = d.adm("--mode", "sys", "--op", "show").stdout
        assert "iSNS=On" in show and "iSNSServerIP=127.0.0.1" in show, show
        assert "iSNSServerPort=%d" % isnsd.port in show, show
        portals = isnsd.adm("--query", "portal")
        assert "Portal TCP/UDP port = %d/tcp" % d.port in portals, portals
        assert "127.0.0.1" in portals
        assert "SCN port" in portals
        pg = isnsd.adm("--query", "pg-name=" + IQN)
        assert "Portal group tag = 1" in pg, pg
        assert "Portal group port = %d/tcp" % d.port in pg, pg

        d.adm("--mode", "target", "--op", "new", "--tid", "2", "--targetname", IQN2)
        wait_for(lambda: IQN2 in isnsd.names(), what="second target")
        d.adm("--mode", "target", "--op", "delete", "--tid", "1")
        wait_for(lambda: IQN not in isnsd.names() and IQN2 in isnsd.names(),
                 what="deleted target to go")

        # an initiator joining the default discovery domain: the target gets an SCN
        isnsd.adm("--register", "initiator=" + INI)
        wait_for(lambda: "state change notification for %s" % IQN2 in d.read_log(),
                 what="SCN in the log")
    assert "deregistering entity" in d.read_log()
    names = isnsd.names()
    assert IQN2 not in names, names


@need_isnsd
def test_isns_reregisters_after_server_restart(isnsd, workdir):
    with isns_utgtd(workdir, isnsd.port, isnsd) as d:
        isnsd.stop()
        shutil.rmtree(os.path.join(isnsd.dir, "db"))
        os.makedirs(os.path.join(isnsd.dir, "db"))
        isnsd.start()
        wait_for(lambda: IQN in isnsd.names(), timeout=30, what="re-registration")
        assert "reconnecting" in d.read_log()


@need_isnsd
def test_isns_refresh_keeps_registration(workdir):
    """With a 4 s registration period, the entity must survive three periods."""
    s = Isnsd(workdir, period=4).start()
    try:
        with isns_utgtd(workdir, s.port, s) as d:
            wait_for(lambda: "period 4 s" in d.read_log(), what="the server's period")
            time.sleep(12)
            assert IQN in s.names()
            assert "reconnecting" not in d.read_log()
    finally:
        s.stop()


def test_isns_parameters_validated(workdir):
    d = Daemon(workdir).start()
    try:
        def upd(name, value):
            return d.adm("--mode", "sys", "--op", "update", "--name", name, "--value", value,
                         check=False)
        assert upd("iSNS", "On").returncode != 0           # no server address yet
        assert upd("iSNSServerIP", "not-an-address").returncode != 0
        assert upd("iSNSServerPort", "70000").returncode != 0
        assert upd("iSNSAccessControl", "On").returncode != 0   # not implemented: refused
        assert upd("iSNSAccessControl", "Off").returncode == 0
        assert upd("iSNSServerIP", "::1").returncode == 0
        assert upd("iSNS", "Maybe").returncode != 0
        assert upd("iSNS", "Off").returncode == 0
    finally:
        stop_clean(d)


# ---- fake server: hostile replies ----

def pdu(func, payload, flags=0x4c00, xid=1, version=1, length=None):
    return struct.pack(">HHHHHH", version, func, len(payload) if length is None else length,
                       flags, xid, 0) + payload


def tlv(tag, value):
    value += b"\0" * (-len(value) % 4)
    return struct.pack(">II", tag, len(value)) + value


def read_pdu(conn):
    hdr = b""
    while len(hdr) < 12:
        chunk = conn.recv(12 - len(hdr))
        if not chunk:
            return None, None
        hdr += chunk
    version, func, length, flags, xid, seq = struct.unpack(">HHHHHH", hdr)
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None, None
        body += chunk
    return (func, xid), body


def closed_by_peer(conn, timeout=5):
    conn.settimeout(timeout)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return True
    except (socket.timeout, ConnectionResetError):
        return False


OK = struct.pack(">I", 0)
BAD_REPLIES = [
    pdu(0x8001, OK, version=2),                                    # wrong version
    pdu(0x8001, OK + b"\0\0", length=6),                           # unaligned length
    pdu(0x8001, OK + struct.pack(">II", 6, 0x7ffffff0)),           # TLV overruns the PDU
    pdu(0x8001, b""),                                              # no status word
    pdu(0x0008, tlv(35, b"\0\0\0\x08")),                           # SCN without a name
    pdu(0x0008, struct.pack(">II", 32, 8) + b"abc"),               # truncated SCN TLV
]


def test_isns_hostile_server_replies(workdir):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(20)
    with isns_utgtd(workdir, srv.getsockname()[1]) as d:
        try:
            for i, bad in enumerate(BAD_REPLIES):
                conn, _ = srv.accept()
                conn.settimeout(10)
                (func, xid), body = read_pdu(conn)
                assert func == 0x0001, "expected DevAttrReg, got 0x%04x" % func
                assert IQN.encode() in body
                # a good answer first (resets the client's backoff), then the hostile one
                conn.sendall(pdu(0x8001, OK + tlv(6, struct.pack(">I", 60)), xid=xid))
                conn.sendall(bad)
                assert closed_by_peer(conn), "client kept the link after bad reply %d" % i
                conn.close()
                assert d.adm("--mode", "sys", "--op", "show", check=False).returncode == 0
            # a refused registration (status 3, invalid registration) is retried on a new link
            conn, _ = srv.accept()
            conn.settimeout(10)
            (func, xid), body = read_pdu(conn)
            conn.sendall(pdu(0x8001, struct.pack(">I", 3), xid=xid))
            assert closed_by_peer(conn), "client kept the link after a refusal"
            conn.close()
            # a server that stops answering is dropped after 10 s
            conn, _ = srv.accept()
            (func, xid), body = read_pdu(conn)
            assert func == 0x0001
            t0 = time.monotonic()
            assert closed_by_peer(conn, timeout=20), "client waited forever for a reply"
            assert 8 < time.monotonic() - t0 < 20
            conn.close()
            # ESI is answered with the same attributes (RFC 4171 §5.6.5.13)
            conn, _ = srv.accept()
            conn.settimeout(10)
            (func, xid), body = read_pdu(conn)
            conn.sendall(pdu(0x8001, OK, xid=xid))
            esi = tlv(1, b"utgtd:x") + tlv(16, b"\0" * 10 + b"\xff\xff\x7f\0\0\x01")
            conn.sendall(pdu(0x000d, esi, flags=0x4c00, xid=77))
            while True:
                (func, xid), body = read_pdu(conn)
                assert func is not None, "no ESI response"
                if func == 0x800d:
                    break
            assert xid == 77
            assert body == OK + esi
            conn.close()
        finally:
            srv.close()
    assert "malformed PDU from the server" in d.read_log()
    assert "registration refused" in d.read_log()
    assert "server stopped answering" in d.read_log()


@need_isnsd
def test_isns_from_targets_conf(isnsd, workdir):
    conf = os.path.join(workdir, "targets.conf")
    with open(conf, "w") as f:
        f.write("iSNSServerIP 127.0.0.1\niSNS On\niSNSServerPort %d\niSNSAccessControl Off\n"
                "<target %s>\n</target>\n" % (isnsd.port, IQN))
    d = Daemon(workdir, extra=["--config", conf]).start()
    try:
        wait_for(lambda: IQN in isnsd.names(), what="registration from targets.conf")
    finally:
        stop_clean(d)
    assert IQN not in isnsd.names()
