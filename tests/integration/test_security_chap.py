# SPDX-License-Identifier: GPL-2.0-only
"""CHAP (RFC 7143 §12.1.3): accounts managed with utgtadm --mode account, one-way and mutual
logins with every algorithm (5 MD5, 6 SHA-1, 7 SHA-256, 8 SHA3-256), hex and base64 values,
wrong and missing credentials, reflected challenges, discovery with global accounts, and
libiscsi's tools. Secrets never appear in show output or the daemon log."""
import os
import subprocess

import pytest

from chap_client import ChapInitiator, chap_encode
from conftest import IQN, have, run, setup_target
from iscsi_client import Initiator, LoginError

USER, SECRET = "alice", "alice-secret-12"
TUSER, TSECRET = "tgtuser", "target-secret-34"


def add_account(d, user, secret):
    d.adm("--lld", "iscsi", "--mode", "account", "--op", "new", "--user", user, "--password", secret)


def bind(d, user, tid=1, outgoing=False, op="bind"):
    args = ["--lld", "iscsi", "--mode", "account", "--op", op, "--user", user]
    if tid is not None:
        args += ["--tid", str(tid)]
    if outgoing:
        args.append("--outgoing")
    return d.adm(*args)


@pytest.fixture
def chap_target(daemon, workdir):
    setup_target(daemon, workdir)
    add_account(daemon, USER, SECRET)
    add_account(daemon, TUSER, TSECRET)
    bind(daemon, USER)
    return daemon


def initiator(d, cls=ChapInitiator):
    return cls("127.0.0.1", d.port)


def login_status(exc):
    return exc.value.status_class, exc.value.status_detail


def test_account_show_and_bindings(chap_target):
    d = chap_target
    out = d.adm("--lld", "iscsi", "--mode", "account", "--op", "show").stdout
    assert out == "Account list:\n    %s\n    %s\n" % (USER, TUSER)
    bind(d, TUSER, outgoing=True)
    show = d.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert "    Account information:\n        %s\n        %s (outgoing)\n" % (USER, TUSER) in show
    r = d.adm("--lld", "iscsi", "--mode", "account", "--op", "bind", "--tid", "1", "--user", USER,
              "--outgoing", check=False)
    assert r.returncode != 0 and "outgoing" in r.stderr
    r = d.adm("--lld", "iscsi", "--mode", "account", "--op", "new", "--user", USER, "--password", "x",
              check=False)
    assert r.returncode != 0 and "already exists" in r.stderr
    assert SECRET not in show and TSECRET not in show and SECRET not in out


@pytest.mark.parametrize("alg", [5, 6, 7, 8])
def test_one_way_each_algorithm(chap_target, alg):
    i = initiator(chap_target)
    i.chap_login(IQN, USER, SECRET.encode(), algs=str(alg))
    assert i.chap_alg == alg
    r = i.scsi(bytes([0x12, 0, 0, 0, 36, 0]), lun=1, read_len=36)  # INQUIRY works
    assert r.status == 0
    i.logout()
    i.close()


def test_strongest_algorithm_chosen(chap_target):
    i = initiator(chap_target)
    i.chap_login(IQN, USER, SECRET.encode(), algs="5,6,7,8")
    assert i.chap_alg == 8
    i.close()
    i = initiator(chap_target)
    i.chap_login(IQN, USER, SECRET.encode(), algs="5,7,6")
    assert i.chap_alg == 7
    i.close()


def test_base64_response(chap_target):
    i = initiator(chap_target)
    i.chap_login(IQN, USER, SECRET.encode(), algs="7", b64=True)
    i.close()


def test_wrong_password_and_unknown_user(chap_target):
    for user, secret in ((USER, b"wrong-secret-00"), ("mallory", SECRET.encode()),
                         (TUSER, TSECRET.encode())):  # TUSER is not bound incoming
        i = initiator(chap_target)
        with pytest.raises(LoginError) as e:
            i.chap_login(IQN, user, secret, algs="5")
        assert login_status(e) == (2, 1)
        i.close()
    log = chap_target.read_log()
    assert SECRET not in log and "wrong-secret-00" not in log


def test_missing_chap_refused(chap_target):
    # AuthMethod=None only
    i = initiator(chap_target, Initiator)
    with pytest.raises(LoginError) as e:
        i.login(IQN)
    assert login_status(e) == (2, 1)
    i.close()
    # skipping the security stage entirely (CSG=1 in the first PDU)
    i = initiator(chap_target)
    with pytest.raises(LoginError) as e:
        i.exchange(1, 3, True, [("InitiatorName", i.initiator), ("TargetName", IQN)])
    assert login_status(e) == (2, 1)
    i.close()
    # leaving the security stage before answering the challenge
    i = initiator(chap_target)
    i.exchange(0, 1, False, [("InitiatorName", i.initiator), ("TargetName", IQN),
                             ("AuthMethod", "CHAP")])
    flags, keys = i.exchange(0, 1, True, [("CHAP_A", "5")])
    assert not flags & 0x80 and "CHAP_C" in keys  # T=0: the exchange goes on
    with pytest.raises(LoginError) as e:
        i.exchange(0, 1, True, [])
    assert login_status(e) == (2, 1)
    i.close()
    # CHAP_R missing
    i = initiator(chap_target)
    with pytest.raises(LoginError) as e:
        i.chap_login(IQN, USER, SECRET.encode(), tamper=lambda k: [kv for kv in k if kv[0] != "CHAP_R"])
    assert login_status(e) == (2, 1)
    i.close()


