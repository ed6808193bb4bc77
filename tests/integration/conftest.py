# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for integration tests: a real utgtd on a free loopback port with its own control
socket, configured with utgtadm, and helpers to run initiators against it."""
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("UTGT_BUILDDIR", os.path.join(ROOT, "build"))
UTGTD = os.path.join(BUILD, "src", "daemon", "utgtd")
UTGTADM = os.path.join(BUILD, "tools", "utgtadm", "utgtadm")
IQN = "iqn.2026-11.org.utgt:test"


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have(tool):
    return shutil.which(tool) is not None


class Daemon:
    """A utgtd process in the foreground with its own control socket."""

    def __init__(self, workdir, portals=None, threads=2, extra=None):
        self.workdir = workdir
        self.port = free_port()
        self.portals = portals or ["127.0.0.1:%d" % self.port]
        self.sock = os.path.join(workdir, "utgtd.sock")
        self.log_path = os.path.join(workdir, "utgtd.log")
        self.threads = threads
        self.extra = extra or []
        self.proc = None

    def argv(self):
        argv = [UTGTD, "-f", "--control-socket", self.sock, "--threads", str(self.threads),
                "--state-dir", os.path.join(self.workdir, "state")]
        for p in self.portals:
            argv += ["--portal", p]
        # UTGTD_TEST_ARGS="--seccomp=trap" (or "--user nobody") runs every test that way
        return argv + os.environ.get("UTGTD_TEST_ARGS", "").split() + self.extra

    def start(self, timeout=10):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("utgtd exited with %d:\n%s" % (self.proc.returncode, self.read_log()))
            if self.adm("--mode", "sys", "--op", "show", check=False).returncode == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("utgtd did not become ready:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def adm(self, *args, check=True, json_out=False):
        argv = [UTGTADM, "--control-socket", self.sock] + list(args)
        if json_out:
            argv.append("--json")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("utgtadm %s failed (%d): %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("utgtd did not stop on %s:\n%s" % (sig, self.read_log()))
        self.log.close()
        return self.proc.returncode

    def url(self, lun=1, iqn=IQN, host="127.0.0.1"):
        return "iscsi://%s:%d/%s/%d" % (host, self.port, iqn, lun)

    def portal(self):
        return "127.0.0.1:%d" % self.port


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="utgt-test-", dir=os.environ.get("UTGT_TMPDIR"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(workdir):
    d = Daemon(workdir).start()
    yield d
    rc = d.stop()
    assert rc == 0, "utgtd exited with %s:\n%s" % (rc, d.read_log())
    log = d.read_log()
    assert "AddressSanitizer" not in log and "runtime error" not in log, log


def make_backing(workdir, name="lun.img", size=64 << 20):
    path = os.path.join(workdir, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def setup_target(d, workdir, tid=1, iqn=IQN, luns=1, size=64 << 20, bstype=None, blocksize=None):
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", str(tid), "--targetname", iqn)
    paths = []
    for lun in range(1, luns + 1):
        path = make_backing(workdir, "t%d-lun%d.img" % (tid, lun), size)
        args = ["--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", str(tid),
                "--lun", str(lun), "--backing-store", path]
        if bstype:
            args += ["--bstype", bstype]
        if blocksize:
            args += ["--blocksize", str(blocksize)]
        d.adm(*args)
        paths.append(path)
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", str(tid), "--initiator-address", "ALL")
    return paths


@pytest.fixture
def target(daemon, workdir):
    paths = setup_target(daemon, workdir)
    daemon.paths = paths
    return daemon


def run(argv, timeout=60, check=True, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def qemu_img_roundtrip(workdir, url, size=4 << 20):
    """Writes size random bytes to the iSCSI url with qemu-img, reads them back and checks them;
    returns the data, for the caller to check the backing store."""
    data = os.urandom(size)
    src = os.path.join(workdir, "src.bin")
    dst = os.path.join(workdir, "dst.bin")
    with open(src, "wb") as f:
        f.write(data)
    run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, url], timeout=120)
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", url, dst], timeout=120)
    with open(dst, "rb") as f:
        back = f.read(size)
    assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    return data
