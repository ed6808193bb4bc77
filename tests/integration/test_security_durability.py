# SPDX-License-Identifier: GPL-2.0-only
"""Durability: writes through iSCSI with FUA, and plain writes followed by SYNCHRONIZE CACHE,
while utgtd is killed with SIGKILL mid-stream; after a restart on the same backing file every
write acknowledged as durable (FUA GOOD, or covered by a GOOD SYNCHRONIZE CACHE) reads back."""
import os
import signal
import struct
import threading
import time

import pytest

from conftest import IQN, Daemon, make_backing
from iscsi_client import Initiator

BLOCKS_PER_WRITE = 8  # 4 KiB
SLOTS = 2048          # distinct LBAs written round-robin (8 MiB)


def write10(lba, nblocks, fua):
    return struct.pack(">BBIBHB", 0x2A, 0x08 if fua else 0, lba, 0, nblocks, 0)


def sync_cache():
    return bytes([0x35] + [0] * 9)


def read10(lba, nblocks):
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, nblocks, 0)


def payload(slot, gen):
    head = struct.pack(">IIQ", 0x55544754, slot, gen)
    return (head * (4096 // len(head)))[:4096]


def start(workdir, path, port=None, bstype=None):
    d = Daemon(workdir)
    if port:
        d.port = port
        d.portals = ["127.0.0.1:%d" % port]
    d.start()
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "new", "--tid", "1", "--targetname", IQN)
    args = ["--lld", "iscsi", "--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", "1",
            "--backing-store", path]
    if bstype:
        args += ["--bstype", bstype]
    d.adm(*args)
    d.adm("--lld", "iscsi", "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "ALL")
    return d


def writer(d, mode, durable, stop):
    """Writes until the connection dies. durable[slot] = last generation known durable."""
    pending = {}
    gen = 0
    try:
        i = Initiator("127.0.0.1", d.port, timeout=5)
        i.login(IQN, keys=[("ImmediateData", "Yes"), ("InitialR2T", "No"),
                           ("MaxRecvDataSegmentLength", "262144"), ("MaxBurstLength", "1048576"),
                           ("FirstBurstLength", "262144")])
        while not stop.is_set():
            gen += 1
            slot = gen % SLOTS
            fua = mode == "fua"
            r = i.scsi(write10(slot * BLOCKS_PER_WRITE, BLOCKS_PER_WRITE, fua), lun=1,
                       data_out=payload(slot, gen))
            if r.status == 2 and r.sense_key == 6:  # unit attention after login: retry
                gen -= 1
                continue
            if r.status != 0:
                raise AssertionError("write failed: status %s sense %r" % (r.status, r.sense))
            if fua:
                durable[slot] = gen
            else:
                pending[slot] = gen
                if gen % 16 == 0:
                    r = i.scsi(sync_cache(), lun=1)
                    if r.status == 0:
                        durable.update(pending)
                        pending.clear()
    except (ConnectionError, OSError, AssertionError) as e:
        if not stop.is_set() and not isinstance(e, (ConnectionError, OSError)):
            raise
    return gen


@pytest.mark.parametrize("mode", ["fua", "sync_cache"])
def test_acknowledged_writes_survive_sigkill(workdir, mode):
    path = make_backing(workdir, "durable.img", SLOTS * 4096)
    d = start(workdir, path)
    durable, stop = {}, threading.Event()
    errors = []

    def run():
        try:
            writer(d, mode, durable, stop)
        except Exception as e:  # surfaced below
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.5)
    os.kill(d.proc.pid, signal.SIGKILL)  # mid-stream
    d.proc.wait(10)
    stop.set()
    t.join(30)
    d.log.close()
    assert not errors, errors
    assert len(durable) > 50, "too few acknowledged writes (%d) to mean anything" % len(durable)
    acked = dict(durable)

    d2 = start(workdir, path, port=d.port)
    try:
        i = Initiator("127.0.0.1", d2.port)
        i.login(IQN)
        i.scsi(bytes(6), lun=1)  # TEST UNIT READY takes the power-on unit attention
        bad = []
        for slot, gen in sorted(acked.items()):
            r = i.scsi(read10(slot * BLOCKS_PER_WRITE, BLOCKS_PER_WRITE), lun=1, read_len=4096)
            assert r.status == 0
            _, got_slot, got_gen = struct.unpack(">IIQ", r.data[:16])
            # a later, unacknowledged write to the slot may also have landed: never an older one
            if got_slot != slot or got_gen < gen or r.data != payload(slot, got_gen):
                bad.append((slot, gen, got_slot, got_gen))
        i.logout()
        i.close()
        assert not bad, "%d acknowledged writes lost, e.g. %r" % (len(bad), bad[:5])
    finally:
        d2.stop()
