# SPDX-License-Identifier: GPL-2.0-only
"""Least privilege (docs/security.md §2): utgtd --user drops to an unprivileged user after
opening its portals and control socket, keeps only CAP_DAC_OVERRIDE and CAP_SYS_RAWIO, sets
no_new_privs and installs a seccomp filter; it still serves I/O and takes new LUs named by
root; a forbidden system call kills it (test build with -Dtest_hooks=true)."""
import json
import os
import pwd
import re
import signal
import socket
import subprocess

import pytest

from conftest import BUILD, IQN, UTGTADM, UTGTD, Daemon, have, make_backing, setup_target
from iscsi_client import Initiator

CAP_DAC_OVERRIDE = 1
CAP_SYS_RAWIO = 17
KEPT = (1 << CAP_DAC_OVERRIDE) | (1 << CAP_SYS_RAWIO)
WRITE10, READ10 = 0x2A, 0x28

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")


def build_option(name):
    """A meson option of this build directory (None when unknown)."""
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            opts = json.load(f)
    except OSError:
        return None
    for o in opts:
        if o["name"] == name:
            return o["value"]
    return None


@pytest.fixture
def user():
    """An unprivileged user: nobody, or utgt-test created for the test when nobody is absent."""
    try:
        yield pwd.getpwnam("nobody")
        return
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "utgt-test"], check=True)
    yield pwd.getpwnam("utgt-test")
    subprocess.run(["userdel", "utgt-test"], check=False)


@pytest.fixture(autouse=True)
def no_leak_check(monkeypatch):
    # LeakSanitizer stops the world with ptrace at exit, which the filter forbids
    if build_option("b_sanitize") not in (None, "none"):
        monkeypatch.setenv("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")


def status(pid, task=None):
    path = "/proc/%d/task/%d/status" % (pid, task) if task else "/proc/%d/status" % pid
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def start(workdir, *extra):
    return Daemon(workdir, extra=list(extra)).start()


def write_read(d, lun, seed):
    i = Initiator("127.0.0.1", d.port)
    i.login(IQN)
    for _ in range(4):  # the unit attentions of a new nexus
        if i.scsi(bytes(6), lun=lun).status == 0:
            break
    data = bytes((seed + n) & 0xFF for n in range(8 * 512))
    cdb = bytes([WRITE10, 0, 0, 0, 0, 16, 0, 0, 8, 0])
    assert i.scsi(cdb, lun=lun, data_out=data).status == 0
    cdb = bytes([READ10, 0, 0, 0, 0, 16, 0, 0, 8, 0])
    r = i.scsi(cdb, lun=lun, read_len=len(data))
    assert r.status == 0 and r.data == data
    i.logout()
    i.close()


def test_user_caps_nnp_seccomp(workdir, user):
    d = start(workdir, "--user", user.pw_name)
    try:
        pid = d.proc.pid
        st = status(pid)
        assert st["Uid"].split() == [str(user.pw_uid)] * 4
        assert st["Gid"].split() == [str(user.pw_gid)] * 4
        assert st["Groups"].strip() == ""
        assert int(st["CapEff"], 16) == KEPT and int(st["CapPrm"], 16) == KEPT
        assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0
        assert int(st["CapBnd"], 16) == 0
        assert st["NoNewPrivs"] == "1"
        assert st["Seccomp"] == "2"
        # every thread: same user, filtered, nothing beyond the kept capabilities
        for tid in map(int, os.listdir("/proc/%d/task" % pid)):
            ts = status(pid, tid)
            assert ts["Uid"].split()[1] == str(user.pw_uid)
            assert ts["Seccomp"] == "2" and ts["NoNewPrivs"] == "1"
            assert int(ts["CapEff"], 16) == KEPT and int(ts["CapPrm"], 16) == KEPT, ts["Name"]
            assert int(ts["CapBnd"], 16) == 0 and int(ts["CapInh"], 16) == 0, ts["Name"]
        assert "running as uid %d" % user.pw_uid in d.read_log()
    finally:
        assert d.stop() == 0, d.read_log()
    assert not os.path.exists(d.sock)  # unlinked after the drop (CAP_DAC_OVERRIDE)


