"""Portal groups and ALUA: two portals in two portal groups (TPGT 1 and 2), TargetPortalGroupTag
and SendTargets per portal, one I_T nexus per target port, VPD 0x83 port designators, REPORT and
SET TARGET PORT GROUPS, access states set with utgtadm (standby refuses READ on its port only),
the ASYMMETRIC ACCESS STATE CHANGED unit attention, and the state kept in the saved config."""
import json
import os
import struct
import subprocess

import pytest

from conftest import BUILD, IQN, Daemon, free_port, have, setup_target
from iscsi_client import Initiator

UTGT_ADMIN = os.path.join(BUILD, "tools", "utgt-admin", "utgt-admin")
GOOD, CHECK = 0x00, 0x02


@pytest.fixture
def two(workdir):
    p1, p2 = free_port(), free_port()
    while p2 == p1:
        p2 = free_port()
    d = Daemon(workdir, portals=["127.0.0.1:%d,1" % p1, "127.0.0.1:%d,2" % p2])
    d.port, d.port2 = p1, p2
    d.start()
    setup_target(d, workdir)
    yield d
    rc = d.stop()
    log = d.read_log()
    assert rc == 0, log
    assert "AddressSanitizer" not in log and "runtime error" not in log, log


def connect(port, isid=None):
    ini = Initiator("127.0.0.1", port)
    if isid:
        ini.isid = isid
    params = ini.login(IQN)
    # the power-on unit attention goes first
    for _ in range(4):
        if ini.scsi(bytes(6), lun=1).status == GOOD:
            break
    return ini, params


def read10(ini):
    return ini.scsi(struct.pack(">BBIBHB", 0x28, 0, 0, 0, 1, 0), lun=1, read_len=512)


def rtpg(ini, ext=True):
    r = ini.scsi(struct.pack(">BBIIBB", 0xA3, (0x20 if ext else 0) | 0x0A, 0, 4096, 0, 0),
                 lun=1, read_len=4096)
    assert r.status == GOOD, r.sense.hex()
    data, off, groups = r.data, 8 if ext else 4, {}
    assert struct.unpack(">I", data[:4])[0] == len(data) - 4
    if ext:
        assert data[4] == 0x10
    while off < len(data):
        state, sup, gid, status, count = data[off] & 0x0F, data[off + 1], \
            struct.unpack(">H", data[off + 2:off + 4])[0], data[off + 5], data[off + 7]
        ports = [struct.unpack(">H", data[off + 10 + 4 * i:off + 12 + 4 * i])[0]
                 for i in range(count)]
        assert sup == 0xCF
        groups[gid] = (state, status, ports)
        off += 8 + 4 * count
    return groups


def stpg(ini, gid, state):
    param = bytes(4) + struct.pack(">BBH", state, 0, gid)
    return ini.scsi(struct.pack(">BBIIBB", 0xA4, 0x0A, 0, len(param), 0, 0), lun=1,
                    data_out=param)


def port_designators(ini):
    r = ini.scsi(struct.pack(">BBBHB", 0x12, 1, 0x83, 255, 0), lun=1, read_len=255)
    assert r.status == GOOD
    data, off, out = r.data, 4, {}
    while off + 4 <= len(data):
        kind, length = data[off + 1], data[off + 3]
        if kind & 0x30 == 0x10:  # target port association
            out[kind & 0x0F] = (data[off], struct.unpack(">H", data[off + 6:off + 8])[0])
        off += 4 + length
    return out


def expect_ua_then_good(ini, cmd=read10):
    r = cmd(ini)
    assert r.status == CHECK and r.sense_key == 6 and r.asc_ascq == (0x2A, 0x06), r.sense.hex()
    return cmd(ini)


def test_login_answers_tpgt_of_the_portal(two):
    a, pa = connect(two.port)
    b, pb = connect(two.port2)
    assert pa["TargetPortalGroupTag"] == "1" and pb["TargetPortalGroupTag"] == "2"
    a.close()
    b.close()


def test_portal_show_lists_tags(two):
    out = two.adm("--lld", "iscsi", "--mode", "portal", "--op", "show").stdout
    assert out == "Portal: 127.0.0.1:%d,1\nPortal: 127.0.0.1:%d,2\n" % (two.port, two.port2)
    js = two.adm("--lld", "iscsi", "--mode", "portal", "--op", "show", json_out=True).stdout
    assert '"tpgt": 2' in js.replace('"tpgt":2', '"tpgt": 2'), js


