# SPDX-License-Identifier: GPL-2.0-only
"""utgtadm: tgtadm's grammar, error messages and exit codes, `show` in tgt's layout (compared
line by line with a real tgtd configured the same way), and --json."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import IQN, UTGTADM, free_port, make_backing, run, setup_target
from iscsi_client import Initiator


def test_target_lifecycle_and_errors(daemon, workdir):
    adm = daemon.adm
    adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
    r = adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN + "x", check=False)
    assert r.returncode == 22 and "this target already exists" in r.stderr
    r = adm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "9", check=False)
    assert r.returncode == 22 and "can't find the target" in r.stderr
    path = make_backing(workdir)
    adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1", "--backing-store", path)
    r = adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
            "--backing-store", path, check=False)
    assert r.returncode == 22 and "this logical unit number already exists" in r.stderr
    r = adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "2",
            "--backing-store", "/nonexistent/file", check=False)
    assert r.returncode == 22
    adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1", "--lun", "1",
        "--params", "vendor_id=ACME,product_id=Disk,scsi_sn=SN42")
    r = adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1", "--lun", "1",
            "--params", "no_such_key=1", check=False)
    assert r.returncode == 22 and "unknown parameter" in r.stderr
    out = adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert "SCSI SN: SN42" in out
    adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "delete", "--tid", "1", "--lun", "1")
    r = adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "delete", "--tid", "1", "--lun", "1", check=False)
    assert r.returncode == 22 and "can't find the logical unit" in r.stderr
    adm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "1")
    assert "Target 1" not in adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout


def test_missing_required_option_is_client_error(daemon):
    r = daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", check=False)
    assert r.returncode == 22 and r.stderr.startswith("utgtadm: ")


def test_daemon_not_running_exits_107(workdir):
    r = subprocess.run([UTGTADM, "--control-socket", os.path.join(workdir, "none.sock"), "--mode", "sys",
                        "--op", "show"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 107
    assert "utgtd" in r.stderr or "daemon" in r.stderr


def test_bind_unbind_acl(daemon):
    adm = daemon.adm
    adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
    adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "10.0.0.0/8")
    adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-name", "iqn.x:y")
    r = adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address",
            "10.0.0.0/8", check=False)
    assert r.returncode == 22 and "this access control rule already exists" in r.stderr
    r = adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address",
            "10.0.0.1/8", check=False)
    assert r.returncode == 22
    out = adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert out.endswith("    ACL information:\n        10.0.0.0/8\n        iqn.x:y\n")
    adm("--lld", "iscsi", "--mode", "target", "--op", "unbind", "--tid", "1", "--initiator-address", "10.0.0.0/8")
    r = adm("--lld", "iscsi", "--mode", "target", "--op", "unbind", "--tid", "1", "--initiator-address",
            "10.0.0.0/8", check=False)
    assert r.returncode == 22 and "this access control rule does not exist" in r.stderr


def test_delete_target_with_session_needs_force(target):
    ini = Initiator("127.0.0.1", target.port)
    ini.login(IQN)
    r = target.adm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "1", check=False)
    assert r.returncode == 22 and "this target is still active" in r.stderr
    target.adm("--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "1", "--force")
    ini.close()


def test_json_show_matches_configuration(target):
    r = target.adm("--lld", "iscsi", "--mode", "target", "--op", "show", json_out=True)
    doc = json.loads(r.stdout)
    t = doc["targets"][0]
    assert t["tid"] == 1 and t["name"] == IQN
    assert [lu["lun"] for lu in t["luns"]] == [0, 1]
    assert t["luns"][1]["size"] == 64 << 20
    assert t["luns"][1]["path"] == target.paths[0]
    assert t["acls"] == ["ALL"]


def _normalize(text):
    return re.sub(r"I_T nexus: \d+", "I_T nexus: N", text)


def _tgtadm(port, *args):
    return subprocess.run(["tgtadm", "-C", str(port)] + list(args), capture_output=True, text=True, timeout=20)


@pytest.mark.skipif(shutil.which("tgtd") is None, reason="tgt is not installed")
def test_show_matches_tgt_line_by_line(daemon, workdir):
    """Same configuration in tgtd and utgtd, one session on each: `show` must be identical."""
    ctl = 4000 + os.getpid() % 20000
    tport = free_port()
    tgt = subprocess.Popen(["tgtd", "-f", "-C", str(ctl), "--iscsi", "portal=127.0.0.1:%d" % tport],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sessions = []
    try:
        for _ in range(100):
            if _tgtadm(ctl, "--mode", "sys", "--op", "show").returncode == 0:
                break
            time.sleep(0.05)
        path = make_backing(workdir, "shared.img")
        for argv in (["--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN],
                     ["--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
                      "--backing-store", path, "--bstype", "rdwr"],
                     ["--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1", "--lun", "1",
                      "--params", "readonly=1"],
                     ["--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "ALL"],
                     ["--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1",
                      "--initiator-name", "iqn.2026-11.org.utgt:client"]):
            assert _tgtadm(ctl, *argv).returncode == 0, argv
            daemon.adm(*argv)
        for port in (tport, daemon.port):
            ini = Initiator("127.0.0.1", port)
            ini.login(IQN)
            sessions.append(ini)
        want = _tgtadm(ctl, "--lld", "iscsi", "--mode", "target", "--op", "show").stdout
        got = daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
        assert _normalize(got).splitlines() == _normalize(want).splitlines()
    finally:
        for s in sessions:
            s.close()
        tgt.kill()
        tgt.wait()
