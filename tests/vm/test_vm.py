# SPDX-License-Identifier: GPL-2.0-only
"""The Linux kernel initiator (open-iscsi in a qemu guest, see guest.py and guest.sh) against
utgtd on the host's loopback: discovery, login, mkfs/mount/fsck/read-back, fio verify, logout;
dm-multipath over two portals; recovery when the connection drops in the middle of I/O;
CHAP (one-way, mutual, wrong secrets, discovery) with the digest scenario; sg3_utils on the
LU's /dev/sg and utgt's sg store passing scsi_debug through inside the guest (sg).
UTGT_VM_TARGET=tgt runs the same scenarios against tgtd, the reference."""
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)
import guest  # noqa: E402
from conftest import BUILD, Daemon, free_port, setup_target, workdir  # noqa: E402,F401

IQN = "iqn.2026-11.org.utgt:vm"
LUN_BYTES = 256 << 20
FIO_SECS = int(os.environ.get("UTGT_VM_FIO_SECS", "10"))
KIND = os.environ.get("UTGT_VM_TARGET", "utgt")
LOGDIR = os.environ.get("UTGT_VM_LOGDIR")
TIMEOUT = 480  # one guest run; ~30-45 s on an idle machine, 2-3 times that on a busy one


# CHAP accounts of the digest scenario (guest.sh has the same): incoming and outgoing of the
# target, and a global one that discovery sessions must use.
CHAP_IN = ("guest-in", "guest-in-secret-1")
CHAP_OUT = ("utgt-out", "utgt-out-secret-2")
CHAP_DISC = ("disc-in", "discovery-secret-3")


def chap_accounts(adm):
    """Binds the CHAP accounts with tgt's grammar (adm: utgtadm or tgtadm); bound without
    --tid, an account is global: discovery sessions must use it."""
    for user, secret in (CHAP_IN, CHAP_OUT, CHAP_DISC):
        adm("--lld", "iscsi", "--mode", "account", "--op", "new", "--user", user,
            "--password", secret)
    acct = ["--lld", "iscsi", "--mode", "account", "--op", "bind"]
    adm(*acct, "--tid", "1", "--user", CHAP_IN[0])
    adm(*acct, "--tid", "1", "--user", CHAP_OUT[0], "--outgoing")
    adm(*acct, "--user", CHAP_DISC[0])


class UtgtTarget:
    """utgtd with one 256 MiB LUN, on one or more loopback portals."""

    def __init__(self, workdir, nportals, blocksize=None, chap=False):
        ports = [free_port() for _ in range(nportals)]
        self.portals = ["127.0.0.1:%d" % p for p in ports]
        self.d = Daemon(workdir, portals=self.portals).start()
        setup_target(self.d, workdir, iqn=IQN, size=LUN_BYTES, blocksize=blocksize)
        if chap:
            chap_accounts(self.adm)

    def adm(self, *args, check=True):
        return self.d.adm(*args, check=check)

    def log(self):
        return self.d.read_log()

    def stop(self):
        rc = self.d.stop()
        assert rc == 0, "utgtd exited with %s:\n%s" % (rc, self.log())
        assert "AddressSanitizer" not in self.log() and "runtime error" not in self.log()


