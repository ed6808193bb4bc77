# SPDX-License-Identifier: GPL-2.0-only
"""The tape device type (ssc) over iSCSI with the project's initiator: cartridges made with
utgtimg; files written with filemarks in variable and fixed block mode, spaced over, located,
rewound and read back identical; positions, sense data, write protection and end of medium."""
import os
import struct

import pytest

from conftest import BUILD, run
from devtype_util import login, lu_update, new_target, sense

UTGTIMG = os.path.join(BUILD, "tools", "utgtimg", "utgtimg")
LUN = 1


def utgtimg(*args, check=True):
    return run([UTGTIMG] + list(args), check=check)


def new_tape(workdir, name="tape1.img", barcode="TAPE0001", size_mb=64):
    path = os.path.join(workdir, name)
    utgtimg("--op", "new", "--device-type", "tape", "--barcode", barcode, "--size", str(size_mb),
            "--file", path)
    return path


def info(r):
    return struct.unpack(">i", r.sense[3:7])[0]


def b24(n):
    return list(struct.pack(">I", n & 0xffffff)[1:])


def write(ini, data, fixed=False, blk=0):
    n = len(data) // blk if fixed else len(data)
    return ini.scsi([0x0a, 1 if fixed else 0] + b24(n) + [0], lun=LUN, data_out=data)


def read(ini, n, fixed=False, blk=0, sili=False):
    return ini.scsi([0x08, (1 if fixed else 0) | (2 if sili else 0)] + b24(n) + [0], lun=LUN,
                    read_len=n * blk if fixed else n)


def wfm(ini, n=1):
    return ini.scsi([0x10, 0] + b24(n) + [0], lun=LUN)


def space(ini, code, count):
    return ini.scsi([0x11, code] + b24(count) + [0], lun=LUN)


def rewind(ini):
    assert ini.scsi([0x01, 0, 0, 0, 0, 0], lun=LUN).status == 0


def pos_long(ini):
    r = ini.scsi([0x34, 6, 0, 0, 0, 0, 0, 0, 0, 0], lun=LUN, read_len=32)
    assert r.status == 0
    return struct.unpack(">QQ", r.data[8:24])


@pytest.fixture
def tape(daemon, workdir):
    daemon.tape = new_tape(workdir)
    new_target(daemon, "tape", daemon.tape, LUN)
    return daemon


FILES = [[os.urandom(1000), os.urandom(2000)], [os.urandom(512)], [os.urandom(70000)]]


def write_files(ini):
    for recs in FILES:
        for rec in recs:
            assert write(ini, rec).status == 0
        assert wfm(ini).status == 0


def test_tape_identity_limits_and_mode(tape):
    ini = login(tape, LUN)
    r = ini.scsi([0x12, 0, 0, 0, 96, 0], lun=LUN, read_len=96)
    assert r.data[0] == 0x01 and r.data[1] & 0x80 and b"VIRTUAL-TAPE" in r.data[16:32]
    r = ini.scsi([0x05, 0, 0, 0, 0, 0], lun=LUN, read_len=6)
    assert r.status == 0 and struct.unpack(">I", b"\0" + r.data[1:4])[0] == 8 << 20
    r = ini.scsi([0x1a, 0, 0x3f, 0, 255, 0], lun=LUN, read_len=255)
    assert r.status == 0 and r.data[3] == 8 and r.data[2] == 0x10  # buffered, not WP
    assert r.data[4] == 0x40 and r.data[9:12] == b"\0\0\0"  # density, variable
    pages = r.data[12:]
    assert pages[0] == 0x01 and pages[12] == 0x0f and pages[28] == 0x10
    r = ini.scsi([0x44, 0, 0, 0, 0, 0, 0, 0, 60, 0], lun=LUN, read_len=60)
    assert r.status == 0 and r.data[4] == 0x40 and r.data[6] & 0x80
    assert struct.unpack(">I", r.data[16:20])[0] == 64  # MB


def test_tape_files_filemarks_space_rewind(tape):
    ini = login(tape, LUN)
    write_files(ini)
    assert pos_long(ini) == (7, 3)
    rewind(ini)
    assert pos_long(ini) == (0, 0)
    r = ini.scsi([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], lun=LUN, read_len=20)
    assert r.status == 0 and r.data[0] & 0x80  # BOP
    assert read(ini, 1000).data == FILES[0][0]
    assert read(ini, 2000).data == FILES[0][1]
    r = read(ini, 4096)
    assert sense(r) == (0, (0, 1)) and r.sense[2] & 0x80 and info(r) == 4096  # filemark
    assert read(ini, 512).data == FILES[1][0]
    assert space(ini, 1, 1).status == 0  # skip the filemark ending file 2
    assert read(ini, 70000).data == FILES[2][0]
    rewind(ini)
    assert space(ini, 1, 2).status == 0
    assert read(ini, 70000).data == FILES[2][0]
    assert space(ini, 1, -2).status == 0  # back over the marks ending files 2 and 1
    assert pos_long(ini) == (2, 0)  # on the BOT side of the first filemark
    assert space(ini, 1, 1).status == 0
    r = space(ini, 0, -2)  # the filemark ending file 1 stops block spacing at once
    assert sense(r) == (0, (0, 1)) and info(r) == 2
    assert pos_long(ini) == (2, 0)
    r = space(ini, 0, 5)  # forward: the same filemark, crossed
    assert sense(r) == (0, (0, 1)) and info(r) == 5
    assert pos_long(ini) == (3, 1)
    assert space(ini, 3, 0).status == 0  # end of data
    assert pos_long(ini) == (7, 3)
    r = read(ini, 100)
    assert sense(r) == (8, (0, 5))
    rewind(ini)
    r = space(ini, 0, -1)
    assert sense(r) == (0, (0, 4)) and r.sense[2] & 0x40  # BOM
    utgt = utgtimg("--op", "show", "--file", tape.tape).stdout
    assert "Data blocks: 4" in utgt and "Filemarks: 3" in utgt and "Barcode: TAPE0001" in utgt


