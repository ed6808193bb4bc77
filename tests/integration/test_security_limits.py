# SPDX-License-Identifier: GPL-2.0-only
"""Limits (docs/security.md §5): the login timeout (--login-timeout, sys update login_timeout),
the cap on connections from one initiator address (--max-initiator-conns, closed before
login) and the per-target session cap (target parameter max_sessions, login status 03/02)."""
import socket
import time

import pytest

from conftest import IQN, Daemon, setup_target
from iscsi_client import Initiator, LoginError


def closed_after(sock, limit):
    """Seconds until the target closed sock (None if still open after limit)."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        return None
    assert data == b""
    return time.monotonic() - t0


def connect(d, src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.connect(("127.0.0.1", d.port))
    return s


@pytest.fixture
def lim(workdir):
    d = Daemon(workdir, extra=["--login-timeout", "1", "--max-initiator-conns", "3"]).start()
    yield d
    assert d.stop() == 0, d.read_log()


def test_login_timeout_option_and_update(lim):
    with connect(lim) as s:
        t = closed_after(s, 5)
        assert t is not None and 0.7 < t < 3, t
    lim.adm("--mode", "sys", "--op", "update", "--name", "login_timeout", "--value", "3")
    with connect(lim) as s:
        t = closed_after(s, 8)
        assert t is not None and 2.5 < t < 6, t
    for bad in ("0", "3601", "x"):
        r = lim.adm("--mode", "sys", "--op", "update", "--name", "login_timeout", "--value", bad,
                    check=False)
        assert r.returncode != 0


def test_initiator_address_cap(lim):
    lim.adm("--mode", "sys", "--op", "update", "--name", "login_timeout", "--value", "30")
    held = [connect(lim) for _ in range(3)]
    for s in held:
        assert closed_after(s, 0.3) is None  # the first three wait in login
    with connect(lim) as extra:
        t = closed_after(extra, 5)
        assert t is not None and t < 1, t  # closed at once, long before the login timeout
    # another address is not affected
    other = connect(lim, "127.0.0.2")
    assert closed_after(other, 0.3) is None
    # a freed slot is usable again
    held.pop().close()
    time.sleep(0.3)
    s = connect(lim)
    assert closed_after(s, 0.3) is None
    held.append(s)
    # raised at run time
    lim.adm("--mode", "sys", "--op", "update", "--name", "max_initiator_conns", "--value", "4")
    s = connect(lim)
    assert closed_after(s, 0.3) is None
    held.append(s)
    for s in held + [other]:
        s.close()
    time.sleep(0.3)
    # everything was counted back: a full login works
    lim.adm("--mode", "sys", "--op", "update", "--name", "max_initiator_conns", "--value", "1")
    setup_target(lim, lim.workdir)
    i = Initiator("127.0.0.1", lim.port)
    i.login(IQN)
    i.logout()
    i.close()


def login(d, name, isid=None):
    i = Initiator("127.0.0.1", d.port, initiator=name)
    if isid:
        i.isid = isid
    i.login(IQN)
    return i


def test_target_max_sessions(daemon, workdir):
    setup_target(daemon, workdir)
    show = daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "show", "--tid", "1").stdout
    assert "max_sessions=512" in show
    daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "update", "--tid", "1",
               "--name", "max_sessions", "--value", "2")
    a = login(daemon, "iqn.2026-11.org.utgt:a")
    b = login(daemon, "iqn.2026-11.org.utgt:b")
    with pytest.raises(LoginError) as e:
        login(daemon, "iqn.2026-11.org.utgt:c")
    assert (e.value.status_class, e.value.status_detail) == (0x03, 0x02)  # out of resources
    assert "max_sessions" in daemon.read_log()
    # reinstating an existing session (same initiator port) is not a new session
    a2 = login(daemon, "iqn.2026-11.org.utgt:a", isid=a.isid)
    # discovery sessions are not counted
    disc = Initiator("127.0.0.1", daemon.port, initiator="iqn.2026-11.org.utgt:d")
    disc.login(discovery=True)
    disc.logout()
    disc.close()
    b.logout()
    b.close()
    time.sleep(0.2)
    c = login(daemon, "iqn.2026-11.org.utgt:c")
    # 0 removes the cap
    daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "update", "--tid", "1",
               "--name", "max_sessions", "--value", "0")
    e_ = login(daemon, "iqn.2026-11.org.utgt:e")
    for i in (a, a2, c, e_):
        i.close()