class TgtTarget:
    """tgtd, the reference, configured the same way."""

    def __init__(self, workdir, nportals, blocksize=None, chap=False):
        ports = [free_port() for _ in range(nportals)]
        self.portals = ["127.0.0.1:%d" % p for p in ports]
        self.cport = str(100 + os.getpid() % 9000)
        self.log_path = os.path.join(workdir, "tgtd.log")
        argv = ["tgtd", "-f", "-C", self.cport, "--iscsi", "portal=" + self.portals[0]]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 10
        while self.adm("--mode", "sys", "--op", "show", check=False).returncode != 0:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.log()
            time.sleep(0.1)
        for p in self.portals[1:]:
            self.adm("--lld", "iscsi", "--mode", "portal", "--op", "new", "--param", "portal=" + p)
        path = os.path.join(workdir, "lun.img")
        with open(path, "wb") as f:
            f.truncate(LUN_BYTES)
        tgt = ["--lld", "iscsi", "--mode", "target", "--tid", "1"]
        self.adm(*tgt, "--op", "new", "--targetname", IQN)
        self.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
                 "--lun", "1", "--backing-store", path,
                 *(["--blocksize", str(blocksize)] if blocksize else []))
        self.adm(*tgt, "--op", "bind", "-I", "ALL")
        for key in ("HeaderDigest", "DataDigest"):  # tgt offers None only by default
            self.adm(*tgt, "--op", "update", "--name", key, "--value", "CRC32C,None")
        if chap:
            chap_accounts(self.adm)

    def adm(self, *args, check=True):
        r = subprocess.run(["tgtadm", "-C", self.cport] + list(args), capture_output=True,
                           text=True, timeout=30)
        assert not check or r.returncode == 0, "tgtadm %s: %s%s" % (args, r.stdout, r.stderr)
        return r

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        self.proc.send_signal(signal.SIGKILL)  # tgtd ignores SIGTERM
        self.proc.wait()
        self.logf.close()


def connections(t):
    """(sid, cid) of every connection of target 1, from the tgt-layout show."""
    out = t.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    conns, sid = [], None
    for line in out.splitlines():
        m = re.match(r"\s+I_T nexus: (\d+)", line)
        if m:
            sid = m.group(1)
        m = re.match(r"\s+Connection: (\d+)", line)
        if m and sid is not None:
            conns.append((sid, m.group(1)))
    return conns


def host_sockets(port):
    r = subprocess.run(["ss", "-Htn", "state", "established", "dst", "127.0.0.1",
                        "dport", "=", ":%d" % port], capture_output=True, text=True, timeout=10)
    return [l for l in r.stdout.splitlines() if l.strip()]


def kill_host_sockets(port):
    """Destroys qemu's (the guest's) TCP connections to PORT with ss -K; the target sees a reset."""
    before = len(host_sockets(port))
    subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", ":%d" % port],
                   capture_output=True, timeout=10)
    return before, len(host_sockets(port))


def save(name, res):
    if not LOGDIR:
        return
    os.makedirs(LOGDIR, exist_ok=True)
    with open(os.path.join(LOGDIR, name + ".console.log"), "w") as f:
        f.write(res.console)
    with open(os.path.join(LOGDIR, name + ".result.txt"), "w") as f:
        f.write(res.summary() + "\n" + "\n".join("dmesg: " + l for l in res.dmesg) + "\n")


def check(res, t, name):
    save(name, res)
    if LOGDIR:
        with open(os.path.join(LOGDIR, name + ".target.log"), "w") as f:
            f.write(t.log())
    report = "\n".join([res.summary(), "--- target log (tail) ---", t.log()[-3000:],
                        "--- guest dmesg (tail) ---"] + res.dmesg[-60:] +
                       ["--- console (tail) ---", res.console[-3000:]])
    print(res.summary())
    assert res.done is not None, "guest did not finish:\n" + report
    assert not res.failed(), "guest steps failed:\n" + report
    assert res.done == "pass", report


@pytest.fixture(scope="module")
def gdir():
    why = guest.qemu_unusable()
    if why:
        pytest.skip(why)
    return guest.build()


@pytest.fixture
def make_target(workdir):
    made = []

    def make(nportals=1, blocksize=None, chap=False):
        t = (TgtTarget if KIND == "tgt" else UtgtTarget)(workdir, nportals, blocksize, chap)
        made.append(t)
        return t
    yield make
    for t in made:
        t.stop()


def run(scenario, t, workdir, gdir, fio_secs=FIO_SECS, on_event=None, **kw):
    return guest.run(scenario, IQN, t.portals, fio_secs, LUN_BYTES, on_event=on_event,
                     timeout=TIMEOUT, workdir=workdir, gdir=gdir, **kw)


def test_basic(gdir, make_target, workdir):
    t = make_target()
    res = run("basic", t, workdir, gdir)
    check(res, t, "basic")
    for name in ("discovery", "login", "mkfs", "write", "fsck", "read-back", "fio-verify",
                 "logout"):
        assert res.step(name) and res.step(name)[1], name