def test_user_serves_io_and_takes_new_lus(workdir, user):
    d = start(workdir, "--user", user.pw_name)
    try:
        paths = setup_target(d, workdir)
        for p in paths:
            os.chmod(p, 0o600)  # root's file: only CAP_DAC_OVERRIDE opens it
        write_read(d, 1, 7)
        # a LU added after the drop, in a root-only file, named by root through the socket
        img = make_backing(workdir, "late.img", 16 << 20)
        os.chmod(img, 0o600)
        d.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
              "--lun", "2", "--backing-store", img)
        write_read(d, 2, 99)
        with open(img, "rb") as f:
            f.seek(16 * 512)
            assert f.read(8 * 512) == bytes((99 + n) & 0xFF for n in range(8 * 512))
        if have("iscsi-test-cu"):
            r = subprocess.run(["iscsi-test-cu", "--dataloss", "--test=SCSI.Write10", d.url(2)],
                               capture_output=True, text=True, timeout=300)
            m = re.search(r"tests\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)", r.stdout)
            assert m and int(m.group(1)) > 0 and int(m.group(3)) == 0, r.stdout[-3000:]
        st = status(d.proc.pid)
        assert st["Seccomp"] == "2" and st["Uid"].split()[0] == str(user.pw_uid)
    finally:
        assert d.stop() == 0, d.read_log()


def test_peer_check_refuses_the_daemons_user(workdir, user):
    """After the drop the daemon's own (unprivileged) user must not be able to manage it."""
    d = start(workdir, "--user", user.pw_name)
    try:
        # take the modes out of the way: only the SO_PEERCRED check is left
        os.chmod(workdir, 0o711)
        os.chmod(d.sock, 0o666)

        def as_user():
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        r = subprocess.run([UTGTADM, "--control-socket", d.sock, "--mode", "sys", "--op", "show"],
                           capture_output=True, text=True, timeout=30, preexec_fn=as_user)
        assert r.returncode != 0
        assert "refused peer" in d.read_log()
        d.adm("--mode", "sys", "--op", "show")  # root still can
    finally:
        assert d.stop() == 0, d.read_log()


@pytest.mark.parametrize("argv,msg", [
    (["--user", "no-such-user-utgt"], "unknown user"),
    (["--group", "nogroup"], "--group needs --user"),
    (["--user", "root"], "nothing to drop"),
    (["--seccomp", "maybe"], "--seccomp takes"),
])
def test_bad_options(argv, msg):
    r = subprocess.run([UTGTD, "-f", "-s", "/nonexistent/x.sock"] + argv, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2 and msg in r.stderr, r.stderr


hooks = pytest.mark.skipif(not build_option("test_hooks"),
                           reason="needs a build with -Dtest_hooks=true")


@hooks
def test_forbidden_syscall_kills(workdir, user):
    d = start(workdir, "--user", user.pw_name)
    d.adm("--mode", "sys", "--op", "update", "--name", "test-forbidden-syscall", "--value", "1",
          check=False)
    assert d.proc.wait(10) == -signal.SIGSYS, d.read_log()
    d.log.close()


@hooks
def test_forbidden_syscall_kills_without_user(workdir):
    d = start(workdir, "--seccomp=kill")
    assert status(d.proc.pid)["Seccomp"] == "2"
    d.adm("--mode", "sys", "--op", "update", "--name", "test-forbidden-syscall", "--value", "1",
          check=False)
    assert d.proc.wait(10) == -signal.SIGSYS, d.read_log()
    d.log.close()


@hooks
def test_trap_mode_logs_and_survives(workdir, user):
    d = start(workdir, "--user", user.pw_name, "--seccomp=trap")
    try:
        d.adm("--mode", "sys", "--op", "update", "--name", "test-forbidden-syscall", "--value", "1")
        assert "seccomp: refused system call 101" in d.read_log()  # ptrace on x86-64
        setup_target(d, workdir)
        write_read(d, 1, 3)
    finally:
        assert d.stop() == 0, d.read_log()


@pytest.mark.skipif(bool(os.environ.get("UTGTD_TEST_ARGS")), reason="UTGTD_TEST_ARGS is set")
def test_seccomp_off_by_default_without_user(workdir):
    d = start(workdir)
    try:
        st = status(d.proc.pid)
        assert st["Seccomp"] == "0" and st["Uid"].split()[0] == "0"
    finally:
        assert d.stop() == 0


def test_login_socket_still_accepts_after_drop(workdir, user):
    """Portals bound before the drop keep accepting (no rebinding needed)."""
    d = start(workdir, "--user", user.pw_name)
    try:
        setup_target(d, workdir)
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", d.port), timeout=5):
                pass
        write_read(d, 1, 11)
    finally:
        assert d.stop() == 0, d.read_log()
