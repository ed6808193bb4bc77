# SPDX-License-Identifier: GPL-2.0-only
"""The object storage device type (osd) over iSCSI, driven by a small OSD-2 client written here
(the Linux kernel dropped its OSD initiator): 236-byte CDBs travel in an extended-CDB AHS.
Format, partitions, objects, write/read/append, attributes (one in the CDB, set lists, pages),
LIST, removal, the directory store on disk, and hostile CDBs."""
import os
import random
import struct

import pytest

from conftest import IQN, Daemon
from devtype_util import login, new_lu, new_target, sense

LUN = 1
CDB_LEN = 236
UNUSED = 0xFFFFFFFF
FIRST_ID = 0x10000

FORMAT, CREATE, LIST, READ, WRITE, APPEND, FLUSH = 0x8881, 0x8882, 0x8883, 0x8885, 0x8886, \
    0x8887, 0x8888
REMOVE, CREATE_PARTITION, REMOVE_PARTITION = 0x888A, 0x888B, 0x888C
GET_ATTRIBUTES, SET_ATTRIBUTES, FLUSH_OSD = 0x888E, 0x888F, 0x889C
SERVICE_ACTIONS = [FORMAT, CREATE, LIST, READ, WRITE, APPEND, FLUSH, REMOVE, CREATE_PARTITION,
                   REMOVE_PARTITION, GET_ATTRIBUTES, SET_ATTRIBUTES, FLUSH_OSD]

USER_INFO, PART_INFO, ROOT_INFO = 0x1, 0x30000001, 0x90000001
CHECK = 2
ILLEGAL = 5
INVALID_CDB = (0x24, 0)
INVALID_PARAM = (0x26, 0)


def off(n):
    """A Data-In/Data-Out offset in bytes (exponent -8: shift 0)."""
    assert n < (1 << 28)
    return 0x80000000 | n


def cdb(sa, pid=0, oid=0, length=0, start=0, fmt=2, cso=0, attrs=None):
    """An OSD-2 CDB; attrs are the 28 bytes at 52 (page format with nothing by default)."""
    c = bytearray(CDB_LEN)
    c[0] = 0x7F
    c[7] = CDB_LEN - 8
    struct.pack_into(">H", c, 8, sa)
    c[11] = (fmt << 4) | cso
    struct.pack_into(">QQQQ", c, 16, pid, oid, length, start)
    if attrs is None:
        attrs = page_attrs()
    c[52:80] = attrs
    return c


def page_attrs(get_page=0, get_alloc=0, get_off=UNUSED, set_page=0, set_num=0, set_len=0,
               set_off=UNUSED):
    return struct.pack(">7I", get_page, get_alloc, get_off, set_page, set_num, set_len, set_off)


def one_attr(page, num, value):
    return struct.pack(">IIH", page, num, len(value)) + value.ljust(18, b"\0")


def list_attrs(set_bytes, set_off):
    return struct.pack(">7I", 0, UNUSED, 0, UNUSED, set_bytes, set_off, 0)


def attr_list(entries):
    """A set/retrieved attributes list (type 9): 16-byte element headers, 8-byte aligned."""
    body = b""
    for page, num, value in entries:
        e = struct.pack(">II6xH", page, num, len(value)) + value
        body += e + b"\0" * (-len(e) % 8)
    return struct.pack(">B3xI", 9, len(body)) + body


def parse_list(data):
    assert data[0] & 0x0F == 9
    n = struct.unpack(">I", data[4:8])[0]
    out, pos = {}, 8
    while pos < 8 + n and pos + 16 <= len(data):
        page, num, ln = struct.unpack(">II6xH", data[pos:pos + 16])
        out[(page, num)] = data[pos + 16:pos + 16 + ln]
        pos += (16 + ln + 7) & ~7
    return out


