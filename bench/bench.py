#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""utgt benchmark: utgtd and tgt side by side on loopback, same LUNs, same initiators.

Starts utgtd (one instance per reactor count) and one tgtd (target 1 at tgt's defaults, target 2
with utgt's negotiation offer), each with LUN 1 = a sparse file on /dev/shm and LUN 2 = null.
Runs every cell of the matrix against every system, interleaved (the order of systems rotates
per cell and repetition), repeats each cell, and reports medians, ratios utgt/tgt, each
daemon's CPU time per I/O ((utime+stime) / I/Os), and iperf3's loopback ceiling.
Outputs (in --out): runs.csv (every run), summary.csv (medians), results.md (tables),
bench.png (plot, with gnuplot). Benchmarks are not tests: nothing here asserts a number.
"""
import argparse
import csv
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
NPROC = os.cpu_count() or 1
UTGT_IQN = "iqn.2026-11.org.utgt:bench"
TGT_IQN = "iqn.2026-11.org.utgt:tgt"
TGT_TUNED_IQN = "iqn.2026-11.org.utgt:tgt-tuned"

# utgt's negotiation offer (docs/iscsi.md, "Negotiated keys"); tgt-tuned gets the same, so that
# the comparison is fair both ways. MaxXmitDataSegmentLength is tgt's cap on Data-In PDUs.
UTGT_OFFER = [("MaxRecvDataSegmentLength", "262144"), ("MaxXmitDataSegmentLength", "262144"),
              ("MaxBurstLength", "1048576"), ("FirstBurstLength", "262144"),
              ("InitialR2T", "No"), ("ImmediateData", "Yes"), ("MaxQueueCmd", "128")]


class Workload:
    """One cell kind: which initiator, direction, pattern, size, depth and sessions."""

    def __init__(self, name, tool, write, rand, size, qd, sessions=1):
        self.name, self.tool, self.write, self.rand = name, tool, write, rand
        self.size, self.qd, self.sessions = size, qd, sessions


MAIN = [
    Workload("rr4k_qd1", "iobench", False, True, 4096, 1),
    Workload("rr4k_qd32", "iscsi-perf", False, True, 4096, 32),
    Workload("rw4k_qd1", "iobench", True, True, 4096, 1),
    Workload("rw4k_qd32", "iobench", True, True, 4096, 32),
    Workload("sr4k_qd32", "qemu-img", False, False, 4096, 32),
    Workload("sw4k_qd32", "qemu-img", True, False, 4096, 32),
    Workload("sr128k_qd8", "iscsi-perf", False, False, 131072, 8),
    Workload("sw128k_qd8", "qemu-img", True, False, 131072, 8),
    Workload("sr1m_qd4", "iscsi-perf", False, False, 1 << 20, 4),
]
SCALE = [
    Workload("rr4k_1x32", "iobench", False, True, 4096, 32, 1),
    Workload("rr4k_2x32", "iobench", False, True, 4096, 32, 2),
    Workload("rr4k_4x32", "iobench", False, True, 4096, 32, 4),
    Workload("rr4k_64x8", "iobench", False, True, 4096, 8, 64),
]
DRIVER = [
    Workload("rr4k_qd32", "iobench", False, True, 4096, 32),
    Workload("rw4k_qd32", "iobench", True, True, 4096, 32),
]
SMOKE_MAIN = [
    Workload("rr4k_qd32", "iscsi-perf", False, True, 4096, 32),
    Workload("rw4k_qd1", "iobench", True, True, 4096, 1),
    Workload("sw128k_qd8", "qemu-img", True, False, 131072, 8),
]
SMOKE_SCALE = [Workload("rr4k_2x8", "iobench", False, True, 4096, 8, 2)]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid):
    """(utime, stime) of a whole process in seconds, all threads included."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def machine_busy():
    """Busy and total jiffies of all CPUs (idle and iowait count as not busy)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(argv, timeout=60, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                     r.stderr))
    return r


class Utgt:
    """utgtd in the foreground on its own port and control socket; LUN 1 file (io_uring),
    LUN 2 null, then one LUN per extra driver on the same file."""

    kind = "utgt"

    def __init__(self, build, workdir, threads, name):
        self.name, self.threads, self.workdir = name, threads, workdir
        self.utgtd = os.path.join(build, "src", "daemon", "utgtd")
        self.utgtadm = os.path.join(build, "tools", "utgtadm", "utgtadm")
        self.port = free_port()
        self.sock = os.path.join(workdir, "%s.sock" % name)
        self.proc = None
        self.driver_luns = {}

    def adm(self, *args, check=True):
        return run([self.utgtadm, "--control-socket", self.sock, "--lld", "iscsi"] + list(args),
                   check=check)

    def start(self, path, drivers=False):
        self.log = open(os.path.join(self.workdir, "%s.log" % self.name), "ab")
        self.proc = subprocess.Popen([self.utgtd, "-f", "--portal", "127.0.0.1:%d" % self.port,
                                      "--control-socket", self.sock,
                                      "--threads", str(self.threads)],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while self.adm("--mode", "sys", "--op", "show", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s did not start (see %s.log)" % (self.name, self.name))
            time.sleep(0.05)
        self.adm("--mode", "target", "--op", "new", "--tid", "1", "--targetname", UTGT_IQN)
        self.lun(1, path)
        self.lun(2, "null", "null")
        if drivers is True:
            self.driver_luns = {"io_uring": 1, "null": 2}
            for lun, (drv, flags) in enumerate([("rdwr", None), ("aio", None),
                                                ("aio", "direct"), ("io_uring", "direct")], 3):
                name = drv + ("+direct" if flags else "")
                if self.lun(lun, path, drv, flags, check=False):
                    self.driver_luns[name] = lun
                else:
                    log("%s: no %s LUN (%s)" % (self.name, name, "refused by the daemon"))
        elif drivers:
            # --drivers: one LUN per spec NAME[/direct][:BSOPTS], named after the spec
            for lun, spec in enumerate(drivers, 3):
                head, _, bsopts = spec.partition(":")
                drv, _, flags = head.partition("/")
                where = "null" if drv == "null" else path
                if self.lun(lun, where, drv, flags or None, bsopts or None, check=False):
                    self.driver_luns[spec] = lun
                else:
                    log("%s: no %s LUN (refused by the daemon)" % (self.name, spec))
        self.adm("--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "ALL")
        return self

    def lun(self, lun, path, bstype=None, flags=None, bsopts=None, check=True):
        args = ["--mode", "logicalunit", "--op", "new", "--tid", "1", "--lun", str(lun),
                "--backing-store", path]
        if bstype:
            args += ["--bstype", bstype]
        if flags:
            args += ["--bsoflags", flags]
        if bsopts:
            args += ["--bsopts", bsopts]
        return self.adm(*args, check=check).returncode == 0

    def url(self, lun):
        return "iscsi://127.0.0.1:%d/%s/%d" % (self.port, UTGT_IQN, lun)

    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Tgt:
    """One tgtd (Debian's tgt); target 1 at tgt's defaults, target 2 with utgt's offer."""

    kind = "tgt"

    def __init__(self, workdir):
        self.workdir = workdir
        self.port = free_port()
        self.cport = self.pick_control_port()
        self.proc = None

    @staticmethod
    def pick_control_port():
        # tgtadm -C accepts small numbers only; avoid sockets other tgtd instances hold
        for _ in range(100):
            n = random.randint(20000, 32000)
            if not os.path.exists("/var/run/tgtd/socket.%d" % n):
                return n
        raise RuntimeError("no free tgt control port")

    def adm(self, *args, check=True):
        return run(["tgtadm", "-C", str(self.cport), "--lld", "iscsi"] + list(args), check=check)

    def start(self, path):
        self.log = open(os.path.join(self.workdir, "tgtd.log"), "ab")
        self.proc = subprocess.Popen(["tgtd", "-f", "-C", str(self.cport), "--iscsi",
                                      "portal=127.0.0.1:%d" % self.port],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while self.adm("--mode", "sys", "--op", "show", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tgtd did not start (see tgtd.log)")
            time.sleep(0.05)
        for tid, iqn in ((1, TGT_IQN), (2, TGT_TUNED_IQN)):
            self.adm("--mode", "target", "--op", "new", "--tid", str(tid), "--targetname", iqn)
            self.adm("--mode", "logicalunit", "--op", "new", "--tid", str(tid), "--lun", "1",
                     "--backing-store", path)
            self.adm("--mode", "logicalunit", "--op", "new", "--tid", str(tid), "--lun", "2",
                     "--bstype", "null", "--backing-store", "null%d" % tid)
            self.adm("--mode", "target", "--op", "bind", "--tid", str(tid),
                     "--initiator-address", "ALL")
        for key, value in UTGT_OFFER:
            self.adm("--mode", "target", "--op", "update", "--tid", "2", "--name", key,
                     "--value", value)
        return self

    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()        # tgtd ignores SIGTERM
            self.proc.wait()


class TgtTarget:
    """A view of one tgt target as a system of its own (tgt or tgt-tuned)."""

    kind = "tgt"

    def __init__(self, tgt, iqn, name):
        self.tgt, self.iqn, self.name = tgt, iqn, name

    def url(self, lun):
        return "iscsi://127.0.0.1:%d/%s/%d" % (self.tgt.port, self.iqn, lun)

    def pid(self):
        return self.tgt.pid()


class Runner:
    """Runs one initiator against one URL and measures everyone's CPU around it."""

    def __init__(self, args, iobench):
        self.args, self.iobench = args, iobench
        self.qemu_counts = {}

    def initiator(self, w, url, seconds):
        """argv and a parser of the tool's output into (ios, secs, extra)."""
        if w.tool == "iobench":
            argv = [self.iobench, "-u", url, "-c", str(w.sessions), "-q", str(w.qd),
                    "-b", str(w.size), "-t", "%.2f" % seconds, "-s", str(self.args.span)]
            argv += (["-w"] if w.write else []) + (["-r"] if w.rand else [])
            return argv, parse_iobench
        if w.tool == "iscsi-perf":
            argv = ["iscsi-perf", "-b", str(w.size // 512), "-m", str(w.qd),
                    "-t", str(max(1, int(round(seconds))))] + (["-r"] if w.rand else []) + [url]
            return argv, lambda out: parse_iscsi_perf(out, max(1, int(round(seconds))))
        count = self.qemu_count(w, url, seconds)
        argv = qemu_argv(w, url, count)
        return argv, lambda out: parse_qemu(out, count)

    def qemu_count(self, w, url, seconds):
        """qemu-img bench counts requests: calibrate a count for `seconds` once per cell."""
        key = (w.name, url)
        if key not in self.qemu_counts:
            count = 64 * w.qd
            while True:
                t0 = time.monotonic()
                run(qemu_argv(w, url, count), timeout=120)
                dt = time.monotonic() - t0
                if dt >= 0.3 or count >= 1 << 22:
                    break
                count *= 4
            self.qemu_counts[key] = max(w.qd, int(count * seconds / dt))
        return self.qemu_counts[key]

    def measure(self, w, system, lun, seconds):
        argv, parse = self.initiator(w, system.url(lun), seconds)
        pid = system.pid()
        d0, m0, c0, t0 = proc_cpu(pid), machine_busy(), children_cpu(), time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 4 + 60)
        d1, m1, c1, t1 = proc_cpu(pid), machine_busy(), children_cpu(), time.monotonic()
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s %s" % (argv[0], r.returncode,
                                                         r.stdout[-500:], r.stderr[-500:]))
        ios, secs, extra = parse(r.stdout.replace("\r", "\n"))
        if ios <= 0:
            raise RuntimeError("%s did no I/O: %s" % (argv[0], r.stdout[-500:]))
        ut, st = d1[0] - d0[0], d1[1] - d0[1]
        wall = t1 - t0
        busy_cores = (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * NPROC
        row = {"ios": ios, "secs": round(secs, 3), "iops": round(ios / secs),
               "mbps": round(ios * w.size / secs / 1e6, 1),
               "cpu_us_per_io": round((ut + st) / ios * 1e6, 2),
               "utime_us_per_io": round(ut / ios * 1e6, 2),
               "stime_us_per_io": round(st / ios * 1e6, 2),
               "initiator_us_per_io": round((c1 - c0) / ios * 1e6, 2),
               "daemon_cores": round((ut + st) / wall, 2),
               "other_cores": round(max(0.0, busy_cores - (ut + st + c1 - c0) / wall), 2)}
        row.update(extra)
        if "lat_avg_us" not in row:
            # Little's law: requests in flight / throughput
            row["lat_avg_us"] = round(w.qd * w.sessions / row["iops"] * 1e6, 1)
        return row


def qemu_argv(w, url, count):
    return (["qemu-img", "bench", "-f", "raw", "-t", "none", "-n", "-c", str(count),
             "-d", str(w.qd), "-s", str(w.size)] + (["-w"] if w.write else []) + [url])


def parse_iobench(out):
    kv = dict(tok.split("=", 1) for tok in out.split() if "=" in tok)
    extra = {k: float(kv[k]) for k in ("lat_avg_us", "lat_p50_us", "lat_p99_us")}
    return int(kv["ios"]), float(kv["secs"]), extra


def parse_iscsi_perf(out, seconds):
    m = re.findall(r"^iops average (\d+)", out, re.M)
    if not m:
        raise RuntimeError("iscsi-perf printed no average: %s" % out[-300:])
    iops = int(m[-1])
    return iops * seconds, float(seconds), {}


def parse_qemu(out, count):
    m = re.search(r"Run completed in ([0-9.]+) seconds", out)
    if not m:
        raise RuntimeError("qemu-img bench printed no time: %s" % out[-300:])
    return count, max(float(m.group(1)), 1e-6), {}


def iperf3_run(seconds):
    """iperf3's single-stream loopback bandwidth in MB/s."""
    port = free_port()
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t",
                                str(max(1, int(round(seconds)))), "-f", "m"],
                               capture_output=True, text=True, timeout=seconds + 30)
            if r.returncode == 0:
                break
            time.sleep(0.05)         # the server was not listening yet
        m = re.findall(r"([0-9.]+) Mbits/sec.*receiver", r.stdout)
        if not m:
            raise RuntimeError("iperf3: %s %s" % (r.stdout[-300:], r.stderr[-300:]))
        return round(float(m[-1]) / 8, 1)
    finally:
        srv.wait(10)


def build_iobench(out):
    src = os.path.join(HERE, "iobench.c")
    exe = os.path.join(out, "iobench")
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(src):
        return exe
    flags = run(["pkg-config", "--cflags", "--libs", "libiscsi"]).stdout.split()
    run(["cc", "-O2", "-g", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-o",
         exe, src] + flags)
    return exe


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.csv_path = os.path.join(args.out, "runs.csv")
        self.csv_file = None
        self.daemons = []
        self.iperf = []

    def record(self, section, w, lun, system, rep, row):
        row = dict({"section": section, "workload": w.name, "lun": lun, "system": system,
                    "rep": rep, "tool": w.tool, "bytes": w.size, "qd": w.qd,
                    "sessions": w.sessions}, **row)
        self.rows.append(row)
        if self.csv_file is None:
            self.csv_file = open(self.csv_path, "w", newline="")
            self.csv = csv.DictWriter(self.csv_file, fieldnames=RUN_FIELDS, extrasaction="ignore")
            self.csv.writeheader()
        self.csv.writerow(row)
        self.csv_file.flush()
        log("  %-8s %-11s %-5s %-10s rep %d: %8d IOPS %8.1f MB/s %7.2f us CPU/IO (other load "
            "%.2f cores)" % (section, w.name, lun, system, rep, row["iops"], row["mbps"],
                            row["cpu_us_per_io"], row["other_cores"]))

    def cell(self, runner, section, w, lun_name, systems, rep, rot):
        order = systems[rot % len(systems):] + systems[:rot % len(systems)]
        for system, lun in order:
            try:
                row = runner.measure(w, system, lun, self.args.seconds)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log("  %s %s %s %s: FAILED: %s" % (section, w.name, lun_name, system.name, e))
                self.failures += 1
                continue
            self.record(section, w, lun_name, system.name, rep, row)

    def run(self):
        a = self.args
        os.makedirs(a.out, exist_ok=True)
        iobench = build_iobench(a.out)
        runner = Runner(a, iobench)
        path = os.path.join(a.shm, "utgt-bench-%d.img" % os.getpid())
        with open(path, "wb") as f:
            f.truncate(a.lun_size)
        self.path = path
        self.failures = 0
        try:
            self.start_daemons(path)
            self.matrix(runner)
        finally:
            for d in self.daemons:
                d.stop()
            os.unlink(path)
            if self.csv_file:
                self.csv_file.close()
        return self.failures

    def start_daemons(self, path):
        a = self.args
        self.utgt = {}
        for n in a.reactors:
            name = "utgt" if n == a.reactors[-1] else "utgt-%dr" % n
            d = Utgt(a.build, a.out, n, name).start(
                path, drivers=(a.drivers or True) if name == "utgt" else False)
            self.daemons.append(d)
            self.utgt[n] = d
        self.main_utgt = self.utgt[a.reactors[-1]]
        self.tgt_systems = []
        if shutil.which("tgtd") and not a.no_tgt:
            tgt = Tgt(a.out).start(path)
            self.daemons.append(tgt)
            self.tgt_systems = [TgtTarget(tgt, TGT_IQN, "tgt")]
            if not a.smoke:
                self.tgt_systems.append(TgtTarget(tgt, TGT_TUNED_IQN, "tgt-tuned"))
        else:
            log("tgtd not found (or --no-tgt): utgt only")

    def ceiling(self, w, rep):
        """iperf3 right before a large-block cell: the ceiling it is compared with comes from
        the same minute of the same (busy) machine."""
        if "ceiling" not in self.args.sections or not shutil.which("iperf3"):
            return
        try:
            mbps = iperf3_run(self.args.seconds)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            log("  iperf3 FAILED: %s" % e)
            return
        self.iperf.append(mbps)
        self.record("ceiling", w, "-", "iperf3", rep, {"ios": 0, "iops": 0, "mbps": mbps,
                                                       "cpu_us_per_io": 0, "other_cores": 0})

    def matrix(self, runner):
        a = self.args
        luns = [("file", 1), ("null", 2)] if not a.smoke else [("null", 2)]
        main_sys = [self.main_utgt] + self.tgt_systems
        scale_sys = [self.utgt[n] for n in a.reactors] + self.tgt_systems[:1]
        if a.smoke:
            scale_sys = [self.main_utgt]
        drivers = sorted(self.main_utgt.driver_luns.items(), key=lambda kv: kv[1])
        for rep in range(a.reps):
            log("repetition %d of %d" % (rep + 1, a.reps))
            rot = rep
            for w in (SMOKE_MAIN if a.smoke else MAIN) if "main" in a.sections else []:
                if a.workloads and w.name not in a.workloads:
                    continue
                if w.size >= 131072:
                    self.ceiling(w, rep)
                for lun_name, lun in luns:
                    rot += 1
                    self.cell(runner, "main", w, lun_name, [(s, lun) for s in main_sys], rep, rot)
            for w in (SMOKE_SCALE if a.smoke else SCALE) if "scale" in a.sections else []:
                if a.workloads and w.name not in a.workloads:
                    continue
                for lun_name, lun in luns:
                    rot += 1
                    self.cell(runner, "scale", w, lun_name, [(s, lun) for s in scale_sys], rep,
                              rot)
            for w in DRIVER if "driver" in a.sections and not a.smoke else []:
                for drv, lun in drivers:
                    d = DriverView(self.main_utgt, drv, lun)
                    self.cell(runner, "driver", w, drv, [(d, lun)], rep, 0)


class DriverView:
    """utgt's LUN of one backing-store driver, named after the driver."""

    kind = "utgt"

    def __init__(self, utgt, drv, lun):
        self.utgt, self.name, self.lun = utgt, "utgt", lun
        self.drv = drv

    def url(self, lun):
        return self.utgt.url(lun)

    def pid(self):
        return self.utgt.pid()


RUN_FIELDS = ["section", "workload", "lun", "system", "rep", "tool", "bytes", "qd", "sessions",
              "ios", "secs", "iops", "mbps", "lat_avg_us", "lat_p50_us", "lat_p99_us",
              "cpu_us_per_io", "utime_us_per_io", "stime_us_per_io", "initiator_us_per_io",
              "daemon_cores", "other_cores"]


def git_version():
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.environ.get("UTGT_BUILDDIR",
                                                     os.path.join(ROOT, "build-bench")))
    p.add_argument("--out", default=None, help="results directory (default BUILD/bench)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    p.add_argument("--reps", type=int, default=3, help="repetitions of each cell")
    p.add_argument("--reactors", default="1-%d" % NPROC, help="utgtd --threads values, e.g. 1-2")
    p.add_argument("--sections", default="ceiling,main,scale,driver")
    p.add_argument("--drivers", default=None,
                   help="driver section LUNs, ';'-separated NAME[/direct][:BSOPTS] (e.g. "
                   "'io_uring;io_uring:sqpoll=1;aio/direct;null'); default: io_uring, null, "
                   "rdwr, aio, aio/direct, io_uring/direct")
    p.add_argument("--workloads", default=None,
                   help="only these cells of the main and scale sections, e.g. sr128k_qd8,sw128k_qd8")
    p.add_argument("--lun-size", type=int, default=1 << 30)
    p.add_argument("--span", type=int, default=1 << 30, help="bytes covered by random I/O")
    p.add_argument("--shm", default="/dev/shm", help="directory of the backing file")
    p.add_argument("--no-tgt", action="store_true", help="utgt only")
    p.add_argument("--smoke", action="store_true",
                   help="a few seconds: null LUN, three cells, one repetition")
    a = p.parse_args()
    # SIGTERM (a CI timeout) unwinds like ^C, so the finally blocks stop the daemons
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if a.smoke:
        a.seconds, a.reps, a.reactors, a.lun_size = 1.0, 1, str(min(2, NPROC)), 64 << 20
        a.span = a.lun_size
    lo, _, hi = a.reactors.partition("-")
    a.reactors = list(range(int(lo), int(hi or lo) + 1))
    a.sections = a.sections.split(",")
    a.workloads = set(a.workloads.split(",")) if a.workloads else set()
    a.drivers = [d for d in (a.drivers or "").split(";") if d]
    a.out = a.out or os.path.join(a.build, "bench")
    a.version = git_version()
    import report                  # bench/report.py: tables, CSV of medians, plot
    b = Bench(a)
    failures = b.run()
    report.write_all(a, b.rows, b.iperf)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    sys.exit(main())
