# SPDX-License-Identifier: GPL-2.0-only
"""The cd/dvd device type (mmc) over iSCSI: MMC commands checked with the project's strict
initiator, the image read back through qemu-img, media change and eject through utgtadm."""
import os
import struct

import pytest

from conftest import run
from devtype_util import login, lu_update, new_target, sense

CD_LUN = 1


def make_iso(workdir, name="disc.iso", blocks=600):
    path = os.path.join(workdir, name)
    data = os.urandom(blocks * 2048)
    with open(path, "wb") as f:
        f.write(data)
    return path, data


def cdb10(op, b1=0, lba=0, b6=0, alloc=0, b9=0):
    return bytes([op, b1]) + struct.pack(">I", lba) + bytes([b6]) + struct.pack(">H", alloc) + bytes([b9])


@pytest.fixture
def cd(daemon, workdir):
    path, data = make_iso(workdir)
    new_target(daemon, "cd", path, CD_LUN)
    daemon.iso, daemon.iso_data = path, data
    return daemon


def test_cd_inquiry_capacity_and_read(cd):
    ini = login(cd, CD_LUN)
    r = ini.scsi([0x12, 0, 0, 0, 96, 0], lun=CD_LUN, read_len=96)
    assert r.status == 0 and r.data[0] == 0x05 and r.data[1] & 0x80  # PDT 5, RMB
    assert b"VIRTUAL-CDROM" in r.data[16:32]
    r = ini.scsi(cdb10(0x25), lun=CD_LUN, read_len=8)
    assert r.status == 0
    last, bs = struct.unpack(">II", r.data)
    assert (last, bs) == (599, 2048)
    r = ini.scsi(cdb10(0x28, lba=10, alloc=4), lun=CD_LUN, read_len=4 * 2048)
    assert r.status == 0 and r.data == cd.iso_data[10 * 2048:14 * 2048]
    r = ini.scsi(bytes([0xa8, 0]) + struct.pack(">II", 598, 2) + bytes([0, 0]), lun=CD_LUN,
                 read_len=2 * 2048)
    assert r.status == 0 and r.data == cd.iso_data[598 * 2048:]
    r = ini.scsi(cdb10(0x28, lba=599, alloc=2), lun=CD_LUN, read_len=2 * 2048)
    assert sense(r) == (5, (0x21, 0))
    # a DVD-ROM is read only
    r = ini.scsi(cdb10(0x2a, lba=0, alloc=1), lun=CD_LUN, data_out=b"\0" * 2048)
    assert sense(r) == (7, (0x27, 0))


