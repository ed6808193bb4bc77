#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where a daemon's time goes at 4k random read QD32 (or any iobench cell), per I/O.

For each LUN (file, null) and system (utgt, tgt): runs iobench against a fresh daemon and,
while it runs, samples the daemon with `perf record -e cpu-clock` (software clock: works in VMs
without hardware counters), counts its system calls and context switches with `perf stat`
tracepoints, and finally attaches `strace -c -f` for a few seconds. Each function's share of
the samples is turned into nanoseconds per I/O with the CPU time per I/O measured in the same
run. Writes profile-<system>-<lun>.txt into --out and prints them.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (same directory)


def start_system(a, name, path):
    if name == "utgt":
        d = bench.Utgt(a.build, a.out, a.threads, "utgt-profile").start(path)
        return d, d
    tgt = bench.Tgt(a.out).start(path)
    return tgt, bench.TgtTarget(tgt, bench.TGT_IQN, "tgt")


def iobench_argv(a, iobench, url, seconds=None):
    argv = [iobench, "-u", url, "-q", str(a.qd), "-b", str(a.size),
            "-t", str(seconds or a.seconds), "-s", str(1 << 30)]
    return argv + (["-w"] if a.write else []) + ([] if a.seq else ["-r"])


def ios_of(out):
    return int(re.search(r"ios=(\d+)", out).group(1))


def plain_run(a, iobench, system, pid):
    """CPU per I/O without any tool attached (the tools' overhead would inflate it)."""
    c0 = bench.proc_cpu(pid)
    r = subprocess.run(iobench_argv(a, iobench, system.url(a.lun)), capture_output=True,
                       text=True, timeout=a.seconds + 60)
    c1 = bench.proc_cpu(pid)
    ios = ios_of(r.stdout)
    return ios, sum(c1) - sum(c0), (c1[0] - c0[0]) / ios * 1e6, (c1[1] - c0[1]) / ios * 1e6


def traced(a, iobench, system, tool_argv, seconds):
    """Runs iobench while tool_argv (perf, strace) is attached; returns the I/Os done."""
    tool = subprocess.Popen(tool_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r = subprocess.run(iobench_argv(a, iobench, system.url(a.lun), seconds),
                       capture_output=True, text=True, timeout=seconds + 60)
    tool.send_signal(signal.SIGINT)
    tool.wait(60)
    return ios_of(r.stdout)


def perf_profile(a, iobench, system, pid):
    """perf record -g: per symbol, self and inclusive ("children") shares of the samples."""
    data = os.path.join(a.out, "perf.data")
    traced(a, iobench, system, ["perf", "record", "-q", "-g", "-e", "cpu-clock", "-F", "2999",
                                "-p", str(pid), "-o", data], a.seconds)
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children", "--sort",
                             "dso,sym", "-g", "none", "--percent-limit", "0.3"],
                            capture_output=True, text=True, timeout=300).stdout
    threads = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--sort", "comm", "-g", "none"],
                             capture_output=True, text=True, timeout=300).stdout
    rows = []
    for line in threads.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+(\S.*)", line)
        if m:
            rows.append((None, float(m.group(1)), "thread", "", m.group(2).strip()))
    for line in report.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
        if m:
            rows.append((float(m.group(1)), float(m.group(2)), m.group(3), m.group(4),
                         m.group(5).strip()))
    return rows


def syscall_counts(a, iobench, system, pid):
    out = os.path.join(a.out, "perf-stat.txt")
    events = ",".join(["raw_syscalls:sys_enter", "context-switches"] +
                      ["syscalls:sys_enter_" + sc for sc in TRACED_SYSCALLS])
    ios = traced(a, iobench, system, ["perf", "stat", "-x", ",", "-o", out, "-e", events, "-p",
                                      str(pid)], a.seconds)
    counts = {}
    with open(out) as f:
        for line in f:
            parts = line.split(",")
            if len(parts) > 2 and parts[0].strip().isdigit() and int(parts[0]):
                name = parts[2].replace("syscalls:sys_enter_", "")
                counts[name.replace("raw_syscalls:sys_enter", "(all)")] = int(parts[0])
    return ios, counts


# The system calls of an I/O path (all of them would be ~400 events per thread: tgt has dozens)
TRACED_SYSCALLS = ["read", "write", "readv", "writev", "recvmsg", "sendmsg", "recvfrom", "sendto",
                   "pread64", "pwrite64", "preadv2", "pwritev2", "epoll_wait", "epoll_pwait",
                   "epoll_ctl", "poll", "ppoll", "io_uring_enter", "io_submit", "io_getevents",
                   "setsockopt", "futex", "brk", "mmap", "munmap", "kill", "getpid", "fdatasync"]


def strace_summary(a, iobench, system, pid):
    out = os.path.join(a.out, "strace.txt")
    ios = traced(a, iobench, system, ["strace", "-c", "-f", "-o", out, "-p", str(pid)],
                 a.strace_seconds)
    with open(out) as f:
        return ios, f.read()


def is_user_dso(dso):
    return not dso.startswith("[")


