# SPDX-License-Identifier: GPL-2.0-only
"""Operations introspection: per-connection counters (`--mode conn --op stat`, session stat,
metrics), the stuck-I/O watchdog and `--mode conn --op show --name inflight` with a READ held
3 s by the fault store, and structured, rate-limited protocol-error logging."""
import json
import re
import struct
import threading
import time

import pytest

from bs_util import GOOD, login, make_file, new_lu, new_target, read, write
from conftest import IQN, Daemon, free_port
from test_ops_stats import scrape

BS = 512


@pytest.fixture
def wdaemon(workdir):
    port = free_port()
    d = Daemon(workdir, extra=["--metrics", "127.0.0.1:%d" % port, "--stuck-io-ms", "500"])
    d.start()
    d.metrics_port = port
    yield d
    assert d.stop() == 0, d.read_log()
    log = d.read_log()
    assert "AddressSanitizer" not in log and "runtime error" not in log, log


def inflight(d, *args):
    r = d.adm("--mode", "conn", "--op", "show", "--name", "inflight", *args, json_out=True)
    return json.loads(r.stdout)


def stuck_lines(d):
    return [l for l in d.read_log().splitlines() if "event=stuck_command" in l]


def test_stuck_read_listed_logged_once_and_counted(wdaemon, workdir):
    d = wdaemon
    new_target(d)
    new_lu(d, make_file(workdir, "slow.img", 16 << 20), "fault", bsopts="delay_ms=3000")
    ini = login(d)
    assert inflight(d)["inflight"] == []
    _, before = scrape(d.metrics_port)
    assert before["utgt_stuck_commands_total"] == 0
    assert before["utgt_stuck_io_limit_seconds"] == 0.5
    result = {}
    th = threading.Thread(target=lambda: result.update(r=read(ini, 16, 8)))
    t0 = time.monotonic()
    th.start()
    try:
        cmds = []
        while not cmds and time.monotonic() - t0 < 2:
            cmds = inflight(d)["inflight"]
        assert len(cmds) == 1, cmds
        c = cmds[0]
        # READ(10) LBA 16, 8 blocks
        assert c["cdb"] == "28000000001000000800", c
        assert c["lun"] == 1 and c["tid"] == 1 and c["initiator"].startswith("iqn.")
        assert c["state"] == "in backing store" and c["bs_op"] == "read", c
        assert c["bs_offset"] == 16 * BS and c["bs_length"] == 8 * BS
        assert 0 <= c["age_ms"] < 2500
        # past the 500 ms limit: logged once, counted, flagged
        while time.monotonic() - t0 < 1.5:
            time.sleep(0.1)
        c = inflight(d, "--tid", "1")["inflight"][0]
        assert c["stuck"] is True and c["age_ms"] >= 1000, c
        text = d.adm("--mode", "conn", "--op", "show", "--name", "inflight").stdout
        assert "CDB: 28000000001000000800" in text and "(stuck)" in text, text
        assert "Backing store: read offset 8192 length 4096" in text, text
        assert inflight(d, "--tid", "1", "--sid", "999")["inflight"] == []
        _, mid = scrape(d.metrics_port)
        assert mid["utgt_stuck_commands_total"] == 1
        lines = stuck_lines(d)
        assert len(lines) == 1, lines
        for kv in ("target=" + IQN, "lun=1", "cdb=28000000001000000800", "state=\"in backing store\"",
                   "bs_op=read", "limit_ms=500", "cid=0", "addr=127.0.0.1:"):
            assert kv in lines[0], (kv, lines[0])
        assert re.search(r"initiator=iqn\.\S+ isid=[0-9a-f]{12} tsih=\d+", lines[0]), lines[0]
    finally:
        th.join(10)
    assert result["r"].status == GOOD
    assert inflight(d)["inflight"] == []
    time.sleep(0.3)     # more watchdog scans: still one line, one count
    assert len(stuck_lines(d)) == 1
    _, after = scrape(d.metrics_port)
    assert after["utgt_stuck_commands_total"] == 1
    ini.logout()


def test_stuck_limit_off_and_changed(wdaemon, workdir):
    d = wdaemon
    new_target(d)
    new_lu(d, make_file(workdir, "slow.img", 16 << 20), "fault", bsopts="delay_ms=800")
    d.adm("--mode", "sys", "--op", "update", "--name", "stuck_io_ms", "--value", "0")
    assert json.loads(d.adm("--mode", "sys", "--op", "show", json_out=True).stdout)[
        "system"]["stuck_io_ms"] == 0
    ini = login(d)
    assert read(ini, 0, 1).status == GOOD
    assert stuck_lines(d) == []
    d.adm("--mode", "sys", "--op", "update", "--name", "stuck_io_ms", "--value", "200")
    assert read(ini, 0, 1).status == GOOD
    assert len(stuck_lines(d)) == 1
    assert d.adm("--mode", "sys", "--op", "update", "--name", "stuck_io_ms", "--value", "x",
                 check=False).returncode != 0
    ini.logout()