class OSD:
    """The OSD-2 client: one method per command, results checked by the caller."""

    def __init__(self, ini):
        self.ini = ini

    def run(self, c, data_out=None, read_len=0):
        return self.ini.scsi(c, lun=LUN, data_out=data_out, read_len=read_len)

    def ok(self, c, data_out=None, read_len=0):
        r = self.run(c, data_out, read_len)
        assert r.status == 0, "sense %s" % r.sense.hex()
        return r

    def info(self, sa, pid=0, oid=0, page=USER_INFO, **kw):
        """Runs sa and returns the information page it retrieves (page format)."""
        r = self.ok(cdb(sa, pid, oid, attrs=page_attrs(page, 128, off(0)), **kw), read_len=128)
        assert struct.unpack(">I", r.data[:4])[0] == page
        return r.data[8:8 + struct.unpack(">I", r.data[4:8])[0]]

    def create_partition(self, pid=0):
        return struct.unpack(">Q", self.info(CREATE_PARTITION, pid, page=PART_INFO)[40:48])[0]

    def create(self, pid, oid=0):
        v = self.info(CREATE, pid, oid)
        assert struct.unpack(">Q", v[40:48])[0] == pid
        return struct.unpack(">Q", v[48:56])[0]

    def write(self, pid, oid, data, start=0):
        return self.ok(cdb(WRITE, pid, oid, len(data), start), data_out=data)

    def append(self, pid, oid, data):
        return self.ok(cdb(APPEND, pid, oid, len(data)), data_out=data)

    def read(self, pid, oid, n, start=0):
        return self.ok(cdb(READ, pid, oid, n, start), read_len=n).data

    def length(self, pid, oid):
        return struct.unpack(">Q", self.info(GET_ATTRIBUTES, pid, oid)[64:72])[0]

    def list(self, pid=0, alloc=4096, start=0):
        d = self.ok(cdb(LIST, pid, 0, alloc, start), read_len=alloc).data
        add, cont, _lid = struct.unpack(">QQI", d[:20])
        ids = [struct.unpack(">Q", d[i:i + 8])[0] for i in range(24, 8 + add, 8)]
        return ids, cont, d[23]

    def get_all(self, pid, oid=0):
        r = self.ok(cdb(GET_ATTRIBUTES, pid, oid, attrs=page_attrs(UNUSED, 4096, off(0))),
                    read_len=4096)
        return parse_list(r.data)


def field(r):
    """(C/D, byte) of the sense-key-specific field pointer."""
    assert r.sense[15] & 0x80, r.sense.hex()
    return (bool(r.sense[15] & 0x40), struct.unpack(">H", r.sense[16:18])[0])


@pytest.fixture
def osd(daemon, workdir):
    store = os.path.join(workdir, "objects")
    new_target(daemon, "osd", store, LUN)
    ini = login(daemon, LUN)
    o = OSD(ini)
    o.daemon, o.store = daemon, store
    yield o
    ini.close()


def test_osd_identity(osd):
    inq = osd.ini.scsi([0x12, 0, 0, 0, 96, 0], lun=LUN, read_len=96)
    assert inq.status == 0 and inq.data[0] == 0x11
    assert inq.data[16:32].rstrip() == b"OSD"
    assert 0x0360 in struct.unpack(">8H", inq.data[58:74])     # OSD-2 version descriptor
    luns = osd.ini.scsi([0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0], lun=LUN, read_len=64)
    assert luns.status == 0 and luns.data[8:16] == bytes(8) and luns.data[17] == LUN
    assert osd.ini.scsi([0] * 6, lun=LUN).status == 0
    show = osd.daemon.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
    assert "Type: osd" in show
    root = osd.info(GET_ATTRIBUTES, page=ROOT_INFO)
    assert root[:28] == b"INCITS  T10 Root Information"
    assert root[40:48] == b"UTGT    " and root[48:64].rstrip() == b"OSD"