def test_portal_new_and_delete_at_run_time(two):
    p3 = free_port()
    adm = ("--lld", "iscsi", "--mode", "portal")
    two.adm(*adm, "--op", "new", "--param", "portal=127.0.0.1:%d,tpgt=3" % p3)
    assert "Portal: 127.0.0.1:%d,3\n" % p3 in two.adm(*adm, "--op", "show").stdout
    c, params = connect(p3)
    assert params["TargetPortalGroupTag"] == "3"
    assert 3 in rtpg(c) and rtpg(c)[3] == (0, 0, [3])
    assert two.adm(*adm, "--op", "new", "--param", "portal=127.0.0.1:%d" % p3,
                   check=False).returncode != 0  # already open
    assert two.adm(*adm, "--op", "new", "--param", "portal=127.0.0.1:%d,tpgt=0" % free_port(),
                   check=False).returncode != 0
    two.adm(*adm, "--op", "delete", "--param", "portal=127.0.0.1:%d" % p3)
    assert "%d" % p3 not in two.adm(*adm, "--op", "show").stdout
    a, _ = connect(two.port)
    assert 3 not in rtpg(a)  # the target port went with its last portal
    assert rtpg(c)[3] == (0, 0, [3])  # its session stays, and still sees its own port
    a.close()
    with pytest.raises(OSError):
        Initiator("127.0.0.1", p3)
    assert two.adm(*adm, "--op", "delete", "--param", "portal=127.0.0.1:%d" % p3,
                   check=False).returncode != 0
    c.close()


def test_sendtargets_lists_each_portal_with_its_tag(two):
    ini = Initiator("127.0.0.1", two.port2)
    ini.login(discovery=True)
    items = ini.text([("SendTargets", "All")])
    assert "TargetAddress=127.0.0.1:%d,1" % two.port in items
    assert "TargetAddress=127.0.0.1:%d,2" % two.port2 in items
    ini.close()


def test_same_isid_through_two_groups_is_two_nexuses(two):
    isid = bytes([0x80, 1, 2, 3, 4, 5])
    a, _ = connect(two.port, isid)
    b, _ = connect(two.port2, isid)
    # no reinstatement: a different target port makes a different I_T nexus
    assert a.scsi(bytes(6), lun=1).status == GOOD
    assert b.scsi(bytes(6), lun=1).status == GOOD
    out = two.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert out.count("I_T nexus:") == 2, out
    js = json.loads(two.adm("--mode", "session", "--op", "show", "--tid", "1",
                            json_out=True).stdout)
    assert sorted(s["tpgt"] for s in js["sessions"]) == [1, 2], js
    # the same ISID again through group 1 reinstates only the first session
    c, _ = connect(two.port, isid)
    assert b.scsi(bytes(6), lun=1).status == GOOD
    for i in (a, b, c):
        i.close()


def test_inquiry_tpgs_and_vpd83_differ_per_port(two):
    a, _ = connect(two.port)
    b, _ = connect(two.port2)
    r = a.scsi(struct.pack(">BBBHB", 0x12, 0, 0, 96, 0), lun=1, read_len=96)
    assert r.data[5] & 0x30 == 0x30  # implicit and explicit ALUA
    da, db = port_designators(a), port_designators(b)
    assert da[4] == (0x51, 1) and da[5] == (0x51, 1)
    assert db[4] == (0x51, 2) and db[5] == (0x51, 2)
    a.close()
    b.close()


def test_standby_set_with_utgtadm(two):
    a, _ = connect(two.port)
    b, _ = connect(two.port2)
    assert rtpg(a) == {1: (0, 0, [1]), 2: (0, 0, [2])}
    assert rtpg(b, ext=False) == rtpg(a)
    two.adm("--mode", "target", "--op", "update", "--tid", "1",
            "--name", "alua.tpg.2.state", "--value", "standby")
    # every nexus learns of it, then port 2 refuses I/O while port 1 serves it
    r = expect_ua_then_good(b)
    assert r.status == CHECK and r.sense_key == 2 and r.asc_ascq == (0x04, 0x0B)
    assert b.scsi(bytes(6), lun=1).asc_ascq == (0x04, 0x0B)  # TEST UNIT READY too
    assert expect_ua_then_good(a).status == GOOD
    assert rtpg(b)[2] == (2, 2, [2])  # standby, altered by implicit transition
    assert read10(a).status == GOOD
    show = two.adm("--mode", "target", "--op", "show", "--tid", "1").stdout
    assert "alua.tpg.2.state=standby" in show and "alua.tpg.1.state=active-optimized" in show
    two.adm("--mode", "target", "--op", "update", "--tid", "1",
            "--name", "alua.tpg.2.state", "--value", "unavailable")
    assert expect_ua_then_good(b).asc_ascq == (0x04, 0x0C)
    r = two.adm("--mode", "target", "--op", "update", "--tid", "1",
                "--name", "alua.tpg.2.state", "--value", "sleepy", check=False)
    assert r.returncode != 0
    a.close()
    b.close()