def test_tape_locate_and_read_position(tape):
    ini = login(tape, LUN)
    write_files(ini)
    r = ini.scsi([0x2b, 0, 0] + list(struct.pack(">I", 3)) + [0, 0, 0], lun=LUN)
    assert r.status == 0
    r = ini.scsi([0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0], lun=LUN, read_len=20)
    assert struct.unpack(">II", r.data[4:12]) == (3, 3)
    assert read(ini, 512).data == FILES[1][0]
    r = ini.scsi([0x92, 0x08, 0, 0] + list(struct.pack(">Q", 2)) + [0, 0, 0, 0], lun=LUN)
    assert r.status == 0 and pos_long(ini) == (5, 2)  # LOCATE(16) to file 2
    assert read(ini, 70000).data == FILES[2][0]
    r = ini.scsi([0x92, 0, 0, 0] + list(struct.pack(">Q", 99)) + [0, 0, 0, 0], lun=LUN)
    assert sense(r) == (8, (0, 5))
    r = ini.scsi([0x34, 8, 0, 0, 0, 0, 0, 0, 0, 0], lun=LUN, read_len=32)
    assert sense(r) == (5, (0x24, 0))


def test_tape_fixed_block_mode_and_ili(tape):
    ini = login(tape, LUN)
    hdr = bytes([0, 0, 0x10, 8]) + bytes([0x40, 0, 0, 0, 0]) + struct.pack(">I", 512)[1:]
    assert ini.scsi([0x15, 0x10, 0, 0, len(hdr), 0], lun=LUN, data_out=hdr).status == 0
    r = ini.scsi([0x1a, 0, 0, 0, 12, 0], lun=LUN, read_len=12)
    assert r.data[9:12] == b"\x00\x02\x00"
    data = os.urandom(4 * 512)
    assert write(ini, data, fixed=True, blk=512).status == 0
    assert wfm(ini).status == 0
    rewind(ini)
    r = read(ini, 4, fixed=True, blk=512)
    assert r.status == 0 and r.data == data
    rewind(ini)
    r = read(ini, 6, fixed=True, blk=512)  # 4 blocks then the filemark
    assert sense(r) == (0, (0, 1)) and info(r) == 2 and r.data == data
    # back to variable mode: a short read of a 512-byte block is an ILI with a negative residual
    hdr = bytes([0, 0, 0x10, 8]) + bytes(8)
    assert ini.scsi([0x15, 0x10, 0, 0, len(hdr), 0], lun=LUN, data_out=hdr).status == 0
    rewind(ini)
    r = read(ini, 100)
    assert r.sense_key == 0 and r.sense[2] & 0x20 and info(r) == 100 - 512
    r = read(ini, 1024, sili=True)  # SILI: a shorter block is fine
    assert r.status == 0 and r.data == data[512:1024]
    r = ini.scsi([0x08, 1, 0, 0, 1, 0], lun=LUN, read_len=512)  # FIXED in variable mode
    assert sense(r) == (5, (0x24, 0))


def test_tape_data_with_sense(tape):
    """A read that ends in a condition returns the data before it: Data-In PDUs without
    status, then a SCSI Response with CHECK CONDITION, sense and the residual (what the Linux
    st driver needs for short variable blocks); a condition with nothing read sends no data."""
    ini = login(tape, LUN)
    recs = [os.urandom(1000), os.urandom(70000), os.urandom(2000)]
    for rec in recs:
        assert write(ini, rec).status == 0
    assert wfm(ini).status == 0
    rewind(ini)
    r = read(ini, 4096)  # shorter block: ILI, its 1000 bytes, underflow 3096
    assert sense(r) == (0, (0, 0)) and r.sense[2] & 0x20 and info(r) == 3096
    assert r.data == recs[0] and r.underflow and r.residual == 3096
    r = read(ini, 131072)  # many Data-In PDUs, then the status
    assert r.status == 2 and info(r) == 131072 - 70000 and r.data == recs[1]
    r = read(ini, 100)  # longer block: the first 100 bytes, no residual
    assert r.status == 2 and info(r) == -1900 and r.data == recs[2][:100]
    assert not r.underflow and not r.overflow
    r = read(ini, 100)  # the filemark: sense only
    assert sense(r) == (0, (0, 1)) and r.data == b""
    r = read(ini, 100)  # end of data
    assert sense(r) == (8, (0, 5)) and r.data == b""


