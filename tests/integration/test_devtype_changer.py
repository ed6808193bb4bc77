# SPDX-License-Identifier: GPL-2.0-only
"""The media changer device type (smc) over iSCSI: a library configured with tgt's --params
keys, READ ELEMENT STATUS with volume tags, MOVE MEDIUM that loads and unloads cartridges in
the tape LUs of the same target, INITIALIZE ELEMENT STATUS, POSITION TO ELEMENT, mode pages."""
import os
import struct

import pytest

from conftest import BUILD, IQN, make_backing, run
from devtype_util import lu_update, sense
from iscsi_client import Initiator

UTGTIMG = os.path.join(BUILD, "tools", "utgtimg", "utgtimg")
CHANGER = 3


@pytest.fixture
def library(daemon, workdir):
    home = os.path.join(workdir, "tapes")
    os.mkdir(home)
    for bc in ("A0000001", "A0000002"):
        run([UTGTIMG, "--op", "new", "--device-type", "tape", "--barcode", bc, "--size", "16",
             "--file", os.path.join(home, bc)])
    d = daemon
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
    for lun in (1, 2):
        d.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
              "--lun", str(lun), "--device-type", "tape")
    d.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
          "--lun", str(CHANGER), "--device-type", "changer",
          "--backing-store", make_backing(workdir, "changer.img", 1 << 20))
    for p in ("element_type=1,start_address=1,quantity=1",
              "element_type=2,start_address=1000,quantity=8",
              "element_type=2,address=1000,barcode=A0000001,sides=1",
              "element_type=2,address=1001,barcode=A0000002",
              "element_type=3,start_address=10,quantity=2",
              "element_type=4,start_address=2,quantity=2",
              "element_type=4,address=2,tid=1,lun=1",
              "element_type=4,address=3,tid=1,lun=2",
              "media_home=" + home):
        lu_update(d, p, lun=CHANGER)
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1",
          "--initiator-address", "ALL")
    d.home = home
    return d


def login(d):
    ini = Initiator("127.0.0.1", d.port)
    ini.login(IQN)
    for lun in (1, 2, CHANGER):
        for _ in range(4):
            if ini.scsi([0, 0, 0, 0, 0, 0], lun=lun).status != 2 or \
                    ini.scsi([0, 0, 0, 0, 0, 0], lun=lun).sense_key != 6:
                break
    return ini


def res(ini, etype=0, start=0, count=0xffff, voltag=True, alloc=4096):
    cdb = bytes([0xb8, (0x10 if voltag else 0) | etype]) + struct.pack(">HH", start, count) + \
        bytes([0]) + struct.pack(">I", alloc)[1:] + bytes([0, 0])
    r = ini.scsi(cdb, lun=CHANGER, read_len=alloc)
    assert r.status == 0, sense(r)
    first, n = struct.unpack(">HH", r.data[:4])
    elems = {}
    off = 8
    while off < len(r.data):
        t, flags = r.data[off], r.data[off + 1]
        dlen = struct.unpack(">H", r.data[off + 2:off + 4])[0]
        total = struct.unpack(">I", b"\0" + r.data[off + 5:off + 8])[0]
        for p in range(off + 8, off + 8 + total, dlen):
            e = r.data[p:p + dlen]
            addr = struct.unpack(">H", e[:2])[0]
            tag = e[12:44].decode().strip() if flags & 0x80 else None
            src = struct.unpack(">H", e[10:12])[0] if e[9] & 0x80 else None
            elems[addr] = dict(type=t, full=bool(e[2] & 1), tag=tag, src=src)
        off += 8 + total
    assert n == len(elems)
    return first, elems


def move(ini, src, dst, mt=1):
    return ini.scsi(bytes([0xa5, 0]) + struct.pack(">HHH", mt, src, dst) + bytes(4), lun=CHANGER)


def test_changer_inquiry_and_mode_pages(library):
    ini = login(library)
    r = ini.scsi([0x12, 0, 0, 0, 96, 0], lun=CHANGER, read_len=96)
    assert r.data[0] == 0x08 and b"VIRTUAL-CHANGER" in r.data[16:32]
    r = ini.scsi([0x1a, 0x08, 0x1d, 0, 255, 0], lun=CHANGER, read_len=255)
    assert r.status == 0
    p = r.data[4:]
    assert p[0] == 0x1d and struct.unpack(">8H", p[2:18]) == (1, 1, 1000, 8, 10, 2, 2, 2)
    r = ini.scsi([0x1a, 0x08, 0x3f, 0, 255, 0], lun=CHANGER, read_len=255)
    pages = r.data[4:]
    codes = []
    off = 0
    while off < len(pages):
        codes.append(pages[off])
        off += 2 + pages[off + 1]
    assert codes == [0x1d, 0x1e, 0x1f]


