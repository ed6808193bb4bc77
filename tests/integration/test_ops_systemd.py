# SPDX-License-Identifier: GPL-2.0-only
"""systemd integration: sd_notify READY=1/STATUS=/WATCHDOG=1/STOPPING=1 on $NOTIFY_SOCKET, the
unit file, and `meson install --destdir` (what `make install DESTDIR=...` runs) putting the
binaries, unit, man pages and example config in place."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, Daemon


def recv_all(sock, until, timeout=10):
    msgs = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msgs.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if until(msgs):
            break
    return msgs


def test_sd_notify_ready_watchdog_stopping(workdir):
    path = os.path.join(workdir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
    d = Daemon(workdir)
    d.log = open(d.log_path, "ab")
    d.proc = subprocess.Popen(d.argv(), stdout=d.log, stderr=d.log, env=env)
    try:
        msgs = recv_all(sock, lambda m: sum("WATCHDOG=1" in x for x in m) >= 3)
        text = "\n".join(msgs)
        assert "READY=1" in text and "STATUS=serving" in text, text
        assert "MAINPID=%d" % d.proc.pid in text
        assert text.count("WATCHDOG=1") >= 3, text
        # the daemon is usable once READY=1 was sent
        assert d.adm("--mode", "sys", "--op", "show").returncode == 0
        d.proc.send_signal(signal.SIGTERM)
        msgs = recv_all(sock, lambda m: any("STOPPING=1" in x for x in m))
        assert any("STOPPING=1" in x for x in msgs), msgs
        assert d.proc.wait(20) == 0
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
        sock.close()


def test_no_notify_socket_is_fine(daemon):
    assert daemon.adm("--mode", "sys", "--op", "show").returncode == 0


UNIT = os.path.join(BUILD, "packaging", "utgtd.service")


def test_unit_file():
    text = open(UNIT).read()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=true",
                 "ProtectSystem=full", "CapabilityBoundingSet=", "--config", "RuntimeDirectory=utgt"):
        assert line in text, line
    assert "@SBINDIR@" not in text and "@SYSCONFDIR@" not in text
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", UNIT], capture_output=True, text=True)
        bad = [l for l in r.stderr.splitlines() if "utgtd.service" in l and "Unknown" in l]
        assert not bad, r.stderr


def test_install_destdir(workdir):
    if not shutil.which("meson"):
        pytest.skip("meson not found")
    dest = os.path.join(workdir, "dest")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", dest],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    files = set()
    for base, _, names in os.walk(dest):
        for n in names:
            files.add(os.path.relpath(os.path.join(base, n), dest))
    def has(suffix):
        return any(f.endswith(suffix) for f in files)
    for suffix in ("sbin/utgtd", "sbin/utgtadm", "sbin/utgt-admin", "lib/systemd/system/utgtd.service",
                   "etc/utgt/targets.conf.example"):
        assert has(suffix), (suffix, sorted(files))
    if shutil.which("scdoc"):
        for page in ("man8/utgtd.8", "man8/utgtadm.8", "man8/utgt-admin.8", "man5/targets.conf.5"):
            assert has(page), (page, sorted(files))
    unit = [f for f in files if f.endswith("utgtd.service")][0]
    sbin = [f for f in files if f.endswith("sbin/utgtd")][0]
    assert "ExecStart=/" + sbin + " " in open(os.path.join(dest, unit)).read()
    for f in files:
        if f.endswith("sbin/utgt-admin"):
            out = subprocess.run([os.path.join(dest, f), "--help"], capture_output=True, text=True)
            assert out.returncode == 0 and "--dump" in out.stdout