def test_unsupported_algorithm(chap_target):
    i = initiator(chap_target)
    with pytest.raises(LoginError) as e:
        i.chap_login(IQN, USER, SECRET.encode(), algs="1,2,3")
    assert login_status(e) == (2, 1)
    i.close()


def test_mutual(chap_target):
    d = chap_target
    # without an outgoing account, mutual CHAP fails
    i = initiator(d)
    with pytest.raises(LoginError) as e:
        i.chap_login(IQN, USER, SECRET.encode(), mutual=(TUSER, TSECRET.encode()))
    assert login_status(e) == (2, 1)
    i.close()
    bind(d, TUSER, outgoing=True)
    for alg in (5, 6, 7, 8):
        i = initiator(d)
        i.chap_login(IQN, USER, SECRET.encode(), algs=str(alg), mutual=(TUSER, TSECRET.encode()))
        i.logout()
        i.close()


def test_reflected_challenge_refused(chap_target):
    bind(chap_target, TUSER, outgoing=True)
    i = initiator(chap_target)
    with pytest.raises(LoginError) as e:
        i.chap_login(IQN, USER, SECRET.encode(), reflect=True)
    assert login_status(e) == (2, 1)
    i.close()


def test_unbind_opens_target_again(chap_target):
    d = chap_target
    bind(d, USER, op="unbind")
    i = initiator(d, Initiator)
    i.login(IQN)
    i.close()
    bind(d, USER)
    d.adm("--lld", "iscsi", "--mode", "account", "--op", "delete", "--user", USER)
    i = initiator(d, Initiator)
    i.login(IQN)  # deleting the account dropped its binding
    i.close()


def test_discovery_uses_global_accounts(chap_target):
    d = chap_target
    # the per-target account does not protect discovery
    i = initiator(d, Initiator)
    i.login(discovery=True)
    i.close()
    bind(d, USER, tid=None)
    i = initiator(d, Initiator)
    with pytest.raises(LoginError) as e:
        i.login(discovery=True)
    assert login_status(e) == (2, 1)
    i.close()
    i = initiator(d)
    i.chap_login(user=USER, secret=SECRET.encode(), discovery=True, algs="7")
    keys = i.text([("SendTargets", "All")])
    assert IQN in str(keys)
    i.close()


def _libiscsi_url(d, user=USER, secret=SECRET, lun=1):
    return "iscsi://%s%%%s@127.0.0.1:%d/%s/%d" % (user, secret, d.port, IQN, lun)


@pytest.mark.skipif(not have("iscsi-inq"), reason="libiscsi-bin not installed")
def test_libiscsi_one_way(chap_target):
    d = chap_target
    r = run(["iscsi-inq", _libiscsi_url(d)], timeout=30)
    assert "UTGT" in r.stdout or r.stdout
    r = run(["iscsi-inq", _libiscsi_url(d, secret="bad-secret-123")], timeout=30, check=False)
    assert r.returncode != 0
    r = run(["iscsi-inq", "iscsi://127.0.0.1:%d/%s/1" % (d.port, IQN)], timeout=30, check=False)
    assert r.returncode != 0


@pytest.mark.skipif(not have("iscsi-inq"), reason="libiscsi-bin not installed")
def test_libiscsi_mutual(chap_target):
    d = chap_target
    bind(d, TUSER, outgoing=True)
    env = dict(os.environ, LIBISCSI_CHAP_TARGET_USERNAME=TUSER, LIBISCSI_CHAP_TARGET_PASSWORD=TSECRET)
    r = run(["iscsi-inq", _libiscsi_url(d)], timeout=30, env=env)
    assert r.returncode == 0
    env["LIBISCSI_CHAP_TARGET_PASSWORD"] = "not-the-target-secret"
    r = run(["iscsi-inq", _libiscsi_url(d)], timeout=30, env=env, check=False)
    assert r.returncode != 0


@pytest.mark.skipif(not have("iscsi-ls"), reason="libiscsi-bin not installed")
def test_libiscsi_discovery_chap(chap_target):
    d = chap_target
    bind(d, USER, tid=None)
    r = run(["iscsi-ls", "iscsi://%s%%%s@127.0.0.1:%d" % (USER, SECRET, d.port)], timeout=30)
    assert IQN in r.stdout
    r = run(["iscsi-ls", "iscsi://127.0.0.1:%d" % d.port], timeout=30, check=False)
    assert IQN not in r.stdout