def test_digests_4k(gdir, make_target, workdir):
    """The same with HeaderDigest and DataDigest CRC32C (the kernel's crc32c), on a LUN with
    4096-byte logical blocks, logged in with CHAP: discovery needs the global account (none
    and a wrong secret refused), a wrong secret is refused with an authorization failure
    (iscsiadm status 24), one-way CHAP (MD5) logs in, mutual CHAP with a wrong target secret
    is refused by the initiator, and the session that runs the I/O is mutual CHAP with
    SHA3-256 (open-iscsi's chap_algs offers only it)."""
    t = make_target(blocksize=4096, chap=True)
    res = run("digest", t, workdir, gdir, chap_algs="MD5" if KIND == "tgt" else "SHA3-256")
    check(res, t, "digest")
    assert res.step("digests-on")[1] and res.step("fio-verify")[1]
    assert any("lbs=4096" in i for i in res.info), res.info
    for name in ("disc-nochap-refused", "disc-wrong-refused", "discovery", "chap-wrong-refused",
                 "chap-one-way", "chap-mutual-wrong-refused", "login", "no-new-conn-error"):
        assert res.step(name) and res.step(name)[1], name
    log = t.log()
    for _, secret in (CHAP_IN, CHAP_OUT, CHAP_DISC):
        assert secret not in log, "a CHAP secret is in the target log"
    if KIND != "tgt":
        assert "CHAP: user %s authenticated" % CHAP_DISC[0] in log
        assert "CHAP: user %s authenticated" % CHAP_IN[0] in log


def test_multipath(gdir, make_target, workdir):
    t = make_target(2)
    res = run("multipath", t, workdir, gdir)
    check(res, t, "multipath")
    assert res.step("same-wwid")[1] and res.step("map")[1] and res.step("fio-verify")[1]


def test_recovery(gdir, make_target, workdir):
    """Twice during fio, the connection breaks: first the host destroys the guest's TCP
    connection (ss -K on qemu's socket; utgtd sees a reset), then utgtd drops the new one
    itself (--mode conn --op delete). The initiator must log in again each time and fio's
    verify pass."""
    t = make_target()
    port = int(t.portals[0].rsplit(":", 1)[1])
    drops = {}

    def on_event(name, res):
        if name == "drop-socket":
            drops["conns-1"] = connections(t)
            drops["ss"] = kill_host_sockets(port)
        elif name == "drop-by-target":
            drops["conns-2"] = conns = connections(t)
            drops["adm"] = [t.adm("--lld", "iscsi", "--mode", "conn", "--op", "delete",
                                  "--tid", "1", "--sid", sid, "--cid", cid, check=False)
                            for sid, cid in conns]

    res = run("recovery", t, workdir, gdir, max(FIO_SECS, 8), on_event)
    res.info.append("host: %s" % {k: v for k, v in drops.items() if k != "adm"})
    check(res, t, "recovery")
    assert drops["ss"][0] >= 1, "no guest connection to drop: %s" % drops
    assert drops["conns-2"] and drops["conns-2"] != drops["conns-1"], (
        "no new connection after ss -K: %s" % drops)
    for r in drops["adm"]:
        assert r.returncode == 0, "conn delete failed: %s %s" % (r.stdout, r.stderr)


