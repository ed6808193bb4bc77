# SPDX-License-Identifier: GPL-2.0-only
"""Data through real initiators: libiscsi tools, qemu-img (libiscsi underneath), and the
project's own strict initiator for digests, R2T flows, residuals, discovery and logout."""
import os
import struct
import time

import pytest

from conftest import IQN, have, qemu_img_roundtrip, run
from iscsi_client import Initiator, LoginError

READ10 = 0x28
WRITE10 = 0x2A


def cdb10(op, lba, blocks, flags=0):
    return struct.pack(">BBIBHB", op, flags, lba, 0, blocks, 0)


def login(d, **kw):
    ini = Initiator("127.0.0.1", d.port)
    ini.login(IQN, **kw)
    # clear the power-on unit attention
    for _ in range(4):
        r = ini.scsi(bytes(6), lun=1)
        if r.status == 0:
            break
    return ini


@pytest.mark.skipif(not have("iscsi-ls"), reason="libiscsi-bin missing")
def test_iscsi_ls_lists_target_and_lun(target):
    out = run(["iscsi-ls", "-s", "iscsi://127.0.0.1:%d" % target.port]).stdout
    assert IQN in out
    assert "Lun:1" in out


@pytest.mark.skipif(not have("iscsi-inq"), reason="libiscsi-bin missing")
def test_iscsi_inq_standard_and_vpd(target):
    out = run(["iscsi-inq", target.url(1)]).stdout
    assert "Peripheral Device Type" in out or "DIRECT_ACCESS" in out or "Direct" in out
    out = run(["iscsi-inq", "-e", "1", "-c", "128", target.url(1)]).stdout
    assert "beaf11" in out


@pytest.mark.skipif(not have("qemu-img"), reason="qemu-utils missing")
def test_qemu_img_write_read_back(target, workdir):
    info = run(["qemu-img", "info", target.url(1)]).stdout
    assert "64 MiB" in info
    data = qemu_img_roundtrip(workdir, target.url(1))
    with open(target.paths[0], "rb") as f:
        assert f.read(len(data)) == data


@pytest.mark.skipif(not have("iscsi-inq"), reason="libiscsi-bin missing")
def test_libiscsi_with_header_digest(target):
    # qemu-img crashes in libiscsi whenever header_digest=crc32c is set (against tgt too), so
    # libiscsi's own tools carry the header-digest check; the test initiator covers both digests.
    out = run(["iscsi-inq", target.url(1) + "?header_digest=crc32c"]).stdout
    assert "DIRECT_ACCESS" in out
    out = run(["iscsi-inq", "-e", "1", "-c", "128", target.url(1) + "?header_digest=crc32c"]).stdout
    assert "beaf11" in out


@pytest.mark.parametrize("digests", [("None", "None"), ("CRC32C", "CRC32C"), ("CRC32C", "None")])
@pytest.mark.parametrize("flow", ["immediate", "r2t"])
def test_write_read_back_with_digests_and_flows(target, digests, flow):
    keys = None
    if flow == "r2t":
        keys = [("ImmediateData", "No"), ("InitialR2T", "Yes"), ("MaxRecvDataSegmentLength", "8192"),
                ("MaxBurstLength", "65536"), ("FirstBurstLength", "65536")]
    ini = Initiator("127.0.0.1", target.port)
    neg = ini.login(IQN, keys=keys, digests=digests)
    assert neg["HeaderDigest"] == digests[0] and neg["DataDigest"] == digests[1]
    for _ in range(4):
        if ini.scsi(bytes(6), lun=1).status == 0:
            break
    data = os.urandom(1 << 20)
    r = ini.scsi(cdb10(WRITE10, 100, len(data) // 512), lun=1, data_out=data)
    assert r.status == 0, r.sense
    r = ini.scsi(cdb10(READ10, 100, len(data) // 512), lun=1, read_len=len(data))
    assert r.status == 0 and r.data == data and not r.underflow and not r.overflow
    ini.logout()
    ini.close()
    with open(target.paths[0], "rb") as f:
        f.seek(100 * 512)
        assert f.read(len(data)) == data


def test_read_residual_underflow_and_overflow(target):
    ini = login(target)
    r = ini.scsi(cdb10(READ10, 0, 1), lun=1, read_len=4096)      # asks 512, expects 4096
    assert r.status == 0 and r.underflow and r.residual == 4096 - 512 and len(r.data) == 512
    r = ini.scsi(cdb10(READ10, 0, 8), lun=1, read_len=1024)      # asks 4096, expects 1024
    assert r.status == 0 and r.overflow and r.residual == 4096 - 1024 and len(r.data) == 1024
    ini.close()


def test_read_beyond_end_gives_lba_out_of_range_and_no_data(target):
    ini = login(target)
    blocks = (64 << 20) // 512
    r = ini.scsi(cdb10(READ10, blocks - 1, 2), lun=1, read_len=1024)
    assert r.status == 2 and r.sense_key == 5 and r.asc_ascq == (0x21, 0x00)
    assert r.data == b""
    ini.close()


def test_unknown_opcode_is_invalid_command(target):
    ini = login(target)
    r = ini.scsi(bytes([0xC7]) + bytes(15), lun=1)
    assert r.status == 2 and r.sense_key == 5 and r.asc_ascq == (0x20, 0x00)
    ini.close()


def test_missing_lun_is_not_supported(target):
    ini = login(target)
    r = ini.scsi(bytes(6), lun=7)
    assert r.status == 2 and r.sense_key == 5 and r.asc_ascq == (0x25, 0x00)
    r = ini.scsi(bytes([0x12, 0, 0, 0, 36, 0]), lun=7, read_len=36)
    assert r.status == 0 and r.data[0] == 0x7F
    ini.close()


def test_nop_ping_echoes_data(target):
    ini = login(target)
    pdu = ini.nop(b"ping-data")
    assert pdu.data == b"ping-data"
    ini.close()


def test_discovery_sendtargets_lists_target_with_portal(target):
    ini = Initiator("127.0.0.1", target.port)
    ini.login(discovery=True)
    items = ini.text([("SendTargets", "All")])
    assert "TargetName=" + IQN in items
    assert any(i.startswith("TargetAddress=127.0.0.1:%d," % target.port) for i in items)
    assert ini.logout() == 0
    ini.close()


def test_login_unknown_target_fails_not_found(target):
    ini = Initiator("127.0.0.1", target.port)
    with pytest.raises(LoginError) as e:
        ini.login("iqn.2026-11.org.utgt:nope")
    assert (e.value.status_class, e.value.status_detail) == (2, 3)
    ini.close()


def test_login_refused_without_acl(target):
    target.adm("--lld", "iscsi", "--mode", "target", "--op", "unbind", "--tid", "1", "--initiator-address", "ALL")
    ini = Initiator("127.0.0.1", target.port)
    with pytest.raises(LoginError) as e:
        ini.login(IQN)
    assert e.value.status_class == 2
    ini.close()


def test_logout_closes_session(target):
    ini = login(target)
    assert ini.logout() == 0
    ini.close()
    for _ in range(100):
        out = target.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
        if "I_T nexus: " not in out:
            break
        time.sleep(0.05)
    assert "I_T nexus: " not in out