def test_tape_erase_load_unload_prevent(tape):
    ini = login(tape, LUN)
    write_files(ini)
    rewind(ini)
    assert space(ini, 1, 1).status == 0
    assert ini.scsi([0x19, 1, 0, 0, 0, 0], lun=LUN).status == 0  # ERASE from file 2 on
    assert space(ini, 3, 0).status == 0 and pos_long(ini) == (3, 1)
    assert ini.scsi([0x1e, 0, 0, 0, 1, 0], lun=LUN).status == 0
    r = ini.scsi([0x1b, 0, 0, 0, 0, 0], lun=LUN)
    assert sense(r) == (5, (0x53, 0x02))
    assert ini.scsi([0x1e, 0, 0, 0, 0, 0], lun=LUN).status == 0
    assert ini.scsi([0x1b, 0, 0, 0, 0, 0], lun=LUN).status == 0  # unload
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN)) == (2, (0x3a, 0))
    assert ini.scsi([0x1b, 0, 0, 0, 1, 0], lun=LUN).status == 0  # load
    # the cartridge came online: NOT READY TO READY CHANGE once (the st driver's new session)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN)) == (6, (0x28, 0))
    assert ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN).status == 0
    assert ini.scsi([0x1b, 0, 0, 0, 1, 0], lun=LUN).status == 0  # load again: already online
    assert ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN).status == 0
    assert pos_long(ini) == (0, 0)
    assert read(ini, 1000).data == FILES[0][0]


def test_tape_write_protect_and_cartridge_change(tape, workdir):
    ini = login(tape, LUN)
    wp = new_tape(workdir, "wp.img", barcode="WP000001")
    utgtimg("--op", "label", "--file", wp, "--write-protect", "on")
    assert "Write protected: yes" in utgtimg("--op", "show", "--file", wp).stdout
    lu_update(tape, "path=" + wp, lun=LUN)
    ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN)
    r = write(ini, b"x" * 100)
    assert sense(r) == (7, (0x27, 0))
    r = ini.scsi([0x1a, 0, 0, 0, 12, 0], lun=LUN, read_len=12)
    assert r.data[2] & 0x80
    lu_update(tape, "path=", lun=LUN)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN)) == (2, (0x3a, 0))
    bad = os.path.join(workdir, "bad.img")
    with open(bad, "wb") as f:
        f.write(b"\0" * 4096)
    r = lu_update(tape, "path=" + bad, lun=LUN, check=False)
    assert r.returncode != 0
    lu_update(tape, "path=" + tape.tape, lun=LUN)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN)) == (6, (0x28, 0))
    assert ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN).status == 0
    assert write(ini, b"y" * 100).status == 0


def test_tape_early_warning_and_end_of_medium(daemon, workdir):
    path = new_tape(workdir, "small.img", size_mb=1)
    new_target(daemon, "tape", path, LUN)
    ini = login(daemon, LUN)
    rec = os.urandom(16384)
    statuses = []
    for _ in range(80):
        r = write(ini, rec)
        statuses.append((r.status, r.sense_key, r.asc_ascq))
        if r.sense_key == 0x0d:
            break
    assert statuses[0] == (0, None, None)
    ew = [s for s in statuses if s[1] == 0]
    assert ew and ew[0][2] == (0, 2)  # early warning: EOM, write done
    assert statuses[-1][1] == 0x0d and statuses[-1][2] == (0, 2)  # VOLUME OVERFLOW
    assert 60 < len(statuses) < 70
    rewind(ini)
    assert read(ini, 16384).data == rec


def test_tape_empty_drive_and_bstype(daemon, workdir):
    new_target(daemon, "tape", None, LUN)
    ini = login(daemon, LUN)
    assert sense(ini.scsi([0, 0, 0, 0, 0, 0], lun=LUN)) == (2, (0x3a, 0))
    # utgtadm forces the ssc store for tapes, as tgtadm does
    daemon.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1",
               "--lun", "2", "--device-type", "tape", "--bstype", "rdwr",
               "--backing-store", new_tape(workdir))
    show = daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert "Type: tape" in show and "Backing store type: ssc" in show


def test_tape_libiscsi_inquiry_and_opcodes(tape):
    r = run(["iscsi-inq", tape.url(lun=LUN)])
    assert "VIRTUAL-TAPE" in r.stdout
    ini = login(tape, LUN)
    r = ini.scsi(bytes([0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]), lun=LUN, read_len=4096)
    assert r.status == 0
    n = struct.unpack(">I", r.data[:4])[0]
    ops = {r.data[4 + i] for i in range(0, n, 8)}
    assert {0x01, 0x05, 0x08, 0x0a, 0x10, 0x11, 0x19, 0x1b, 0x2b, 0x34, 0x44, 0x92} <= ops
    assert 0x28 not in ops