def test_cd_read_toc_formats(cd):
    ini = login(cd, CD_LUN)
    r = ini.scsi(cdb10(0x43, b6=0, alloc=100), lun=CD_LUN, read_len=100)
    assert r.status == 0
    assert struct.unpack(">H", r.data[:2])[0] == len(r.data) - 2 == 18
    assert r.data[2:4] == b"\x01\x01"
    assert r.data[6] == 1 and r.data[14] == 0xaa
    assert struct.unpack(">I", r.data[16:20])[0] == 600  # lead-out LBA
    r = ini.scsi(cdb10(0x43, b1=0x02, alloc=100), lun=CD_LUN, read_len=100)  # MSF
    assert r.data[8:12] == bytes([0, 0, 2, 0])  # track 1 at 00:02:00
    lead = 600 + 150
    assert r.data[16:20] == bytes([0, lead // 4500, (lead // 75) % 60, lead % 75])
    r = ini.scsi(cdb10(0x43, lba=0x01000000, alloc=12), lun=CD_LUN, read_len=12)  # format 1
    assert r.status == 0 and r.data[:4] == b"\x00\x0a\x01\x01" and r.data[6] == 1
    r = ini.scsi(cdb10(0x43, lba=0x02000000, alloc=100), lun=CD_LUN, read_len=100)  # format 2
    assert r.status == 0 and struct.unpack(">H", r.data[:2])[0] == 2 + 4 * 11
    points = [r.data[4 + i * 11 + 3] for i in range(4)]
    assert points == [0xa0, 0xa1, 0xa2, 0x01]
    r = ini.scsi(cdb10(0x43, lba=0x05000000, alloc=100), lun=CD_LUN, read_len=100)
    assert sense(r) == (5, (0x24, 0))
    r = ini.scsi(cdb10(0x43, b6=2, alloc=100), lun=CD_LUN, read_len=100)
    assert sense(r) == (5, (0x24, 0))


def test_cd_get_configuration_and_disc_info(cd):
    ini = login(cd, CD_LUN)
    r = ini.scsi(cdb10(0x46, alloc=256), lun=CD_LUN, read_len=256)
    assert r.status == 0
    assert struct.unpack(">H", r.data[6:8])[0] == 0x0010  # current profile DVD-ROM
    feats = []
    off = 8
    while off + 4 <= len(r.data):
        feats.append(struct.unpack(">H", r.data[off:off + 2])[0])
        off += 4 + r.data[off + 3]
    assert feats[:4] == [0, 1, 2, 3] and 0x10 in feats and 0x1f in feats
    assert r.data[12:14] == b"\x00\x1a" and not r.data[14] & 1  # DVD+RW, not current
    assert r.data[16:18] == b"\x00\x10" and r.data[18] & 1  # DVD-ROM profile current
    r = ini.scsi(bytes([0x46, 2, 0, 3, 0, 0, 0, 0, 64, 0]), lun=CD_LUN, read_len=64)  # RT=2
    assert r.status == 0 and r.data[8:10] == b"\x00\x03" and len(r.data) == 16
    r = ini.scsi(cdb10(0x51, alloc=34), lun=CD_LUN, read_len=34)
    assert r.status == 0 and r.data[2] == 0x0e and r.data[4] == 1
    r = ini.scsi(cdb10(0x52, b1=1, lba=1, alloc=36), lun=CD_LUN, read_len=36)
    assert r.status == 0 and struct.unpack(">I", r.data[24:28])[0] == 600
    r = ini.scsi(cdb10(0x52, b1=1, lba=2, alloc=36), lun=CD_LUN, read_len=36)
    assert sense(r) == (5, (0x24, 0))
    r = ini.scsi(bytes([0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0]), lun=CD_LUN, read_len=8)
    assert r.status == 0 and len(r.data) == 8
    r = ini.scsi(bytes([0xbb, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0]), lun=CD_LUN)
    assert r.status == 0


def test_cd_mode_sense_capabilities_page(cd):
    ini = login(cd, CD_LUN)
    r = ini.scsi(bytes([0x5a, 0x08, 0x2a, 0, 0, 0, 0, 0, 128, 0]), lun=CD_LUN, read_len=128)
    assert r.status == 0
    page = r.data[8:]
    assert page[0] == 0x2a and page[1] == 0x14 and page[2] & 0x08  # DVD-ROM read
    assert page[6] & 0x29 == 0x29  # tray, eject, lock


def gesn(ini):
    r = ini.scsi(bytes([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0]), lun=CD_LUN, read_len=8)
    assert r.status == 0 and r.data[2] == 4 and r.data[3] == 0x10
    return r.data[4], r.data[5]


def test_cd_eject_load_prevent_and_events(cd):
    ini = login(cd, CD_LUN)
    assert gesn(ini) == (0, 2)
    r = ini.scsi([0x1e, 0, 0, 0, 1, 0], lun=CD_LUN)  # PREVENT
    assert r.status == 0
    r = ini.scsi([0x1b, 0, 0, 0, 0x02, 0], lun=CD_LUN)  # eject
    assert sense(r) == (5, (0x53, 0x02))
    r = lu_update(cd, "path=", lun=CD_LUN, check=False)
    assert r.returncode != 0
    assert ini.scsi([0x1e, 0, 0, 0, 0, 0], lun=CD_LUN).status == 0  # ALLOW
    assert ini.scsi([0x1b, 0, 0, 0, 0x02, 0], lun=CD_LUN).status == 0
    assert gesn(ini) == (3, 1)  # media removal, tray open
    r = ini.scsi([0, 0, 0, 0, 0, 0], lun=CD_LUN)
    assert sense(r) == (2, (0x3a, 0))
    assert ini.scsi([0x1b, 0, 0, 0, 0x03, 0], lun=CD_LUN).status == 0  # load
    # a disc came in: NOT READY TO READY CHANGE once, then the new media event
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=CD_LUN)) == (6, (0x28, 0))
    assert gesn(ini) == (2, 2)
    assert ini.scsi([0, 0, 0, 0, 0, 0], lun=CD_LUN).status == 0