def test_osd_objects_roundtrip(osd):
    osd.ok(cdb(FORMAT, length=64 << 20))
    pid = osd.create_partition()
    assert pid == FIRST_ID
    assert osd.create_partition(0x20000) == 0x20000
    oid = osd.create(pid)
    assert oid == FIRST_ID
    oid2 = osd.create(pid, 0x12345)
    assert oid2 == 0x12345

    data = os.urandom(300 * 1024)                  # several R2Ts
    osd.write(pid, oid, data)
    assert osd.read(pid, oid, len(data)) == data
    osd.append(pid, oid, b"tail")
    assert osd.length(pid, oid) == len(data) + 4
    assert osd.read(pid, oid, 10, start=len(data)) == b"tail" + bytes(6)  # zeroes past the end
    osd.write(pid, oid2, b"x" * 10, start=100)
    assert osd.read(pid, oid2, 110) == bytes(100) + b"x" * 10

    # READ with the information page after the data, in the same Data-In
    c = cdb(READ, pid, oid, 16, 0, attrs=page_attrs(USER_INFO, 80, off(64)))
    r = osd.ok(c, read_len=144)
    assert r.data[:16] == data[:16] and r.data[16:64] == bytes(48)
    assert struct.unpack(">I", r.data[64:68])[0] == USER_INFO

    ids, cont, flags = osd.list()
    assert ids == [pid, 0x20000] and cont == 0 and flags & 1
    ids, cont, flags = osd.list(pid)
    assert ids == [oid, oid2] and not flags & 1
    ids, cont, _ = osd.list(pid, alloc=24 + 8)    # room for one id: continue from the next
    assert ids == [oid] and cont == oid2
    assert osd.list(pid, start=cont)[0] == [oid2]

    root = osd.info(GET_ATTRIBUTES, page=ROOT_INFO)
    assert struct.unpack(">QQQ", root[88:112]) == (64 << 20, len(data) + 4 + 110, 2)
    part = osd.info(GET_ATTRIBUTES, pid, page=PART_INFO)
    assert struct.unpack(">QQQ", part[40:64]) == (pid, len(data) + 4 + 110, 2)

    # the store on disk
    pdir = os.path.join(osd.store, "p%016x" % pid)
    assert sorted(os.listdir(pdir)) == ["o%016x" % oid, "o%016x" % oid2]
    with open(os.path.join(pdir, "o%016x" % oid), "rb") as f:
        assert f.read() == data + b"tail"

    r = osd.run(cdb(REMOVE_PARTITION, pid))
    assert sense(r) == ((ILLEGAL, (0x2C, 0x0A)))
    osd.ok(cdb(REMOVE, pid, oid))
    osd.ok(cdb(REMOVE, pid, oid2))
    r = osd.run(cdb(READ, pid, oid, 16), read_len=16)
    assert sense(r) == (ILLEGAL, INVALID_CDB) and field(r) == (True, 24)
    osd.ok(cdb(REMOVE_PARTITION, pid))
    osd.ok(cdb(FLUSH_OSD))
    assert osd.list()[0] == [0x20000]
    osd.ok(cdb(FORMAT))
    assert osd.list()[0] == []
    assert os.listdir(osd.store) == ["osd.meta"]