def test_stpg_from_the_initiator(two):
    a, _ = connect(two.port)
    b, _ = connect(two.port2)
    assert stpg(a, 2, 2).status == GOOD  # group 2 to standby, from port 1
    r = expect_ua_then_good(b)
    assert r.asc_ascq == (0x04, 0x0B)
    assert read10(a).status == GOOD  # the sender gets no unit attention
    assert rtpg(a)[2] == (2, 1, [2])  # altered by SET TARGET PORT GROUPS
    assert stpg(b, 2, 0).status == GOOD  # allowed in standby: back to active/optimized
    assert read10(b).status == GOOD
    assert expect_ua_then_good(a).status == GOOD
    r = stpg(a, 9, 0)
    assert r.status == CHECK and r.asc_ascq == (0x26, 0x00)
    two.adm("--mode", "target", "--op", "update", "--tid", "1",
            "--name", "alua.type", "--value", "implicit")
    r = a.scsi(struct.pack(">BBBHB", 0x12, 0, 0, 96, 0), lun=1, read_len=96)
    if r.status == CHECK:  # INQUIRY DATA HAS CHANGED
        r = a.scsi(struct.pack(">BBBHB", 0x12, 0, 0, 96, 0), lun=1, read_len=96)
    assert r.data[5] & 0x30 == 0x10
    r = stpg(a, 2, 0)
    if r.status == CHECK and r.sense_key == 6:
        r = stpg(a, 2, 0)
    assert r.status == CHECK and r.asc_ascq == (0x20, 0x00)
    a.close()
    b.close()


def test_state_survives_dump_and_restart(two, workdir):
    two.adm("--mode", "target", "--op", "update", "--tid", "1",
            "--name", "alua.tpg.2.state", "--value", "standby")
    two.adm("--mode", "target", "--op", "update", "--tid", "1",
            "--name", "alua.port.1.tpg", "--value", "7")
    dump = subprocess.run([UTGT_ADMIN, "--control-socket", two.sock, "--dump"],
                          capture_output=True, text=True, check=True).stdout
    assert "\talua.tpg.2.state standby\n" in dump and "\talua.port.1.tpg 7\n" in dump, dump
    conf = os.path.join(workdir, "saved.conf")
    with open(conf, "w") as f:
        f.write(dump)
    two.stop()
    p1, p2 = two.port, two.port2
    d = Daemon(workdir, portals=["127.0.0.1:%d,1" % p1, "127.0.0.1:%d,2" % p2],
               extra=["--config", conf])
    d.sock = os.path.join(workdir, "utgtd2.sock")
    d.start()
    try:
        a, _ = connect(p1)
        assert rtpg(a) == {2: (2, 2, [2]), 7: (0, 0, [1])}
        a.close()
    finally:
        assert d.stop() == 0


@pytest.mark.parametrize("portal", ["127.0.0.1:%d,0", "127.0.0.1:%d,65536", "127.0.0.1:%d,x"])
def test_bad_portal_group_tag_refuses_start(workdir, portal):
    d = Daemon(workdir, portals=[portal % free_port()])
    with pytest.raises(RuntimeError):
        d.start(timeout=5)


@pytest.mark.skipif(not have("iscsi-inq"), reason="libiscsi-bin (iscsi-inq) not installed")
def test_iscsi_inq_sees_port_designators(two):
    """libiscsi parses the page: both port designators, iSCSI, target port association (the
    values are binary, which iscsi-inq prints as text; port_designators() checks them)."""
    url = "iscsi://127.0.0.1:%d/%s/1" % (two.port2, IQN)
    out = subprocess.run(["iscsi-inq", "-i", "iqn.2026-11.org.utgt:inq", "-e", "1", "-c", "131",
                          url], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "Designator Type:(4) RELATIVE_TARGET_PORT" in out.stdout, out.stdout
    assert "Designator Type:(5) TARGET_PORT_GROUP" in out.stdout, out.stdout
    assert out.stdout.count("Association:(1) TARGET_PORT") == 2, out.stdout