def test_cd_media_change_through_utgtadm(cd, workdir):
    ini = login(cd, CD_LUN)
    lu_update(cd, "path=", lun=CD_LUN)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=CD_LUN)) == (2, (0x3a, 0))
    assert gesn(ini)[0] == 3
    r = ini.scsi(bytes([0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0]), lun=CD_LUN, read_len=8)
    assert r.status == 0 and r.data[6:8] == b"\0\0"  # no current profile without a disc
    path2, data2 = make_iso(workdir, "disc2.iso", blocks=100)
    lu_update(cd, "path=" + path2, lun=CD_LUN)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=CD_LUN)) == (6, (0x28, 0))
    assert gesn(ini)[0] == 2
    r = ini.scsi(cdb10(0x25), lun=CD_LUN, read_len=8)
    assert struct.unpack(">II", r.data) == (99, 2048)
    r = ini.scsi(cdb10(0x28, lba=0, alloc=100), lun=CD_LUN, read_len=100 * 2048)
    assert r.status == 0 and r.data == data2
    show = cd.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert "cd/dvd" in show and path2 in show


def test_cd_empty_drive(daemon, workdir):
    new_target(daemon, "cd", None, CD_LUN)
    ini = login(daemon, CD_LUN)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=CD_LUN)) == (2, (0x3a, 0))
    r = ini.scsi([0x12, 0, 0, 0, 96, 0], lun=CD_LUN, read_len=96)
    assert r.status == 0 and r.data[0] == 5
    assert gesn(ini) == (0, 0)
    path, data = make_iso(workdir, blocks=16)
    lu_update(daemon, "path=" + path, lun=CD_LUN)
    r = ini.scsi(cdb10(0x28, lba=0, alloc=16), lun=CD_LUN, read_len=16 * 2048)
    assert sense(r) == (6, (0x28, 0))  # the disc came in
    r = ini.scsi(cdb10(0x28, lba=0, alloc=16), lun=CD_LUN, read_len=16 * 2048)
    assert r.status == 0 and r.data == data


def test_cd_qemu_img_reads_image(cd, workdir):
    out = os.path.join(workdir, "out.raw")
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", cd.url(lun=CD_LUN), out])
    with open(out, "rb") as f:
        assert f.read() == cd.iso_data


def test_cd_dvd_plus_rw_media(cd):
    lu_update(cd, "readonly=0", lun=CD_LUN)
    ini = login(cd, CD_LUN)
    r = ini.scsi(cdb10(0x46, alloc=256), lun=CD_LUN, read_len=256)
    assert struct.unpack(">H", r.data[6:8])[0] == 0x001a  # DVD+RW current
    feats = {}
    off = 8
    while off + 4 <= len(r.data):
        feats[struct.unpack(">H", r.data[off:off + 2])[0]] = r.data[off + 2] & 1
        off += 4 + r.data[off + 3]
    assert feats[0x20] == 1 and feats[0x2a] == 1
    data = os.urandom(3 * 2048)
    r = ini.scsi(cdb10(0x2a, lba=5, alloc=3), lun=CD_LUN, data_out=data)
    assert r.status == 0
    r = ini.scsi(bytes([0xaa, 0]) + struct.pack(">II", 20, 1) + bytes(2), lun=CD_LUN,
                 data_out=data[:2048])
    assert r.status == 0
    assert ini.scsi(cdb10(0x35), lun=CD_LUN).status == 0
    assert ini.scsi(cdb10(0x53, lba=0, b6=0, alloc=0), lun=CD_LUN).status == 0
    assert ini.scsi(bytes([0x5b, 0, 0x01, 0, 0, 1, 0, 0, 0, 0]), lun=CD_LUN).status == 0
    r = ini.scsi(cdb10(0x28, lba=5, alloc=3), lun=CD_LUN, read_len=3 * 2048)
    assert r.data == data
    with open(cd.iso, "rb") as f:
        f.seek(20 * 2048)
        assert f.read(2048) == data[:2048]
    r = ini.scsi(cdb10(0x51, alloc=34), lun=CD_LUN, read_len=34)
    assert r.data[2] & 0x10  # erasable
    lu_update(cd, "readonly=1", lun=CD_LUN)
    r = ini.scsi(cdb10(0x2a, lba=5, alloc=1), lun=CD_LUN, data_out=data[:2048])
    assert sense(r) == (7, (0x27, 0))


def test_cd_libiscsi_inquiry(cd):
    r = run(["iscsi-inq", cd.url(lun=CD_LUN)])
    assert "VIRTUAL-CDROM" in r.stdout