def test_osd_attributes(osd):
    pid = osd.create_partition()
    oid = osd.create(pid)
    # one attribute in the CDB, a set list in Data-Out, the username on the information page
    osd.ok(cdb(SET_ATTRIBUTES, pid, oid, fmt=1, attrs=one_attr(0x10000, 1, b"colour=blue")))
    lst = attr_list([(0x10000, 2, b"x" * 300), (0x10005, 7, b"seven"), (USER_INFO, 9, b"alice")])
    osd.ok(cdb(SET_ATTRIBUTES, pid, oid, fmt=3, attrs=list_attrs(len(lst), off(0))),
           data_out=lst)
    # page-format set with the value in Data-Out after the WRITE data
    c = cdb(WRITE, pid, oid, 4, attrs=page_attrs(set_page=0x10001, set_num=3, set_len=5,
                                                 set_off=off(8)))
    osd.ok(c, data_out=b"data" + bytes(4) + b"value")
    # attributes set while creating an object apply to the new object
    osd.ok(cdb(CREATE, pid, fmt=1, attrs=one_attr(0x10000, 1, b"on-new-object")))

    got = osd.get_all(pid, oid)
    assert got[(0x10000, 1)] == b"colour=blue"
    assert got[(0x10000, 2)] == b"x" * 300
    assert got[(0x10005, 7)] == b"seven"
    assert got[(0x10001, 3)] == b"value"
    assert got[(USER_INFO, 9)] == b"alice"
    assert struct.unpack(">Q", got[(USER_INFO, 0x82)])[0] == 4
    assert struct.unpack(">Q", got[(USER_INFO, 2)])[0] == oid

    r = osd.ok(cdb(GET_ATTRIBUTES, pid, oid, attrs=page_attrs(0x10000, 4096, off(0))),
               read_len=4096)
    assert set(parse_list(r.data)) == {(0x10000, 1), (0x10000, 2)}
    r = osd.ok(cdb(GET_ATTRIBUTES, pid, oid, attrs=page_attrs(0x10000, 20, off(0))),
               read_len=20)               # cut at the allocation length, full LIST LENGTH
    assert struct.unpack(">I", r.data[4:8])[0] == 32 + 320 and len(r.data) == 20

    # length 0 removes; the partition has its own pages
    osd.ok(cdb(SET_ATTRIBUTES, pid, oid, fmt=1, attrs=one_attr(0x10000, 1, b"")))
    assert (0x10000, 1) not in osd.get_all(pid, oid)
    osd.ok(cdb(SET_ATTRIBUTES, pid, fmt=1, attrs=one_attr(0x30010000, 1, b"part")))
    assert osd.get_all(pid)[(0x30010000, 1)] == b"part"

    # read-only attributes and other objects' pages are refused, nothing is applied
    r = osd.run(cdb(SET_ATTRIBUTES, pid, oid, fmt=1, attrs=one_attr(USER_INFO, 0x82, b"1")))
    assert sense(r) == (ILLEGAL, INVALID_CDB) and field(r) == (True, 52)
    bad = attr_list([(0x10000, 9, b"fine"), (0x30010000, 1, b"partition page")])
    r = osd.run(cdb(SET_ATTRIBUTES, pid, oid, fmt=3, attrs=list_attrs(len(bad), off(0))),
                data_out=bad)
    assert sense(r) == (ILLEGAL, INVALID_PARAM) and field(r) == (False, 32)
    assert (0x10000, 9) not in osd.get_all(pid, oid)

    # the store survives the LU: delete it and create it again on the same directory
    osd.daemon.adm("--lld", "iscsi", "--mode", "logicalunit", "--op", "delete", "--tid", "1",
                   "--lun", str(LUN))
    new_lu(osd.daemon, "osd", osd.store, LUN)
    for _ in range(4):
        if osd.ini.scsi([0] * 6, lun=LUN).status != CHECK:
            break
    assert osd.get_all(pid, oid)[(0x10005, 7)] == b"seven"
    assert osd.read(pid, oid, 4) == b"data"


def expect_field(r, byte, key=ILLEGAL, asc=INVALID_CDB):
    assert sense(r) == (key, asc), r.sense.hex()
    assert field(r) == (True, byte)