def test_sg(gdir, make_target, workdir):
    """The Linux sg driver against utgt and utgt's sg store against a real device. (a) On the
    LU's /dev/sgN: sg_inq, sg_vpd, sg_readcap, sg_dd write (FUA) and read compared, sg_persist
    register/reserve/read keys/release, sg_turs, sg_luns. (b) utgtd and utgtadm run inside the
    guest (a third cpio archive) and export scsi_debug's /dev/sgN as LUN 1 --device-type pt
    --bstype sg and LUN 2 a disk over --bstype sg, and its /dev/sdX as LUN 3 a disk over
    --bstype sg (SG_IO on the block device); the guest's open-iscsi logs in over
    127.0.0.1: the pt LU answers INQUIRY/VPD/READ CAPACITY/MODE SENSE as scsi_debug, data
    written through either LU reads back identical from scsi_debug's /dev/sdX and the other
    way round, READ beyond capacity gives scsi_debug's own ILLEGAL REQUEST, LBA OUT OF RANGE,
    and scsi_debug's medium errors (opts=2) reach the initiator as MEDIUM ERROR, UNRECOVERED
    READ ERROR through both LUs."""
    t = make_target()
    res = run("sg", t, workdir, gdir, extra=guest.utgt_files(BUILD))
    check(res, t, "sg")
    for name in ("sg-identity", "sg-dd", "sg-persist", "sg-turs", "utgtd-in-guest",
                 "local-login", "pt-identity", "pt-write-read", "pt-read-write", "pt-sense-lba",
                 "pt-sense-same", "sgdisk-identity", "sgdisk-write-read", "sgdisk-read-write",
                 "sgblk-identity", "sgblk-write-read", "sgblk-read-write", "medium-error",
                 "utgtd-exit"):
        assert res.step(name) and res.step(name)[1], name


# ---- devices: cd, tape and changer with the Linux sr, st and ch drivers ----
UTGTIMG = os.path.join(BUILD, "tools", "utgtimg", "utgtimg")
CD_LUN, TAPE_LUN, TAPE2_LUN, CHANGER_LUN = 1, 2, 3, 4


def make_iso(workdir, name, label, seed):
    """An ISO 9660 (Rock Ridge) image of a few files, their md5sums and a label file."""
    tool = shutil.which("genisoimage") or shutil.which("mkisofs") or shutil.which("xorriso")
    if not tool:
        pytest.fail("genisoimage or xorriso is needed (scripts/install-deps.sh test)")
    src = os.path.join(workdir, name + ".d")
    os.mkdir(src)
    rnd = random.Random(seed)
    sums = []
    for fname, size in (("small", 7), ("block", 2048), ("odd", 100001), ("big", 1 << 20)):
        data = rnd.randbytes(size)
        with open(os.path.join(src, fname), "wb") as f:
            f.write(data)
        sums.append("%s  %s\n" % (hashlib.md5(data).hexdigest(), fname))
    with open(os.path.join(src, "md5sums"), "w") as f:
        f.writelines(sums)
    with open(os.path.join(src, "label"), "w") as f:
        f.write(label + "\n")
    iso = os.path.join(workdir, name)
    argv = [tool] + (["-as", "mkisofs"] if tool.endswith("xorriso") else []) + \
        ["-quiet", "-r", "-V", label.upper(), "-o", iso, src]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return iso


def new_cartridge(path, barcode, size_mb=32):
    subprocess.run([UTGTIMG, "--op", "new", "--device-type", "tape", "--barcode", barcode,
                    "--size", str(size_mb), "--file", path], check=True, capture_output=True,
                   timeout=30)


def cartridge_show(path):
    return subprocess.run([UTGTIMG, "--op", "show", "--file", path], capture_output=True,
                          text=True, timeout=30).stdout


