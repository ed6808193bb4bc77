# SPDX-License-Identifier: GPL-2.0-only
"""The Linux kernel initiator (open-iscsi in a qemu guest, see guest.py and guest.sh) against
utgtd on the host's loopback: discovery, login, mkfs/mount/fsck/read-back, fio verify, logout;
dm-multipath over two portals; recovery when the connection drops in the middle of I/O.
UTGT_VM_TARGET=tgt runs the same scenarios against tgtd, the reference."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)
import guest  # noqa: E402
from conftest import Daemon, free_port, setup_target, workdir  # noqa: E402,F401

IQN = "iqn.2026-11.org.utgt:vm"
LUN_BYTES = 256 << 20
FIO_SECS = int(os.environ.get("UTGT_VM_FIO_SECS", "10"))
KIND = os.environ.get("UTGT_VM_TARGET", "utgt")
LOGDIR = os.environ.get("UTGT_VM_LOGDIR")
TIMEOUT = 480  # one guest run; ~30-45 s on an idle machine, 2-3 times that on a busy one


class UtgtTarget:
    """utgtd with one 256 MiB LUN, on one or more loopback portals."""

    def __init__(self, workdir, nportals, blocksize=None):
        ports = [free_port() for _ in range(nportals)]
        self.portals = ["127.0.0.1:%d" % p for p in ports]
        self.d = Daemon(workdir, portals=self.portals).start()
        setup_target(self.d, workdir, iqn=IQN, size=LUN_BYTES, blocksize=blocksize)

    def adm(self, *args, check=True):
        return self.d.adm(*args, check=check)

    def log(self):
        return self.d.read_log()

    def stop(self):
        rc = self.d.stop()
        assert rc == 0, "utgtd exited with %s:\n%s" % (rc, self.log())
        assert "AddressSanitizer" not in self.log() and "runtime error" not in self.log()


class TgtTarget:
    """tgtd, the reference, configured the same way."""

    def __init__(self, workdir, nportals, blocksize=None):
        ports = [free_port() for _ in range(nportals)]
        self.portals = ["127.0.0.1:%d" % p for p in ports]
        self.cport = str(100 + os.getpid() % 9000)
        self.log_path = os.path.join(workdir, "tgtd.log")
        argv = ["tgtd", "-f", "-C", self.cport, "--iscsi", "portal=" + self.portals[0]]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 10
        while self.adm("--mode", "sys", "--op", "show", check=False).returncode != 0:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.log()
            time.sleep(0.1)
        for p in self.portals[1:]:
            self.adm("--lld", "iscsi", "--mode", "portal", "--op", "new", "--param", "portal=" + p)
        path = os.path.join(workdir, "lun.img")
        with open(path, "wb") as f:
            f.truncate(LUN_BYTES)
        tgt = ["--lld", "iscsi", "--mode", "target", "--tid", "1"]
        self.adm(*tgt, "--op", "new", "--targetname", IQN)
        self.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
                 "--lun", "1", "--backing-store", path,
                 *(["--blocksize", str(blocksize)] if blocksize else []))
        self.adm(*tgt, "--op", "bind", "-I", "ALL")
        for key in ("HeaderDigest", "DataDigest"):  # tgt offers None only by default
            self.adm(*tgt, "--op", "update", "--name", key, "--value", "CRC32C,None")

    def adm(self, *args, check=True):
        r = subprocess.run(["tgtadm", "-C", self.cport] + list(args), capture_output=True,
                           text=True, timeout=30)
        assert not check or r.returncode == 0, "tgtadm %s: %s%s" % (args, r.stdout, r.stderr)
        return r

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGKILL)  # tgtd ignores SIGTERM
        self.proc.wait()
        self.logf.close()


def connections(t):
    """(sid, cid) of every connection of target 1, from the tgt-layout show."""
    out = t.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    conns, sid = [], None
    for line in out.splitlines():
        m = re.match(r"\s+I_T nexus: (\d+)", line)
        if m:
            sid = m.group(1)
        m = re.match(r"\s+Connection: (\d+)", line)
        if m and sid is not None:
            conns.append((sid, m.group(1)))
    return conns


def host_sockets(port):
    r = subprocess.run(["ss", "-Htn", "state", "established", "dst", "127.0.0.1",
                        "dport", "=", ":%d" % port], capture_output=True, text=True, timeout=10)
    return [l for l in r.stdout.splitlines() if l.strip()]


def kill_host_sockets(port):
    """Destroys qemu's (the guest's) TCP connections to PORT with ss -K; the target sees a reset."""
    before = len(host_sockets(port))
    subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", ":%d" % port],
                   capture_output=True, timeout=10)
    return before, len(host_sockets(port))


def save(name, res):
    if not LOGDIR:
        return
    os.makedirs(LOGDIR, exist_ok=True)
    with open(os.path.join(LOGDIR, name + ".console.log"), "w") as f:
        f.write(res.console)
    with open(os.path.join(LOGDIR, name + ".result.txt"), "w") as f:
        f.write(res.summary() + "\n" + "\n".join("dmesg: " + l for l in res.dmesg) + "\n")


def check(res, t, name):
    save(name, res)
    if LOGDIR:
        with open(os.path.join(LOGDIR, name + ".target.log"), "w") as f:
            f.write(t.log())
    report = "\n".join([res.summary(), "--- target log (tail) ---", t.log()[-3000:],
                        "--- guest dmesg (tail) ---"] + res.dmesg[-60:] +
                       ["--- console (tail) ---", res.console[-3000:]])
    print(res.summary())
    assert res.done is not None, "guest did not finish:\n" + report
    assert not res.failed(), "guest steps failed:\n" + report
    assert res.done == "pass", report


@pytest.fixture(scope="module")
def gdir():
    why = guest.qemu_unusable()
    if why:
        pytest.skip(why)
    return guest.build()


@pytest.fixture
def make_target(workdir):
    made = []

    def make(nportals=1, blocksize=None):
        t = (TgtTarget if KIND == "tgt" else UtgtTarget)(workdir, nportals, blocksize)
        made.append(t)
        return t
    yield make
    for t in made:
        t.stop()


def run(scenario, t, workdir, gdir, fio_secs=FIO_SECS, on_event=None):
    return guest.run(scenario, IQN, t.portals, fio_secs, LUN_BYTES, on_event=on_event,
                     timeout=TIMEOUT, workdir=workdir, gdir=gdir)


def test_basic(gdir, make_target, workdir):
    t = make_target()
    res = run("basic", t, workdir, gdir)
    check(res, t, "basic")
    for name in ("discovery", "login", "mkfs", "write", "fsck", "read-back", "fio-verify",
                 "logout"):
        assert res.step(name) and res.step(name)[1], name


def test_digests_4k(gdir, make_target, workdir):
    """The same with HeaderDigest and DataDigest CRC32C (the kernel's crc32c), on a LUN with
    4096-byte logical blocks."""
    t = make_target(blocksize=4096)
    res = run("digest", t, workdir, gdir)
    check(res, t, "digest")
    assert res.step("digests-on")[1] and res.step("fio-verify")[1]
    assert any("lbs=4096" in i for i in res.info), res.info


def test_multipath(gdir, make_target, workdir):
    t = make_target(2)
    res = run("multipath", t, workdir, gdir)
    check(res, t, "multipath")
    assert res.step("same-wwid")[1] and res.step("map")[1] and res.step("fio-verify")[1]


def test_recovery(gdir, make_target, workdir):
    """Twice during fio, the connection breaks: first the host destroys the guest's TCP
    connection (ss -K on qemu's socket; utgtd sees a reset), then utgtd drops the new one
    itself (--mode conn --op delete). The initiator must log in again each time and fio's
    verify pass."""
    t = make_target()
    port = int(t.portals[0].rsplit(":", 1)[1])
    drops = {}

    def on_event(name, res):
        if name == "drop-socket":
            drops["conns-1"] = connections(t)
            drops["ss"] = kill_host_sockets(port)
        elif name == "drop-by-target":
            drops["conns-2"] = conns = connections(t)
            drops["adm"] = [t.adm("--lld", "iscsi", "--mode", "conn", "--op", "delete",
                                  "--tid", "1", "--sid", sid, "--cid", cid, check=False)
                            for sid, cid in conns]

    res = run("recovery", t, workdir, gdir, max(FIO_SECS, 8), on_event)
    res.info.append("host: %s" % {k: v for k, v in drops.items() if k != "adm"})
    check(res, t, "recovery")
    assert drops["ss"][0] >= 1, "no guest connection to drop: %s" % drops
    assert drops["conns-2"] and drops["conns-2"] != drops["conns-1"], (
        "no new connection after ss -K: %s" % drops)
    for r in drops["adm"]:
        assert r.returncode == 0, "conn delete failed: %s %s" % (r.stdout, r.stderr)
