# SPDX-License-Identifier: GPL-2.0-only
"""Statistics and metrics: `utgtadm --op stat` (text and --json) per target, LU and session,
and the Prometheus endpoint of `utgtd --metrics`, scraped over HTTP."""
import json
import os
import re
import socket
import struct

import pytest

from conftest import IQN, Daemon, free_port, setup_target
from iscsi_client import Initiator
from test_ops_config import tur_until_good


def read10(lba, blocks):
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba, blocks):
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0)


def http(port, request, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body.decode()


def scrape(port):
    head, body = http(port, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert head.startswith("HTTP/1.0 200 OK"), head
    assert "text/plain; version=0.0.4" in head
    assert "Content-Length: %d" % len(body.encode()) in head
    samples = {}
    for line in body.splitlines():
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return body, samples


@pytest.fixture
def mdaemon(workdir):
    port = free_port()
    d = Daemon(workdir, extra=["--metrics", "127.0.0.1:%d" % port]).start()
    d.metrics_port = port
    setup_target(d, workdir)
    yield d
    assert d.stop() == 0, d.read_log()


def do_io(d):
    ini = Initiator("127.0.0.1", d.port)
    ini.login(IQN)
    tur_until_good(ini)
    for i in range(3):
        assert ini.scsi(write10(i * 8, 8), lun=1, data_out=b"\xab" * 4096).status == 0
    for i in range(5):
        assert ini.scsi(read10(0, 16), lun=1, read_len=8192).status == 0
    bad = ini.scsi(read10(0xFFFFFFF0, 1), lun=1, read_len=512)   # LBA out of range
    assert bad.status == 2
    return ini


def test_stat_json_and_text(mdaemon):
    ini = do_io(mdaemon)
    data = json.loads(mdaemon.adm("--mode", "target", "--op", "stat", "--tid", "1", json_out=True).stdout)
    t = data["targets"][0]
    lu1 = [l for l in t["luns"] if l["lun"] == 1][0]["stats"]
    assert lu1["write_cmds"] == 3 and lu1["write_bytes"] == 3 * 4096
    assert lu1["read_cmds"] == 5 and lu1["read_bytes"] == 5 * 8192
    assert lu1["errors"] >= 1 and lu1["inflight"] == 0
    assert sum(lu1["latency_hist_us_log2_from_16"]) == lu1["read_cmds"] + lu1["write_cmds"] + \
        lu1["other_cmds"] + lu1["errors"]
    assert t["stats"]["write_bytes"] == 3 * 4096
    (sess,) = t["sessions"]
    assert sess["initiator"] == ini.initiator and sess["stats"]["read_bytes"] == 5 * 8192
    assert sess["connections"][0]["address"].startswith("127.0.0.1")
    text = mdaemon.adm("--mode", "target", "--op", "stat", "--tid", "1").stdout
    assert text.splitlines()[0].split()[:5] == ["object", "rd_cmds", "rd_bytes", "wr_cmds", "wr_bytes"]
    row = [l for l in text.splitlines() if l.strip().startswith("lun 1")][0].split()
    assert row[2:6] == ["5", "40960", "3", "12288"]
    assert "session %d" % sess["sid"] in text
    lu = json.loads(mdaemon.adm("--mode", "logicalunit", "--op", "stat", "--tid", "1", "--lun", "1",
                                json_out=True).stdout)
    assert [l["lun"] for l in lu["targets"][0]["luns"]] == [1] and "sessions" not in lu["targets"][0]
    ss = json.loads(mdaemon.adm("--mode", "session", "--op", "stat", "--tid", "1", json_out=True).stdout)
    assert ss["targets"][0]["sessions"][0]["sid"] == sess["sid"] and "luns" not in ss["targets"][0]
    sys_ = mdaemon.adm("--mode", "sys", "--op", "stat").stdout
    assert "target 1" in sys_
    r = mdaemon.adm("--mode", "target", "--op", "stat", "--tid", "9", check=False)
    assert r.returncode == 22 and "can't find the target" in r.stderr
    ini.logout()
    ini.close()


NAME_RE = re.compile(r"^utgt_[a-z][a-z0-9_]*(\{.*\})?$")


def test_metrics_scrape(mdaemon):
    ini = do_io(mdaemon)
    body, s = scrape(mdaemon.metrics_port)
    lab = 'target="%s",lun="1"' % IQN
    assert s["utgt_up"] == 1 and s["utgt_targets"] == 1 and s["utgt_connections"] == 1
    assert s['utgt_target_sessions{target="%s"}' % IQN] == 1
    assert s["utgt_lu_write_bytes_total{%s}" % lab] == 3 * 4096
    assert s["utgt_lu_read_commands_total{%s}" % lab] == 5
    assert s["utgt_lu_errors_total{%s}" % lab] >= 1
    assert s["utgt_lu_inflight_commands{%s}" % lab] == 0
    assert s["utgt_lu_size_bytes{%s}" % lab] == 64 << 20
    count = s["utgt_lu_command_duration_seconds_count{%s}" % lab]
    assert s['utgt_lu_command_duration_seconds_bucket{%s,le="+Inf"}' % lab] == count >= 9
    buckets = [v for k, v in s.items() if k.startswith("utgt_lu_command_duration_seconds_bucket{%s," % lab)]
    assert buckets == sorted(buckets), "histogram buckets must be cumulative"
    sess = [k for k in s if k.startswith("utgt_session_read_bytes_total{")]
    assert len(sess) == 1 and s[sess[0]] == 5 * 8192 and 'initiator="%s"' % ini.initiator in sess[0]
    for name in s:
        assert NAME_RE.match(name), name
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
    for name, kind in types.items():
        assert kind in ("counter", "gauge", "histogram")
        assert name.endswith("_total") == (kind == "counter"), name
    ini.logout()
    ini.close()


def test_metrics_http_edges(mdaemon):
    port = mdaemon.metrics_port
    head, _ = http(port, b"GET / HTTP/1.0\r\n\r\n")
    assert head.startswith("HTTP/1.0 404")
    head, _ = http(port, b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    assert head.startswith("HTTP/1.0 405")
    head, _ = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 4000 + b"\r\n\r\n")
    assert head.startswith("HTTP/1.0 431")
    # a client that sends nothing is dropped after the timeout; the daemon keeps serving
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    head, _ = http(port, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert head.startswith("HTTP/1.0 200")
    idle.settimeout(5)
    assert idle.recv(10) == b""
    idle.close()
    assert mdaemon.adm("--mode", "target", "--op", "show").returncode == 0


def test_metrics_off_by_default_and_bad_address(workdir, daemon):
    assert "--metrics" not in " ".join(daemon.argv())
    other = os.path.join(workdir, "other")
    os.mkdir(other)
    d = Daemon(other, extra=["--metrics", "nonsense"])
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "metrics" in str(e.value)
