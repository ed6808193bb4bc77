# SPDX-License-Identifier: GPL-2.0-only
"""Liveness, async events and discovery extras with the project's initiator: target NOP-In
pings dropping a silent initiator, the Async logout request on target removal, TargetAlias,
SendTargets=<name>, and portal redirection set with utgtadm."""
import time

import pytest

from conftest import IQN
from iscsi_client import Initiator, LoginError

OP_NOP_IN, OP_ASYNC, OP_LOGOUT_RSP = 0x20, 0x32, 0x26


def tgt_update(d, name, value, tid=1):
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "update", "--tid", str(tid),
          "--name", name, "--value", value)


def test_nop_in_pings_drop_a_silent_initiator(target):
    tgt_update(target, "nop_interval", "1")
    tgt_update(target, "nop_count", "2")
    ini = Initiator("127.0.0.1", target.port, timeout=8)
    ini.login(IQN)
    pings = 0
    start = time.monotonic()
    with pytest.raises((ConnectionError, OSError)):
        while time.monotonic() - start < 8:
            pdu = ini.recv_pdu()  # never answered
            if pdu.opcode == OP_NOP_IN and pdu.itt == 0xFFFFFFFF:
                assert pdu.u32(20) != 0xFFFFFFFF  # a TTT: the target wants an answer
                pings += 1
    assert pings >= 2 and time.monotonic() - start < 6


def test_nop_in_pings_keep_a_live_initiator(target):
    tgt_update(target, "nop_interval", "1")
    tgt_update(target, "nop_count", "2")
    ini = Initiator("127.0.0.1", target.port, timeout=8)
    ini.login(IQN)
    deadline = time.monotonic() + 4
    pings = 0
    while time.monotonic() < deadline:
        pdu = ini.recv_pdu()
        if pdu.opcode == OP_NOP_IN and pdu.itt == 0xFFFFFFFF:
            ini.nop_reply(pdu)
            pings += 1
    assert pings >= 3
    assert ini.scsi(bytes(6), lun=1).status in (0, 2)
    assert ini.logout() == 0


def test_target_delete_force_sends_async_logout_request(target):
    ini = Initiator("127.0.0.1", target.port)
    ini.login(IQN)
    target.adm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "1", "--force")
    pdu = ini.recv_pdu()
    assert pdu.opcode == OP_ASYNC and pdu.bhs[36] == 1  # AsyncEvent 1: logout requested
    assert ini.logout() == 0


def test_target_delete_force_drops_initiator_that_stays(target):
    ini = Initiator("127.0.0.1", target.port, timeout=10)
    ini.login(IQN)
    target.adm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "1", "--force")
    start = time.monotonic()
    assert ini.recv_pdu().opcode == OP_ASYNC
    with pytest.raises((ConnectionError, OSError)):
        ini.recv_pdu()
    assert time.monotonic() - start < 6


def test_target_alias_and_sendtargets_by_name(target):
    tgt_update(target, "TargetAlias", "utgt disk one")
    ini = Initiator("127.0.0.1", target.port)
    keys = ini.login(IQN)
    assert keys.get("TargetAlias") == "utgt disk one"
    assert keys.get("TargetPortalGroupTag") == "1"
    ini.logout()
    disc = Initiator("127.0.0.1", target.port)
    disc.login(discovery=True)
    items = disc.text([("SendTargets", IQN)])
    assert "TargetName=" + IQN in items
    assert "TargetAddress=127.0.0.1:%d,1" % target.port in items
    assert disc.text([("SendTargets", "iqn.2026-11.org.utgt:nothere")]) == []
    disc.logout()
    out = target.adm("--lld", "iscsi", "--mode", "target", "--op", "show", "--tid", "1").stdout
    assert "TargetAlias=utgt disk one" in out, out


@pytest.mark.parametrize("reason,detail", [("Temporary", 1), ("Permanent", 2)])
def test_portal_redirection(target, reason, detail):
    tgt_update(target, "RedirectAddress", "127.0.0.2")
    tgt_update(target, "RedirectPort", "3261")
    tgt_update(target, "RedirectReason", reason)
    ini = Initiator("127.0.0.1", target.port)
    with pytest.raises(LoginError) as e:
        ini.login(IQN)
    assert (e.value.status_class, e.value.status_detail) == (1, detail)
    assert e.value.keys.get("TargetAddress") == "127.0.0.2:3261,1"
    # discovery still lists the target; clearing the address ends the redirection
    tgt_update(target, "RedirectAddress", "")
    ini = Initiator("127.0.0.1", target.port)
    ini.login(IQN)
    ini.logout()


def test_bad_redirect_values_rejected(target):
    for name, value in (("RedirectPort", "70000"), ("RedirectReason", "Sometimes"),
                        ("RedirectAddress", "a,b")):
        r = target.adm("--lld", "iscsi", "--mode", "target", "--op", "update", "--tid", "1",
                       "--name", name, "--value", value, check=False)
        assert r.returncode != 0, name


def test_nop_settings_apply_to_live_sessions(target):
    ini = Initiator("127.0.0.1", target.port, timeout=8)
    ini.login(IQN)  # logged in with pings off
    tgt_update(target, "nop_interval", "1")
    tgt_update(target, "nop_count", "2")
    start = time.monotonic()
    pings = 0
    with pytest.raises((ConnectionError, OSError)):
        while time.monotonic() - start < 8:
            pdu = ini.recv_pdu()
            if pdu.opcode == OP_NOP_IN and pdu.itt == 0xFFFFFFFF:
                pings += 1
    assert pings >= 2 and time.monotonic() - start < 6
