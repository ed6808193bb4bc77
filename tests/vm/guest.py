# SPDX-License-Identifier: GPL-2.0-only
"""Boots the test guest under qemu (TCG, user-mode network only) to run one scenario of
guest.sh against an iSCSI target on the host's loopback, and collects its reports from the
second serial port (a unix socket). Used by test_vm.py; also runnable by hand:

  python3 tests/vm/guest.py --iqn IQN --portal 127.0.0.1:3260 [--portal ...] [--fio-secs N]
      [--scenario basic|digest|multipath|recovery|stress|sg|devices] [--dmesg] [--shell]
      [--utgt-build DIR] [--chap-algs LIST]

The sg scenario also runs utgtd inside the guest: utgtd, utgtadm and their libraries from
--utgt-build (default $UTGT_BUILDDIR or ./build) go in as a third cpio archive under /utgt.
"""
import argparse
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vmtool  # noqa: E402

QEMU = os.environ.get("UTGT_QEMU", "qemu-system-x86_64")
HOST_FROM_GUEST = "10.0.2.2"


def qemu_unusable():
    """Why qemu cannot run here at all, or None."""
    if not shutil.which(QEMU):
        return "%s is not installed (scripts/install-deps.sh installs qemu-system-x86)" % QEMU
    try:
        r = subprocess.run([QEMU, "-accel", "help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s does not run: %s" % (QEMU, e)
    if r.returncode != 0 or "tcg" not in r.stdout:
        return "%s has no TCG accelerator: %s" % (QEMU, (r.stdout + r.stderr).strip())
    return None


def build(log=sys.stderr):
    """Builds or reuses the cached guest; returns its directory."""
    r = subprocess.run([os.path.join(HERE, "build-guest.sh")], stdout=subprocess.PIPE,
                       stderr=log, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError("build-guest.sh failed (%d)" % r.returncode)
    return r.stdout.strip().splitlines()[-1]


class Result:
    """What the guest reported: steps in order, INFO lines, its dmesg and the console."""

    def __init__(self):
        self.steps = []          # (name, passed, seconds, detail)
        self.info = []
        self.out = []            # output of failed steps
        self.dmesg = []
        self.iscsid = []         # the guest's iscsid log
        self.done = None         # "pass" / "fail" / None when the guest never finished
        self.console = ""
        self.t_first = None      # host seconds from qemu start to the guest's first report
        self.t_total = None
        self.times = {}          # step name -> host seconds since qemu start at its report

    def step(self, name):
        for s in self.steps:
            if s[0] == name:
                return s
        return None

    def failed(self):
        return [s for s in self.steps if not s[1]]

    def summary(self):
        lines = ["%-18s %s %6ss %s" % (n, "PASS" if ok else "FAIL", secs, d)
                 for n, ok, secs, d in self.steps]
        lines += ["info: " + i for i in self.info]
        lines += ["out: " + o for o in self.out]
        lines.append("done: %s, first report %.1f s, total %.1f s" %
                     (self.done, self.t_first or -1, self.t_total or -1))
        return "\n".join(lines)

    def dmesg_matching(self, *words):
        return [l for l in self.dmesg if any(w in l for w in words)]

    def parse(self, line, t):
        kind, _, rest = line.partition(" ")
        if kind == "STEP":
            f = rest.split(" ", 3) + ["", "", ""]
            self.steps.append((f[0], f[1] == "PASS", f[2], f[3].strip()))
            self.times[f[0]] = t
        elif kind == "INFO":
            self.info.append(rest)
        elif kind == "OUT":
            self.out.append(rest)
        elif kind == "DMESG":
            self.dmesg.append(rest)
        elif kind == "ISCSID":
            self.iscsid.append(rest)
        elif kind == "DONE":
            self.done = rest.strip()
        if self.t_first is None:
            self.t_first = t


def guest_portal(host_portal):
    """127.0.0.1:PORT on the host is 10.0.2.2:PORT from inside the guest."""
    return "%s:%s" % (HOST_FROM_GUEST, host_portal.rsplit(":", 1)[1])


def qemu_argv(gdir, initrd, sock, append, cpus=2, mem=512):
    return [QEMU, "-accel", "tcg,thread=multi",
            "-cpu", "qemu64,+ssse3,+sse4.1,+sse4.2,+popcnt,+rdrand",
            "-m", str(mem), "-smp", str(cpus), "-nographic", "-no-reboot", "-vga", "none",
            "-kernel", os.path.join(gdir, "vmlinux"), "-initrd", initrd, "-append", append,
            "-drive", "file=%s,format=raw,if=virtio,readonly=on" % os.path.join(gdir, "root.ext4"),
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
            "-serial", "mon:stdio"] + (
            ["-chardev", "socket,id=res,path=%s" % sock, "-serial", "chardev:res"] if sock else [])


# quiet: the console is a slow emulated UART. No lockup or RCU stall detectors: a busy host
# stalls TCG vCPUs, and their warnings would read as target trouble.
KERNEL_ARGS = ("console=ttyS0 panic=-1 quiet mitigations=off random.trust_cpu=on 8250.nr_uarts=2 "
               "nowatchdog rcupdate.rcu_cpu_stall_suppress=1")


def utgt_files(builddir):
    """utgtd, utgtadm and the shared libraries ldd lists for them except the C library (the
    image has the host's), as (name in the guest, host path, mode): the sg scenario runs a
    target inside the guest from /utgt/bin with LD_LIBRARY_PATH=/utgt/lib."""
    bins = [os.path.join(builddir, "src", "daemon", "utgtd"),
            os.path.join(builddir, "tools", "utgtadm", "utgtadm")]
    files, libs = [], {}
    for b in bins:
        if not os.path.isfile(b):
            raise RuntimeError("%s is not built" % b)
        files.append(("utgt/bin/" + os.path.basename(b), b, 0o755))
        out = subprocess.run(["ldd", b], capture_output=True, text=True, check=True).stdout
        for m in re.finditer(r"^\s*(\S+) => (/\S+)", out, re.M):
            if not m.group(1).startswith(("libc.so", "ld-linux")):
                libs[m.group(1)] = m.group(2)
    return files + [("utgt/lib/" + n, p, 0o644) for n, p in sorted(libs.items())]


def make_initrd(gdir, path, script=os.path.join(HERE, "guest.sh"), extra=()):
    """The cached initramfs with guest.sh appended as a second cpio archive, and the extra
    files (see utgt_files) as a third."""
    with open(path, "wb") as f:
        with open(os.path.join(gdir, "initrd.cpio"), "rb") as base:
            shutil.copyfileobj(base, f)
        w = vmtool.CpioWriter(f)
        with open(script, "rb") as s:
            w.file("guest.sh", s.read(), 0o755)
        w.trailer()
        if extra:
            w = vmtool.CpioWriter(f)
            for d in sorted({os.path.dirname(n) for n, _, _ in extra} | {"utgt"}):
                w.dir(d)
            for name, host, mode in extra:
                with open(host, "rb") as s:
                    w.file(name, s.read(), mode)
            w.trailer()


def run(scenario, iqn, portals, fio_secs=10, lun_bytes=0, on_event=None, timeout=300,
        workdir=None, gdir=None, extra=(), chap_algs=None):
    """Boots the guest for one scenario; returns a Result (never raises on guest failure).
    portals are host-side "127.0.0.1:PORT" strings; on_event(name, result) is called when the
    guest reports EVENT name. extra: files for the guest (utgt_files); chap_algs: what the
    digest scenario's mutual CHAP login offers (open-iscsi's chap_algs, default SHA3-256)."""
    gdir = gdir or build()
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="utgt-vm-")
    res = Result()
    initrd = os.path.join(workdir, "initrd")
    make_initrd(gdir, initrd, extra=extra)
    sock_path = os.path.join(workdir, "results.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(sock_path)
    lsock.listen(1)
    args = [scenario, iqn, ",".join(guest_portal(p) for p in portals), str(fio_secs),
            str(lun_bytes)] + ([chap_algs] if chap_algs else [])
    append = KERNEL_ARGS + " -- " + " ".join(args)
    console_path = os.path.join(workdir, "console.log")
    t0 = time.monotonic()
    with open(console_path, "wb") as console:
        proc = subprocess.Popen(qemu_argv(gdir, initrd, sock_path, append),
                                stdin=subprocess.DEVNULL, stdout=console, stderr=console)
    try:
        _collect(proc, lsock, res, t0, timeout, on_event)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        lsock.close()
        res.t_total = time.monotonic() - t0
        with open(console_path, "rb") as f:
            res.console = f.read().decode(errors="replace")
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    return res


def _collect(proc, lsock, res, t0, timeout, on_event):
    deadline = t0 + timeout
    lsock.settimeout(30)
    try:
        conn, _ = lsock.accept()
    except socket.timeout:
        res.info.append("qemu did not connect the result port")
        return
    buf = b""
    with conn:
        while time.monotonic() < deadline:
            r, _, _ = select.select([conn], [], [], 0.5)
            if not r:
                if proc.poll() is not None:
                    break
                continue
            data = conn.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.decode(errors="replace").rstrip("\r")
                t = time.monotonic() - t0
                res.parse(line, t)
                if line.startswith("EVENT ") and on_event:
                    on_event(line[6:].strip(), res)
        else:
            res.info.append("timeout after %d s" % timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="basic",
                    choices=["basic", "digest", "multipath", "recovery", "stress", "sg",
                             "devices"])
    ap.add_argument("--iqn", default="iqn.2026-11.org.utgt:demo")
    ap.add_argument("--portal", action="append", help="host portal, e.g. 127.0.0.1:3260")
    ap.add_argument("--fio-secs", type=int, default=10)
    ap.add_argument("--lun-bytes", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--shell", action="store_true", help="interactive shell on the console")
    ap.add_argument("--dmesg", action="store_true", help="print the guest's dmesg")
    ap.add_argument("--utgt-build", default=os.environ.get("UTGT_BUILDDIR", os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "build")), help="utgt build for the sg scenario")
    ap.add_argument("--chap-algs", help="CHAP algorithms of the digest scenario's mutual login")
    a = ap.parse_args()
    why = qemu_unusable()
    if why:
        sys.exit(why)
    gdir = build()
    portals = a.portal or ["127.0.0.1:3260"]
    if a.shell:
        with tempfile.TemporaryDirectory(prefix="utgt-vm-") as d:
            initrd = os.path.join(d, "initrd")
            make_initrd(gdir, initrd)
            sys.exit(subprocess.call(qemu_argv(gdir, initrd, None, KERNEL_ARGS + " -- shell")))
    extra = utgt_files(a.utgt_build) if a.scenario == "sg" else ()
    res = run(a.scenario, a.iqn, portals, a.fio_secs, a.lun_bytes, timeout=a.timeout, gdir=gdir,
              extra=extra, chap_algs=a.chap_algs)
    if a.dmesg or res.done != "pass":
        print("\n".join("dmesg: " + l for l in res.dmesg))
    if res.done is None:
        print(res.console[-4000:])
    print(res.summary())
    sys.exit(0 if res.done == "pass" else 1)


if __name__ == "__main__":
    main()
