# SPDX-License-Identifier: GPL-2.0-only
"""targets.conf: utgtd --config, utgt-admin (-e, --update, --dry-run, --dump, --delete,
--offline/--ready, -s), bad files changing nothing, the dump/restart/load round trip, SIGHUP
reload keeping sessions of unchanged targets, and initiator-name without initiator-address not
opening a target to everyone (tgt-admin's hole)."""
import os
import signal
import subprocess
import time

import pytest

from conftest import BUILD, Daemon, make_backing
from iscsi_client import Initiator, LoginError

UTGT_ADMIN = os.path.join(BUILD, "tools", "utgt-admin", "utgt-admin")
T1 = "iqn.2026-11.org.utgt:conf1"
T2 = "iqn.2026-11.org.utgt:conf2"


def admin(d, *args, check=True):
    r = subprocess.run([UTGT_ADMIN, "--control-socket", d.sock] + list(args),
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("utgt-admin %s failed (%d): %s%s" % (args, r.returncode, r.stdout, r.stderr))
    return r


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def show(d):
    return d.adm("--mode", "target", "--op", "show").stdout


def basic_conf(workdir):
    a = make_backing(workdir, "a.img")
    b = make_backing(workdir, "b.img")
    c = make_backing(workdir, "c.img")
    return write(workdir, "targets.conf", """# test
default-driver iscsi
<target %s>
	backing-store %s
	initiator-address 127.0.0.1
	MaxRecvDataSegmentLength 65536
</target>
<target %s>
	<backing-store %s>
		lun 3
		vendor_id ACME
		product_id "My Disk"
		scsi_sn SN0003
		write-cache off
		block-size 4096
		bsoflags sync
	</backing-store>
	backing-store %s
	initiator-address ALL
	incominguser alice alicesecret123
	incominguser bob "bob secret 456"
	outgoinguser tgtuser tgtsecret7890
</target>
""" % (T1, a, T2, b, c))


@pytest.fixture
def confd(workdir):
    conf = basic_conf(workdir)
    d = Daemon(workdir, extra=["--config", conf]).start()
    d.conf = conf
    yield d
    assert d.stop() == 0, d.read_log()


def test_config_at_startup(confd):
    out = show(confd)
    assert "Target 1: %s" % T1 in out and "Target 2: %s" % T2 in out
    t2 = out.split("Target 2:")[1]
    assert "LUN: 3" in t2 and "Block size: 4096" in t2 and "Backing store flags: sync" in t2
    assert "LUN: 1" in t2 and "c.img" in t2
    lu3 = confd.adm("--mode", "logicalunit", "--op", "show", "--tid", "2", "--lun", "3", json_out=True).stdout
    assert '"vendor_id": "ACME"' in lu3 and '"product_id": "My Disk"' in lu3 and '"scsi_sn": "SN0003"' in lu3
    params = confd.adm("--mode", "target", "--op", "show", "--tid", "1").stdout
    assert "MaxRecvDataSegmentLength=65536" in params
    assert "        127.0.0.1\n" in out.split("Target 2:")[0]
    acc = out.split("Target 2:")[1].split("Account information:")[1].split("ACL information:")[0].split("\n")
    assert [a.strip() for a in acc if a.strip()] == ["alice", "bob", "tgtuser (outgoing)"]


def test_accounts_reconcile(confd, workdir):
    text = open(confd.conf).read().replace("\tincominguser bob \"bob secret 456\"\n", "")
    conf = write(workdir, "acc.conf", text)
    r = admin(confd, "-p", "-e", "-c", conf)
    assert r.stdout.strip() == "- incoming account of %s: bob" % T2
    admin(confd, "-e", "-c", conf)
    assert "bob" not in show(confd).split("Target 2:")[1].split("ACL information:")[0]
    dump = admin(confd, "--dump").stdout
    assert "\tincominguser alice alicesecret123\n" in dump and "\toutgoinguser tgtuser tgtsecret7890\n" in dump


def test_show_and_no_changes(confd):
    assert admin(confd, "-s").stdout == show(confd)
    r = admin(confd, "--dry-run", "-e", "-c", confd.conf)
    assert "no changes" in r.stdout


def test_dry_run_then_update(confd, workdir):
    d_img = make_backing(workdir, "d.img")
    conf = write(workdir, "new.conf", """<target %s>
	<backing-store %s>
		vendor_id NEWV
	</backing-store>
	backing-store %s
	initiator-address 127.0.0.1
	initiator-address 10.0.0.0/8
	MaxRecvDataSegmentLength 8192
</target>
<target iqn.2026-11.org.utgt:conf3>
	backing-store %s
</target>
""" % (T1, os.path.join(workdir, "a.img"), d_img, os.path.join(workdir, "b.img")))
    before = show(confd)
    r = admin(confd, "--dry-run", "-e", "-c", conf)
    lines = r.stdout.splitlines()
    assert "~ %s: MaxRecvDataSegmentLength 65536 -> 8192" % T1 in lines
    assert "~ lun 1 of %s: vendor_id 'UTGT' -> 'NEWV'" % T1 in lines
    assert "+ lun 2 of %s: %s" % (T1, d_img) in lines
    assert "+ acl of %s: initiator-address 10.0.0.0/8" % T1 in lines
    assert "- target %s (tid 2)" % T2 in lines
    assert "+ target iqn.2026-11.org.utgt:conf3 (tid 3)" in lines
    assert show(confd) == before, "a dry run changed the live state"
    admin(confd, "-e", "-c", conf)
    after = show(confd)
    assert T2 not in after and "Target 3: iqn.2026-11.org.utgt:conf3" in after
    assert "d.img" in after and "10.0.0.0/8" in after
    assert "no changes" in admin(confd, "-p", "-e", "-c", conf).stdout


BAD = [
    ("<target iqn.x:a>\n\tfrobnicate 1\n</target>\n", 2, "unknown directive 'frobnicate'"),
    ("bogus yes\n", 1, "unknown directive 'bogus'"),
    ("<target iqn.x:a>\n\tbacking-store /nonexistent/x.img\n</target>\n", 2, "No such file"),
    ("<target iqn.x:a>\n", 1, "not closed"),
    ("</target>\n", 1, "unexpected </target>"),
    ("<target iqn.x:a>\n\t<backing-store %(img)s>\n\t\tblock-size 1000\n\t</backing-store>\n</target>\n", 3,
     "block-size"),
    ("<target iqn.x:a>\n\t<backing-store %(img)s>\n\t\tbs-type nosuch\n\t</backing-store>\n</target>\n", 3,
     "bs-type"),
    ("<target iqn.x:a>\n\tinitiator-address 300.1.1.1\n</target>\n", 2, "initiator-address"),
    ("<target bad_name!>\n</target>\n", 1, "target name"),
    ("<target iqn.x:a>\n</target>\n<target iqn.x:a>\n</target>\n", 3, "defined twice"),
    ("<target iqn.x:a>\n\tbacking-store %(img)s\n\tlun 0\n</target>\n", 3, "lun"),
    ("<target iqn.x:a>\n\t<backing-store %(img)s>\n\t\tlun 2\n\t</backing-store>\n"
     "\t<backing-store %(img)s>\n\t\tlun 2\n\t</backing-store>\n</target>\n", 5, "used twice"),
    ("<target iqn.x:a>\n\t<backing-store %(img)s>\n\t\tvendor_id TOOLONGVENDOR\n\t</backing-store>\n</target>\n",
     3, "vendor_id"),
    ("<target iqn.x:a>\n\tincominguser onlyuser\n</target>\n", 2, "incominguser"),
    ("<target iqn.x:a>\n\toutgoinguser a secretsecret12\n\toutgoinguser b secretsecret12\n</target>\n", 3,
     "at most one outgoing"),
    ("incomingdiscoveryuser u secretsecret12\n", 1, "not supported"),
    ("<target iqn.x:a>\n\treadonly maybe\n</target>\n", 2, "readonly"),
    ("<target iqn.x:a>\n\tparams nosuchkey=1\n</target>\n", 2, "nosuchkey"),
    ("iSNSBogus 1.2.3.4\n", 1, "iSNSBogus"),
]


@pytest.mark.parametrize("text,line,msg", BAD)
def test_bad_file_changes_nothing(confd, workdir, text, line, msg):
    img = os.path.join(workdir, "a.img")
    # a valid target first: nothing of it may be created either
    good = "<target iqn.2026-11.org.utgt:first>\n\tbacking-store %s\n</target>\n" % img
    path = write(workdir, "bad.conf", good + text % {"img": img})
    before = show(confd)
    r = admin(confd, "-e", "-c", path, check=False)
    assert r.returncode == 22, r
    assert "%s:%d:" % (path, line + 3) in r.stderr and msg in r.stderr, r.stderr
    assert show(confd) == before


def test_bad_file_refuses_start(workdir):
    path = write(workdir, "bad.conf", "<target iqn.x:a>\n\tnope 1\n</target>\n")
    d = Daemon(workdir, extra=["--config", path])
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "bad.conf:2: unknown directive 'nope'" in str(e.value)


def test_round_trip_dump_restart_load(confd, workdir):
    confd.adm("--mode", "target", "--op", "update", "--tid", "2", "--name", "state", "--value", "offline")
    confd.adm("--mode", "target", "--op", "bind", "--tid", "2", "--initiator-name", "iqn.2026-11.org.utgt:x")
    confd.adm("--mode", "logicalunit", "--op", "update", "--tid", "1", "--lun", "1", "--params",
              "readonly=1,product_rev=9.9,thin_provisioning=1")
    confd.adm("--mode", "target", "--op", "new", "--tid", "7", "--targetname", "iqn.2026-11.org.utgt:closed")
    before = show(confd)
    out = os.path.join(workdir, "saved.conf")
    admin(confd, "--dump", "-o", out)
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    assert not [f for f in os.listdir(workdir) if f.startswith("saved.conf.")], "temp file left"
    assert admin(confd, "--dump").stdout == open(out).read()
    confd.stop()
    d2 = Daemon(workdir, extra=["--config", out]).start()
    try:
        assert show(d2) == before
        assert "no changes" in admin(d2, "-p", "-e", "-c", out).stdout
        assert "Target 7:" in before and before.split("Target 7:")[1].rstrip().endswith("ACL information:")
    finally:
        assert d2.stop() == 0


def test_include_glob(workdir):
    a = make_backing(workdir, "a.img")
    os.mkdir(os.path.join(workdir, "conf.d"))
    for i in (2, 1):
        write(workdir, "conf.d/%d.conf" % i,
              "<target iqn.2026-11.org.utgt:inc%d>\n\tbacking-store %s\n</target>\n" % (i, a))
    write(workdir, "conf.d/ignored.txt", "garbage\n")
    main = write(workdir, "main.conf", "include conf.d/*.conf\ninclude nomatch/*.conf\n")
    d = Daemon(workdir, extra=["--config", main]).start()
    try:
        out = show(d)
        assert "Target 1: iqn.2026-11.org.utgt:inc1" in out and "Target 2: iqn.2026-11.org.utgt:inc2" in out
    finally:
        assert d.stop() == 0


def test_initiator_name_only_is_not_open(workdir):
    a = make_backing(workdir, "a.img")
    allowed = "iqn.2026-11.org.utgt:allowed"
    conf = write(workdir, "t.conf", "<target %s>\n\tbacking-store %s\n\tinitiator-name %s\n</target>\n"
                 % (T1, a, allowed))
    d = Daemon(workdir, extra=["--config", conf]).start()
    try:
        acl = show(d).split("ACL information:")[1]
        assert acl.split() == [allowed], "initiator-name alone must not bind ALL"
        ini = Initiator("127.0.0.1", d.port, initiator="iqn.2026-11.org.utgt:intruder")
        with pytest.raises(LoginError):
            ini.login(T1)
        ini.close()
        ini = Initiator("127.0.0.1", d.port, initiator=allowed)
        ini.login(T1)
        ini.close()
    finally:
        assert d.stop() == 0


def tur_until_good(ini, lun=1, tries=10):
    for _ in range(tries):
        r = ini.scsi(bytes(6), lun=lun)
        if r.status == 0:
            return r
    raise AssertionError("TEST UNIT READY never became GOOD")


def test_sighup_reload_keeps_unchanged_sessions(confd, workdir):
    ini = Initiator("127.0.0.1", confd.port)
    ini.login(T1)
    tur_until_good(ini)
    # change only T2 and add a third target; T1 stays as it is
    text = open(confd.conf).read().replace("lun 3", "lun 4") + \
        "<target iqn.2026-11.org.utgt:conf3>\n\tbacking-store %s\n</target>\n" % os.path.join(workdir, "a.img")
    with open(confd.conf, "w") as f:
        f.write(text)
    confd.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "conf3" not in show(confd):
        assert time.time() < deadline, confd.read_log()
        time.sleep(0.05)
    out = show(confd)
    assert "LUN: 4" in out.split("Target 2:")[1] and "LUN: 3" not in out.split("Target 2:")[1]
    r = ini.scsi(bytes(6), lun=1)
    assert r.status == 0, "the session of the unchanged target was disturbed"
    ini.logout()
    ini.close()


def test_delete_offline_ready(confd):
    admin(confd, "--offline", "tid=1")
    out = show(confd)
    assert out.split("Target 2:")[0].count("State: offline") == 1
    admin(confd, "--ready", T1)
    assert "State: offline" not in show(confd)
    r = admin(confd, "--delete", "nosuch", check=False)
    assert r.returncode == 22 and "no target matches" in r.stderr
    admin(confd, "--delete", T2)
    assert T2 not in show(confd)
    admin(confd, "--delete", "ALL")
    assert "Target" not in show(confd)


def test_delete_with_session_needs_force(confd):
    ini = Initiator("127.0.0.1", confd.port)
    ini.login(T1)
    r = admin(confd, "--delete", "tid=1", check=False)
    assert r.returncode == 22 and "still active" in r.stderr
    admin(confd, "--delete", "tid=1", "--force")
    assert T1 not in show(confd)
    ini.close()


def test_utgt_admin_no_daemon(workdir):
    r = subprocess.run([UTGT_ADMIN, "--control-socket", os.path.join(workdir, "none.sock"), "-s"],
                       capture_output=True, text=True)
    assert r.returncode == 107


def test_help_lists_options():
    out = subprocess.run([UTGT_ADMIN, "--help"], capture_output=True, text=True).stdout
    for opt in ("--execute", "--update", "--delete", "--offline", "--ready", "--show", "--dump",
                "--conf", "--control-port", "--control-socket", "--pretend", "--dry-run", "--force"):
        assert opt in out, opt


def test_sighup_with_bad_file_keeps_state(confd):
    before = show(confd)
    with open(confd.conf, "a") as f:
        f.write("<target iqn.2026-11.org.utgt:late>\n\tnonsense here\n</target>\n")
    confd.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reload of" not in confd.read_log():
        assert time.time() < deadline, confd.read_log()
        time.sleep(0.05)
    assert "unknown directive 'nonsense'" in confd.read_log()
    assert confd.proc.poll() is None and show(confd) == before


def test_saveconfig_round_trip(confd, workdir):
    """utgtadm --mode sys --op saveconfig writes the dump atomically (to --name, or to the
    --config file), with TargetAlias and redirection; restart from it gives the same show."""
    confd.adm("--mode", "target", "--op", "update", "--tid", "1", "--name", "TargetAlias",
              "--value", "first disk")
    confd.adm("--mode", "target", "--op", "new", "--tid", "7", "--targetname", "iqn.2026-11.org.utgt:moved")
    for k, v in (("RedirectAddress", "192.0.2.7"), ("RedirectPort", "3261"),
                 ("RedirectReason", "Permanent")):
        confd.adm("--mode", "target", "--op", "update", "--tid", "7", "--name", k, "--value", v)
    confd.adm("--mode", "logicalunit", "--op", "update", "--tid", "2", "--lun", "3", "--params",
              "product_rev=2.1,rotation_rate=1")
    before = show(confd)
    params7 = confd.adm("--mode", "target", "--op", "show", "--tid", "7").stdout
    assert "RedirectAddress=192.0.2.7" in params7 or "RedirectAddress" in params7, params7
    out = os.path.join(workdir, "sub", "saved.conf")
    os.mkdir(os.path.dirname(out))
    r = confd.adm("--mode", "sys", "--op", "saveconfig", "--name", os.path.relpath(out))
    assert r.stdout == "", r.stdout
    text = open(out).read()
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    assert os.listdir(os.path.dirname(out)) == ["saved.conf"], "temp file left"
    assert text == admin(confd, "--dump").stdout
    assert '\tTargetAlias "first disk"\n' in text
    assert "\tRedirectAddress 192.0.2.7\n\tRedirectPort 3261\n\tRedirectReason Permanent\n" in text
    # without --name: the file utgtd was started with
    confd.adm("--mode", "sys", "--op", "saveconfig")
    assert open(confd.conf).read() == text
    # a directory that does not exist: an error, nothing written
    r = confd.adm("--mode", "sys", "--op", "saveconfig", "--name", "/nonexistent/x.conf",
                  "--debug", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr, r.stderr
    confd.stop()
    d2 = Daemon(workdir, extra=["--config", out]).start()
    try:
        assert show(d2) == before
        assert d2.adm("--mode", "target", "--op", "show", "--tid", "7").stdout == params7
        assert "no changes" in admin(d2, "-p", "-e", "-c", out).stdout
    finally:
        assert d2.stop() == 0


def test_saveconfig_needs_a_file(workdir, daemon):
    r = daemon.adm("--mode", "sys", "--op", "saveconfig", "--debug", check=False)
    assert r.returncode == 22 and "without --config" in r.stderr, r.stderr
    r = daemon.adm("--mode", "sys", "--op", "saveconfig", "--tid", "1", check=False)
    assert r.returncode == 22 and "not allowed" in r.stderr, r.stderr


def changer_conf(workdir, extra=""):
    changer = make_backing(workdir, "changer.img", 1 << 20)
    return write(workdir, "lib.conf", """default-driver iscsi
<target iqn.2026-11.org.utgt:lib>
	controller_tid 4
	initiator-address 127.0.0.1
	<backing-store NONE:tape1>
		lun 1
		device-type tape
	</backing-store>
	<backing-store %s>
		lun 2
		device-type changer
		params element_type=1,start_address=1,quantity=1
		params element_type=2,start_address=1000,quantity=4
		params element_type=4,start_address=2,quantity=1
		params element_type=4,address=2,tid=${tid},lun=1%s
	</backing-store>
</target>
""" % (changer, extra))


def test_changer_params_substituted_and_saved(workdir):
    """Device-type params lines (media changer elements) with tgt-admin's ${tid}/${lun}: sent
    after the LU is created, replayed by saveconfig, and a restart from the saved file gives
    the same dump."""
    conf = changer_conf(workdir)
    d = Daemon(workdir, extra=["--config", conf]).start()
    try:
        dump = admin(d, "--dump").stdout
        assert "\t\tparams element_type=4,address=2,tid=4,lun=1\n" in dump, dump
        assert "\t\tparams element_type=2,start_address=1000,quantity=4\n" in dump
        # a run-time update is kept too; a failed one is not
        d.adm("--mode", "logicalunit", "--op", "update", "--tid", "4", "--lun", "2",
              "--params", "element_type=2,address=1000,barcode=A0000001")
        assert d.adm("--mode", "logicalunit", "--op", "update", "--tid", "4", "--lun", "2",
                     "--params", "element_type=9", check=False).returncode != 0
        out = os.path.join(workdir, "saved.conf")
        d.adm("--mode", "sys", "--op", "saveconfig", "--name", out)
        saved = open(out).read()
        assert "params element_type=2,address=1000,barcode=A0000001\n" in saved
        assert "element_type=9" not in saved
        assert "no changes" in admin(d, "-p", "-e", "-c", out).stdout
        before = show(d)
    finally:
        assert d.stop() == 0
    d2 = Daemon(workdir, extra=["--config", out]).start()
    try:
        assert show(d2) == before
        assert admin(d2, "--dump").stdout == saved
        # deleting the LU forgets its lines
        d2.adm("--mode", "logicalunit", "--op", "delete", "--tid", "4", "--lun", "2")
        assert "element_type" not in admin(d2, "--dump").stdout
    finally:
        assert d2.stop() == 0


def test_changer_params_bad_element_fails_load(workdir):
    conf = changer_conf(workdir, "\n\t\tparams element_type=9")
    d = Daemon(workdir, extra=["--config", conf])
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "params element_type=9" in str(e.value), str(e.value)


@pytest.mark.parametrize("line,msg", [
    ("params element_type=4,address=2,tid=${target}", "only ${tid} and ${lun}"),
    ("scsi_sn SN${lun}", "substituted in params lines only"),
    ("params element_type=2, address=3", "without blanks"),
    ("params element_type=2,bogus=1", "unknown logical unit parameter 'bogus'"),
])
def test_params_substitution_errors(workdir, line, msg):
    path = write(workdir, "bad.conf", "<target iqn.2026-11.org.utgt:b>\n\t%s\n</target>\n" % line)
    d = Daemon(workdir, extra=["--config", path])
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "bad.conf:2:" in str(e.value) and msg in str(e.value), str(e.value)