def test_osd_hostile_cdbs(osd):
    pid = osd.create_partition()
    oid = osd.create(pid)
    osd.write(pid, oid, b"0123456789")

    short = cdb(READ, pid, oid, 16)[:16]           # no AHS: a 16-byte varlen CDB
    expect_field(osd.run(short, read_len=16), 7)
    c = cdb(READ, pid, oid, 16)
    c[7] = 192                                     # OSD-1 additional length
    expect_field(osd.run(c, read_len=16), 7)
    expect_field(osd.run(cdb(0x8805, pid, oid, 16), read_len=16), 8)   # OSD-1 READ
    expect_field(osd.run(cdb(0x88FF)), 8)
    c = cdb(READ, pid, oid, 16)
    c[82] = 1                                      # CAPKEY security: NOSEC only
    expect_field(osd.run(c, read_len=16), 82)
    expect_field(osd.run(cdb(READ, pid, oid, 16, fmt=0), read_len=16), 11)
    expect_field(osd.run(cdb(READ, pid + 1, oid, 16), read_len=16), 16)
    expect_field(osd.run(cdb(READ, pid, oid + 1, 16), read_len=16), 24)
    expect_field(osd.run(cdb(READ, pid, oid, 64 << 20), read_len=16), 32)
    expect_field(osd.run(cdb(READ, pid, oid, 16, 1 << 62), read_len=16), 40)
    expect_field(osd.run(cdb(CREATE, pid, 5)), 24)                     # reserved id
    expect_field(osd.run(cdb(CREATE, pid, oid)), 24)                   # exists
    expect_field(osd.run(cdb(WRITE, pid, oid, 4096), data_out=b"x" * 512), 32)
    # a get list needs Data-Out and Data-In at once: refused
    c = cdb(GET_ATTRIBUTES, pid, oid, fmt=3,
            attrs=struct.pack(">7I", 8, off(0), 256, off(0), 0, UNUSED, 0))
    expect_field(osd.run(c, read_len=256), 52)
    # READ that also sets an attribute from Data-Out: bidirectional
    c = cdb(READ, pid, oid, 16, attrs=page_attrs(set_page=0x10000, set_num=1, set_len=4,
                                                  set_off=off(16)))
    expect_field(osd.run(c, read_len=32), 11)
    # the iSCSI layer rejects a command with both R and W set
    with pytest.raises(ConnectionError):
        osd.ini.scsi(cdb(GET_ATTRIBUTES, pid, oid), lun=LUN, data_out=b"x" * 8, read_len=8)
    osd.ini.close()
    osd.ini = login(osd.daemon, LUN)
    # malformed set lists
    for lst, at in ((b"\x01" + bytes(7), 0), (struct.pack(">B3xI", 9, 4000), 4),
                    (struct.pack(">B3xI", 9, 16) + struct.pack(">II6xH", 0x10000, 1, 999), 22)):
        lst = lst.ljust(24, b"\0")
        r = osd.run(cdb(SET_ATTRIBUTES, pid, oid, fmt=3, attrs=list_attrs(len(lst), off(0))),
                    data_out=lst)
        assert sense(r) == (ILLEGAL, INVALID_PARAM) and field(r) == (False, at), r.sense.hex()

    # random CDBs with a valid header: every one gets GOOD or CHECK CONDITION
    rnd = random.Random(9)
    for i in range(300):
        c = bytearray(rnd.getrandbits(8) for _ in range(CDB_LEN))
        c[0], c[1], c[7] = 0x7F, 0, CDB_LEN - 8
        struct.pack_into(">H", c, 8, rnd.choice(SERVICE_ACTIONS))
        if i % 2:
            c[2:16] = bytes(14)
            c[11] = rnd.choice((0x10, 0x20, 0x30))
            c[80:84] = bytes(4)
        if struct.unpack(">H", c[8:10])[0] == FORMAT:
            c[10] |= 0x80                          # keep the objects: an invalid FORMAT
        r = osd.run(c, read_len=rnd.choice((0, 64, 4096)))
        assert r.status in (0, CHECK), i
    assert osd.read(pid, oid, 10) == b"0123456789"
    assert osd.ini.scsi([0] * 6, lun=LUN).status == 0


def test_osd_targets_conf(workdir):
    store = os.path.join(workdir, "conf-objects")
    conf = os.path.join(workdir, "targets.conf")
    with open(conf, "w") as f:
        f.write("default-driver iscsi\n<target %s>\n\t<backing-store %s>\n\t\tlun 1\n"
                "\t\tdevice-type osd\n\t</backing-store>\n\tinitiator-address ALL\n"
                "</target>\n" % (IQN, store))
    d = Daemon(workdir, extra=["--config", conf]).start()
    try:
        assert "Type: osd" in d.adm("--lld", "iscsi", "--mode", "target", "--op", "show").stdout
        ini = login(d, LUN)
        o = OSD(ini)
        assert o.create_partition() == FIRST_ID
        ini.close()
        assert os.path.isdir(os.path.join(store, "p%016x" % FIRST_ID))
    finally:
        assert d.stop() == 0
    assert "AddressSanitizer" not in d.read_log() and "runtime error" not in d.read_log()