class DevicesTarget(UtgtTarget):
    """utgtd with LUN 1 a DVD drive (disc-one.iso), LUN 2 a tape drive with a cartridge, LUN 3
    an empty tape drive and LUN 4 a changer: 8 slots (1000.., A0000001 and A0000002 in the
    first two), 2 import/export slots, drives 2 and 3 = LUNs 2 and 3, cartridges in vtl/."""

    def __init__(self, workdir):  # pylint: disable=super-init-not-called
        self.portals = ["127.0.0.1:%d" % free_port()]
        self.iso1 = make_iso(workdir, "disc-one.iso", "disc-one", 1)
        self.iso2 = make_iso(workdir, "disc-two.iso", "disc-two", 2)
        self.tape = os.path.join(workdir, "T0000001")
        new_cartridge(self.tape, "T0000001")
        self.home = os.path.join(workdir, "vtl")
        os.mkdir(self.home)
        for bc in ("A0000001", "A0000002"):
            new_cartridge(os.path.join(self.home, bc), bc)
        changer_img = os.path.join(workdir, "changer.img")
        with open(changer_img, "wb") as f:
            f.truncate(1 << 20)
        self.d = Daemon(workdir, portals=self.portals).start()
        self.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1",
                 "--targetname", IQN)
        for lun, args in ((CD_LUN, ["--device-type", "cd", "--backing-store", self.iso1]),
                          (TAPE_LUN, ["--device-type", "tape", "--backing-store", self.tape]),
                          (TAPE2_LUN, ["--device-type", "tape"]),
                          (CHANGER_LUN, ["--device-type", "changer",
                                         "--backing-store", changer_img])):
            self.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
                     "--lun", str(lun), *args)
        for p in ("element_type=1,start_address=1,quantity=1",
                  "element_type=2,start_address=1000,quantity=8",
                  "element_type=2,address=1000,barcode=A0000001",
                  "element_type=2,address=1001,barcode=A0000002",
                  "element_type=3,start_address=10,quantity=2",
                  "element_type=4,start_address=2,quantity=2",
                  "element_type=4,address=2,tid=1,lun=%d" % TAPE_LUN,
                  "element_type=4,address=3,tid=1,lun=%d" % TAPE2_LUN,
                  "media_home=" + self.home):
            self.lu_params(CHANGER_LUN, p)
        self.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "-I", "ALL")

    def lu_params(self, lun, params, check=True):
        return self.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "update", "--tid", "1",
                        "--lun", str(lun), "--params", params, check=check)

    def lu_show(self, lun):
        """The show block of one LU as {key: value}."""
        out = self.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
        lu, cur = {}, None
        for line in out.splitlines():
            m = re.match(r"\s+LUN: (\d+)$", line)
            if m:
                cur = int(m.group(1))
            elif cur == lun and ":" in line:
                k, _, v = line.strip().partition(":")
                lu.setdefault(k, v.strip())
        return lu


@pytest.fixture
def devices_target(workdir):
    """The ISOs, cartridges and changer of the devices scenario, served by utgtd."""
    if KIND != "utgt":
        pytest.skip("the devices scenario runs against utgtd only")
    t = DevicesTarget(workdir)
    yield t
    t.stop()


def test_devices(gdir, devices_target, workdir):
    """sr: mount the ISO, md5s, eject (the target sees no medium), close the tray, a disc
    changed with utgtadm is picked up. st: mt and tar on nst/st, filemarks, fsf/bsf/eod,
    rewind on close, short variable blocks (ILI with data), fixed 512 and 64k blocks. ch: mtx
    status with barcodes, load into drive 1 (LUN 3), tar on that drive, unload, transfer."""
    t = devices_target
    seen = {}

    def on_event(name, res):
        if name == "cd-ejected":
            seen["ejected"] = t.lu_show(CD_LUN)
        elif name == "cd-change":
            seen["change"] = t.lu_params(CD_LUN, "path=" + t.iso2, check=False).returncode
    res = guest.run("devices", IQN, t.portals, 0, 0, on_event=on_event, timeout=TIMEOUT,
                    workdir=workdir, gdir=gdir)
    res.info.append("host: %s" % seen)
    check(res, t, "devices")
    for name in ("cd-mount", "cd-eject", "cd-changed", "tape-write3", "tape-fsf-bsf",
                 "tape-eod", "tape-rewind-close", "tape-ili", "tape-fixed-fm", "tape-fixed-64k",
                 "tape-misc", "ch-load", "ch-drive-use", "ch-unloaded", "ch-barcodes"):
        assert res.step(name) and res.step(name)[1], name
    assert seen["ejected"].get("Online") == "No", seen
    assert seen["change"] == 0, seen
    assert "disc-two" in t.lu_show(CD_LUN).get("Backing store path", ""), seen
    # What the guest wrote went to the cartridge files.
    assert re.search(r"^Filemarks: [1-9]", cartridge_show(t.tape), re.M), cartridge_show(t.tape)
    assert re.search(r"^Data blocks: [1-9]", cartridge_show(os.path.join(t.home, "A0000001")),
                     re.M), cartridge_show(os.path.join(t.home, "A0000001"))