def profile_lines(rows, cpu_us, limit=25):
    """Three views: libc system-call wrappers inclusive (kernel time below them), the daemon's
    own functions (self), and the kernel's heaviest functions (self)."""
    ns = lambda pct: pct / 100 * cpu_us * 1000  # noqa: E731
    out = ["time per thread (iou-wrk-*: io_uring's kernel workers, counted in the daemon's "
           "CPU time):"]
    for _, pct, _, _, comm in sorted((r for r in rows if r[2] == "thread"),
                                     key=lambda r: -r[1]):
        out.append("  %6.2f%%  %7.0f ns/IO  %s" % (pct, ns(pct), comm))
    rows = [r for r in rows if r[2] != "thread"]
    out += ["", "inclusive time per system call (libc wrapper and the kernel below it):"]
    for ch, _, dso, _, sym in sorted(rows, key=lambda r: -r[0]):
        if dso.startswith(("libc", "liburing")) and ch >= 1.0 and \
                not sym.startswith(("__libc_start", "0x")):
            out.append("  %6.2f%%  %7.0f ns/IO  %s" % (ch, ns(ch), sym))
    user = [r for r in rows if is_user_dso(r[2]) and not r[4].startswith("0x") and r[1] > 0]
    out += ["", "user space, self time (total %.1f%%, %.0f ns/IO):" % (
        sum(r[1] for r in user), ns(sum(r[1] for r in user)))]
    for _, self_pct, dso, _, sym in sorted(user, key=lambda r: -r[1])[:limit]:
        out.append("  %6.2f%%  %7.0f ns/IO  %-12s %s" % (self_pct, ns(self_pct), dso[:12], sym))
    kern = [r for r in rows if r[2].startswith("[kernel") and r[1] > 0]
    out += ["", "kernel, self time (total %.1f%%; on this paravirtualized guest, time with "
            "interrupts off is sampled at pvm_irq_enable):" % sum(r[1] for r in kern)]
    for _, self_pct, _, _, sym in sorted(kern, key=lambda r: -r[1])[:limit]:
        out.append("  %6.2f%%  %7.0f ns/IO  %s" % (self_pct, ns(self_pct), sym))
    return out


def profile_one(a, iobench, name, lun_name, path):
    daemon, system = start_system(a, name, path)
    try:
        pid = system.pid()
        subprocess.run(iobench_argv(a, iobench, system.url(a.lun), 1), capture_output=True,
                       timeout=60)  # warm up: first touches, pools
        ios, cpu_s, ut, st = plain_run(a, iobench, system, pid)
        cpu_us = cpu_s / ios * 1e6
        rows = perf_profile(a, iobench, system, pid)
        c_ios, counts = syscall_counts(a, iobench, system, pid)
        s_ios, strace = strace_summary(a, iobench, system, pid)
    finally:
        daemon.stop()
    text = ["== %s, %s LUN, %s: %d I/Os in %d s, %.2f us of daemon CPU per I/O "
            "(user %.2f, sys %.2f) ==" % (name, lun_name, describe(a), ios, a.seconds, cpu_us,
                                          ut, st),
            "(shares from perf record -g -e cpu-clock in a second run; ns/IO = share x the CPU "
            "per I/O above)", ""]
    text += profile_lines(rows, cpu_us)
    text += ["", "system calls per I/O (perf stat tracepoints, third run, %d I/Os):" % c_ios]
    for sc, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if sc not in ("context-switches", "(all)") and n / c_ios >= 0.001:
            text.append("  %-24s %8.3f" % (sc, n / c_ios))
    text.append("  %-24s %8.3f" % ("(all system calls)", counts.get("(all)", 0) / c_ios))
    text.append("  %-24s %8.3f" % ("context switches", counts.get("context-switches", 0) / c_ios))
    text += ["", "strace -c -f for %d s (%d I/Os while traced; tracing slows the daemon, so "
             "batches grow):" % (a.strace_seconds, s_ios), strace]
    out = "\n".join(text)
    with open(os.path.join(a.out, "profile-%s-%s.txt" % (name, lun_name)), "w") as f:
        f.write(out)
    print(out, flush=True)


def describe(a):
    return "%s %s QD%d %dB" % ("sequential" if a.seq else "random", "write" if a.write else
                               "read", a.qd, a.size)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.environ.get("UTGT_BUILDDIR",
                                                     os.path.join(bench.ROOT, "build-bench")))
    p.add_argument("--out", default=None)
    p.add_argument("--systems", default="utgt,tgt")
    p.add_argument("--luns", default="null,file")
    p.add_argument("--threads", type=int, default=bench.NPROC)
    p.add_argument("--qd", type=int, default=32)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--write", action="store_true")
    p.add_argument("--seq", action="store_true")
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--strace-seconds", type=int, default=3)
    a = p.parse_args()
    a.out = a.out or os.path.join(a.build, "profile")
    os.makedirs(a.out, exist_ok=True)
    iobench = bench.build_iobench(a.out)
    path = os.path.join("/dev/shm", "utgt-profile-%d.img" % os.getpid())
    with open(path, "wb") as f:
        f.truncate(1 << 30)
    try:
        for name in a.systems.split(","):
            for lun_name in a.luns.split(","):
                a.lun = {"file": 1, "null": 2}[lun_name]
                profile_one(a, iobench, name, lun_name, path)
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