def test_changer_read_element_status(library):
    ini = login(library)
    first, elems = res(ini)
    assert first == 1 and len(elems) == 1 + 8 + 2 + 2
    assert elems[1]["type"] == 1 and elems[10]["type"] == 3 and elems[2]["type"] == 4
    assert elems[1000] == dict(type=2, full=True, tag="A0000001", src=None)
    assert elems[1001]["tag"] == "A0000002" and not elems[1002]["full"]
    first, elems = res(ini, etype=2, start=1001, count=2)
    assert first == 1001 and sorted(elems) == [1001, 1002]
    _, elems = res(ini, etype=4, voltag=False)
    assert sorted(elems) == [2, 3] and elems[2]["tag"] is None
    r = ini.scsi(bytes([0xb8, 0x05, 0, 0, 0, 10, 0, 0, 1, 0, 0, 0]), lun=CHANGER, read_len=256)
    assert sense(r) == (5, (0x24, 0))


def test_changer_move_medium_loads_tape(library):
    ini = login(library)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=1)) == (2, (0x3a, 0))
    assert move(ini, 1000, 2).status == 0
    _, elems = res(ini)
    assert elems[2] == dict(type=4, full=True, tag="A0000001", src=1000)
    assert not elems[1000]["full"]
    ini.scsi([0, 0, 0, 0, 0, 0], lun=1)
    assert ini.scsi([0, 0, 0, 0, 0, 0], lun=1).status == 0
    data = os.urandom(4096)
    assert ini.scsi([0x0a, 0, 0, 0x10, 0, 0], lun=1, data_out=data).status == 0
    assert ini.scsi([0x10, 0, 0, 0, 1, 0], lun=1).status == 0
    # a drive that prevents removal keeps its cartridge
    assert ini.scsi([0x1e, 0, 0, 0, 1, 0], lun=1).status == 0
    assert sense(move(ini, 2, 1005)) == (5, (0x53, 0x02))
    assert ini.scsi([0x1e, 0, 0, 0, 0, 0], lun=1).status == 0
    assert move(ini, 2, 1005).status == 0
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=1)) == (2, (0x3a, 0))
    _, elems = res(ini)
    assert elems[1005]["tag"] == "A0000001" and elems[1005]["src"] == 1000
    # the data is on the cartridge: load it into the other drive and read it back
    assert move(ini, 1005, 3).status == 0
    ini.scsi([0, 0, 0, 0, 0, 0], lun=2)
    r = ini.scsi([0x08, 0, 0, 0x10, 0, 0], lun=2, read_len=4096)
    assert r.status == 0 and r.data == data
    out = run([UTGTIMG, "--op", "show", "--file", os.path.join(library.home, "A0000001")]).stdout
    assert "Data blocks: 1" in out and "Filemarks: 1" in out
    # import/export slot
    assert move(ini, 1001, 10).status == 0
    _, elems = res(ini, etype=3)
    assert elems[10]["full"] and elems[10]["tag"] == "A0000002"


def test_changer_move_errors(library):
    ini = login(library)
    assert sense(move(ini, 1002, 1003)) == (5, (0x3b, 0x0e))  # source empty
    assert sense(move(ini, 1000, 1001)) == (5, (0x3b, 0x0d))  # destination full
    assert sense(move(ini, 1000, 4000)) == (5, (0x21, 0x01))  # no such element
    assert sense(move(ini, 1000, 1002, mt=1000)) == (5, (0x21, 0x01))  # not a transport


def test_changer_init_and_position(library):
    ini = login(library)
    assert ini.scsi([0x07, 0, 0, 0, 0, 0], lun=CHANGER).status == 0
    r = ini.scsi(bytes([0x37, 1]) + struct.pack(">H", 1000) + bytes(2) + struct.pack(">H", 4) +
                 bytes(2), lun=CHANGER)
    assert r.status == 0
    r = ini.scsi(bytes([0x2b, 0]) + struct.pack(">HH", 1, 1000) + bytes(4), lun=CHANGER)
    assert r.status == 0
    r = ini.scsi(bytes([0x2b, 0]) + struct.pack(">HH", 1, 4242) + bytes(4), lun=CHANGER)
    assert sense(r) == (5, (0x21, 0x01))
    assert ini.scsi([0x1e, 0, 0, 0, 1, 0], lun=CHANGER).status == 0
    assert ini.scsi([0x1e, 0, 0, 0, 0, 0], lun=CHANGER).status == 0


def test_changer_bad_params(library):
    assert lu_update(library, "element_type=9", lun=CHANGER, check=False).returncode != 0
    assert lu_update(library, "element_type=2,address=77", lun=CHANGER, check=False).returncode != 0
    assert lu_update(library, "element_type=2,start_address=1000,quantity=1", lun=CHANGER,
                     check=False).returncode != 0  # overlaps
    assert lu_update(library, "element_type=4,address=2,lun=3", lun=CHANGER,
                     check=False).returncode != 0  # not a tape
    assert lu_update(library, "bogus=1", lun=CHANGER, check=False).returncode != 0
    lu_update(library, "element_type=2,address=1000,clear_slot=1", lun=CHANGER)
    ini = login(library)
    _, elems = res(ini, etype=2)
    assert not elems[1000]["full"]