def test_connection_counters(wdaemon, workdir):
    d = wdaemon
    new_target(d)
    new_lu(d, make_file(workdir, "fast.img", 16 << 20))
    ini = login(d)
    n = 0
    for i in range(4):
        assert write(ini, i * 8, b"\x5a" * 8 * BS).status == GOOD
        assert read(ini, i * 8, 8).status == GOOD
        n += 2
    conns = json.loads(d.adm("--mode", "conn", "--op", "stat", json_out=True).stdout)["connections"]
    assert len(conns) == 1, conns
    c = conns[0]
    st = c["stats"]
    assert c["tid"] == 1 and c["target"] == IQN and len(c["isid"]) == 12
    assert st["cmds"] >= n and st["pdus_in"] >= n and st["pdus_out"] >= n
    assert st["bytes_in"] >= 4 * 8 * BS and st["bytes_out"] >= 4 * 8 * BS
    assert st["digest_errors"] == 0 and st["rejects"] == 0
    assert sum(st["latency_hist_us_log2_from_16"]) == st["cmds"] and st["latency_sum_us"] > 0
    # the same counters under the session in target stat, and in the table
    sess = json.loads(d.adm("--mode", "target", "--op", "stat", "--tid", "1",
                            json_out=True).stdout)["targets"][0]["sessions"][0]
    assert sess["connections"][0]["stats"]["cmds"] >= st["cmds"]
    text = d.adm("--mode", "target", "--op", "stat", "--tid", "1").stdout
    assert re.search(r"tid 1 sid \d+ cid 0 +\d+ +\d+ +\d+", text), text
    text = d.adm("--mode", "conn", "--op", "stat").stdout
    assert "pdus_in" in text and "dig_err" in text
    body, s = scrape(d.metrics_port)
    key = [k for k in s if k.startswith("utgt_connection_commands_total{")]
    assert len(key) == 1 and 'cid="0"' in key[0] and 'target="%s"' % IQN in key[0], key
    assert s[key[0]] >= n
    assert "# TYPE utgt_connection_received_bytes_total counter" in body
    assert any(k.startswith("utgt_connection_command_duration_seconds_bucket{") for k in s)
    ini.logout()


def snack():
    """A SNACK Request: rejected at ERL 0 without dropping the connection."""
    bhs = bytearray(48)
    bhs[0] = 0x10
    bhs[1] = 0x80
    struct.pack_into(">I", bhs, 16, 0xFFFFFFFF)
    return bytes(bhs)


def test_reject_logged_structured_and_rate_limited(wdaemon, workdir):
    d = wdaemon
    new_target(d)
    new_lu(d, make_file(workdir, "r.img", 1 << 20))
    ini = login(d)
    for _ in range(60):
        ini.send_pdu(snack())
    for _ in range(60):
        assert ini.recv_pdu().opcode == 0x3F     # Reject
    assert read(ini, 0, 1).status == GOOD    # the connection survived
    lines = [l for l in d.read_log().splitlines() if "event=reject" in l]
    assert 1 <= len(lines) <= 12, len(lines)    # burst of 10 (+ refill while running)
    assert re.search(r"event=reject opcode=0x10 itt=0xffffffff reason=0x04 target=%s "
                     r"initiator=\S+ isid=[0-9a-f]{12} tsih=\d+ cid=0 addr=127\.0\.0\.1:\d+"
                     % re.escape(IQN), lines[0]), lines[0]
    time.sleep(1.2)
    ini.send_pdu(snack())
    assert ini.recv_pdu().opcode == 0x3F
    assert read(ini, 0, 1).status == GOOD
    lines = [l for l in d.read_log().splitlines() if "event=reject" in l]
    m = re.search(r"suppressed=(\d+)", lines[-1])
    assert m and int(m.group(1)) >= 40, lines[-1]
    conns = json.loads(d.adm("--mode", "conn", "--op", "stat", json_out=True).stdout)["connections"]
    assert conns[0]["stats"]["rejects"] == 61
    ini.logout()


def test_login_failure_logged_with_identity(wdaemon, workdir):
    from iscsi_client import Initiator, LoginError
    d = wdaemon
    new_target(d)
    ini = Initiator("127.0.0.1", d.port, initiator="iqn.2026-11.org.utgt:who")
    with pytest.raises(LoginError):
        ini.login("iqn.2026-11.org.utgt:nosuch")
    ini.close()
    deadline = time.monotonic() + 2
    line = None
    while not line and time.monotonic() < deadline:
        line = next((l for l in d.read_log().splitlines() if "event=login_failed" in l), None)
        time.sleep(0.05)
    assert line, d.read_log()
    assert "initiator=iqn.2026-11.org.utgt:who" in line
    assert "target=iqn.2026-11.org.utgt:nosuch" in line and "addr=127.0.0.1:" in line
    assert re.search(r"status=0x0203|status=0x0201|status=0x02", line), line


def test_journal_stream_priority_prefix(workdir):
    import os
    import subprocess
    from conftest import UTGTD
    log = os.path.join(workdir, "j.log")
    port = free_port()
    sock = os.path.join(workdir, "j.sock")
    with open(log, "wb") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        p = subprocess.Popen([UTGTD, "-f", "--control-socket", sock, "--threads", "1",
                              "--portal", "127.0.0.1:%d" % port], stdout=f, stderr=f, env=env)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            p.terminate()
            p.wait(10)
    text = open(log).read()
    lines = [l for l in text.splitlines() if l]
    assert lines and all(re.match(r"<[0-7]>", l) for l in lines), text
    assert "utgtd: info:" not in text
