# SPDX-License-Identifier: GPL-2.0-only
"""Task attributes end to end (SAM-5, TST 001b): an ORDERED task waits for the older SIMPLE
ones and holds back later ones, HEAD OF QUEUE overtakes, ACA is refused, ABORT TASK SET ends
tasks still queued; and COMPARE AND WRITE waits for a write to its blocks that is in flight.
Slow commands come from the fault store's delay (src/bs/fault.c)."""
import os
import struct
import time

from task_util import (ACA, CHECK_CONDITION, GOOD, HEAD_OF_QUEUE, ORDERED, SIMPLE, asc_of,
                       collect, read10, send, session, slow_lu, write10)

DELAY_MS = 700
TUR = bytes(6)


def test_ordered_completes_after_slow_simple_and_holds_later(daemon, workdir):
    slow_lu(daemon, workdir, DELAY_MS)
    ini = session(daemon, 0x01)
    r1 = send(ini, read10(0), SIMPLE, read_len=512)
    r2 = send(ini, read10(8), SIMPLE, read_len=512)
    o = send(ini, TUR, ORDERED)
    s = send(ini, TUR, SIMPLE)
    done = collect(ini, 4)
    order = [itt for itt, _, _ in done]
    assert len(order) == 4, done
    assert set(order[:2]) == {r1, r2} and order[2:] == [o, s], (order, r1, r2, o, s)
    assert all(st == GOOD for _, st, _ in done)
    ini.logout()


def test_head_of_queue_overtakes(daemon, workdir):
    slow_lu(daemon, workdir, DELAY_MS)
    ini = session(daemon, 0x02)
    r1 = send(ini, read10(0), SIMPLE, read_len=512)
    o = send(ini, read10(16), ORDERED, read_len=512)
    s = send(ini, TUR, SIMPLE)
    h = send(ini, TUR, HEAD_OF_QUEUE)
    done = collect(ini, 4)
    assert [itt for itt, _, _ in done] == [h, r1, o, s], (done, r1, o, s, h)
    ini.logout()


def test_aca_attribute_and_tst_in_control_page(daemon, workdir):
    slow_lu(daemon, workdir, 0)
    ini = session(daemon, 0x03)
    a = send(ini, TUR, ACA)
    (itt, st, sense), = collect(ini, 1)
    assert itt == a and st == CHECK_CONDITION
    assert sense[2] & 0x0F == 0x5 and asc_of(sense) == (0x49, 0x00)  # INVALID MESSAGE ERROR
    # MODE SENSE(6), control page: TST 001b (one task set per I_T nexus)
    r = ini.scsi(bytes([0x1A, 0x08, 0x0A, 0, 255, 0]), lun=1, read_len=255)
    assert r.status == GOOD
    page = r.data[4 + r.data[3]:]
    assert page[0] & 0x3F == 0x0A and page[2] >> 5 == 1
    ini.logout()


def test_abort_task_set_ends_queued_tasks(daemon, workdir):
    slow_lu(daemon, workdir, DELAY_MS)
    ini = session(daemon, 0x04)
    send(ini, read10(0), SIMPLE, read_len=512)
    send(ini, TUR, ORDERED)          # queued behind the slow read
    send(ini, TUR, SIMPLE)           # queued behind the ORDERED task
    assert ini.tmf(2, lun=1) == 0    # ABORT TASK SET: function complete
    assert collect(ini, 1, timeout=DELAY_MS / 1000 + 1) == []  # aborted: no response
    r = ini.scsi(TUR, lun=1)
    assert r.status == GOOD
    ini.logout()


def test_compare_and_write_waits_for_write_in_flight(daemon, workdir):
    """A WRITE to block 5 sits in the slow store when COMPARE AND WRITE for block 5 arrives
    on another session: the CAW must see the written data, not what was there before."""
    slow_lu(daemon, workdir, DELAY_MS)
    a = session(daemon, 0x05)
    b = session(daemon, 0x06)
    new, newer = os.urandom(512), os.urandom(512)
    w = send(a, write10(5), SIMPLE, data=new)
    time.sleep(DELAY_MS / 3000)      # the write reaches the store first (two connections)
    caw = struct.pack(">BBQBBBBBB", 0x89, 0, 5, 0, 0, 0, 1, 0, 0)
    c = send(b, caw, SIMPLE, data=new + newer)
    (itt, st, sense), = collect(b, 1)
    assert itt == c and st == GOOD, sense.hex()
    assert [x[0] for x in collect(a, 1)] == [w]
    assert a.scsi(read10(5), lun=1, read_len=512).data == newer
    a.logout()
    b.logout()
