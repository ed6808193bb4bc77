# SPDX-License-Identifier: GPL-2.0-only
"""utgtd start-up and shutdown: readiness without races, clear refusals, clean SIGTERM."""
import os
import signal
import socket
import subprocess
import time

from conftest import UTGTD, UTGTADM, Daemon, free_port, run


def test_help_and_version():
    assert "--portal" in run([UTGTD, "--help"]).stdout
    assert run([UTGTD, "--version"]).stdout.startswith("utgtd ")


def test_sigterm_stops_cleanly_and_removes_socket(workdir):
    d = Daemon(workdir).start()
    assert os.path.exists(d.sock)
    assert d.stop(signal.SIGTERM) == 0
    assert not os.path.exists(d.sock)


def test_sigint_stops_cleanly(workdir):
    d = Daemon(workdir).start()
    assert d.stop(signal.SIGINT) == 0


def test_refuses_portal_in_use(workdir):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        r = subprocess.run([UTGTD, "-f", "--portal", "127.0.0.1:%d" % port, "--control-socket",
                            os.path.join(workdir, "s.sock")], capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        assert "127.0.0.1:%d" % port in r.stderr and "in use" in r.stderr
        assert not os.path.exists(os.path.join(workdir, "s.sock"))
    finally:
        busy.close()


def test_refuses_control_socket_in_use(workdir):
    d = Daemon(workdir).start()
    try:
        r = subprocess.run([UTGTD, "-f", "--portal", "127.0.0.1:%d" % free_port(), "--control-socket", d.sock],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        assert "control socket" in r.stderr and "another utgtd" in r.stderr
        # the first daemon still answers
        d.adm("--mode", "sys", "--op", "show")
    finally:
        assert d.stop() == 0


def test_background_start_is_ready_when_parent_exits(workdir):
    sock = os.path.join(workdir, "bg.sock")
    port = free_port()
    r = subprocess.run([UTGTD, "--portal", "127.0.0.1:%d" % port, "--control-socket", sock],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    try:
        # no sleep: the control socket and the portal already accept
        r2 = subprocess.run([UTGTADM, "--control-socket", sock, "--mode", "sys", "--op", "show"],
                            capture_output=True, text=True, timeout=10)
        assert r2.returncode == 0, r2.stderr
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        subprocess.run([UTGTADM, "--control-socket", sock, "--mode", "sys", "--op", "delete"],
                       capture_output=True, timeout=10)
        deadline = time.monotonic() + 15
        while os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not os.path.exists(sock)


def test_background_start_reports_failure(workdir):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        r = subprocess.run([UTGTD, "--portal", "127.0.0.1:%d" % busy.getsockname()[1],
                            "--control-socket", os.path.join(workdir, "x.sock")],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 1
        assert "in use" in r.stderr
    finally:
        busy.close()


def test_ipv6_and_ipv4_portals(workdir):
    p4, p6 = free_port(), free_port("::1")
    d = Daemon(workdir, portals=["127.0.0.1:%d" % p4, "[::1]:%d" % p6]).start()
    try:
        with socket.create_connection(("127.0.0.1", p4), timeout=5):
            pass
        with socket.create_connection(("::1", p6), timeout=5):
            pass
    finally:
        assert d.stop() == 0


def test_sigterm_with_logged_in_session(target):
    from iscsi_client import Initiator
    from conftest import IQN
    ini = Initiator("127.0.0.1", target.port)
    ini.login(IQN)
    assert target.stop() == 0
    ini.close()
