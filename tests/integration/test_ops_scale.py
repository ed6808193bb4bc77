# SPDX-License-Identifier: GPL-2.0-only
"""Scale of management: 100 targets with 1000 LUNs in total from one targets.conf (timed),
show on that configuration (timed), and adding/removing one LU through a config reload raising
REPORTED LUNS DATA HAS CHANGED only for the sessions of that target."""
import os
import time

from conftest import Daemon
from iscsi_client import Initiator
from test_ops_config import admin, tur_until_good, write

TARGETS = 100
LUNS_PER_TARGET = 10
CREATE_BOUND_S = 20.0     # measured ~1 s here; generous for slow CI and ASan
SHOW_BOUND_S = 5.0


def big_conf(workdir, extra_lun=False):
    img_dir = os.path.join(workdir, "imgs")
    os.makedirs(img_dir, exist_ok=True)
    parts = []
    for t in range(1, TARGETS + 1):
        parts.append("<target iqn.2026-11.org.utgt:scale%03d>" % t)
        nluns = LUNS_PER_TARGET + (1 if extra_lun and t == 1 else 0)
        for lun in range(1, nluns + 1):
            path = os.path.join(img_dir, "t%d-l%d.img" % (t, lun))
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.truncate(16 << 20)
            parts.append("\t<backing-store %s>\n\t\tlun %d\n\t</backing-store>" % (path, lun))
        parts.append("\tinitiator-address 127.0.0.1\n</target>")
    return write(workdir, "big.conf", "\n".join(parts) + "\n")


def test_scale_create_show_and_reported_luns_changed(workdir):
    conf = big_conf(workdir)
    d = Daemon(workdir).start()
    try:
        t0 = time.monotonic()
        admin(d, "-e", "-c", conf)
        create_s = time.monotonic() - t0
        t0 = time.monotonic()
        out = d.adm("--mode", "target", "--op", "show").stdout
        show_s = time.monotonic() - t0
        t0 = time.monotonic()
        dump = admin(d, "--dump").stdout
        dump_s = time.monotonic() - t0
        t0 = time.monotonic()
        assert "no changes" in admin(d, "--dry-run", "-e", "-c", conf).stdout
        noop_s = time.monotonic() - t0
        print("\nscale: %d targets, %d LUNs: create %.2f s, show %.3f s (%d bytes), dump %.3f s, "
              "no-op reconcile %.3f s" % (TARGETS, TARGETS * LUNS_PER_TARGET, create_s, show_s,
                                          len(out), dump_s, noop_s))
        assert out.count("\nTarget ") + out.startswith("Target ") == TARGETS
        assert out.count("Type: disk") == TARGETS * LUNS_PER_TARGET
        assert dump.count("<backing-store") == TARGETS * LUNS_PER_TARGET
        assert create_s < CREATE_BOUND_S and show_s < SHOW_BOUND_S and noop_s < SHOW_BOUND_S

        # one session on target 1, one on target 2, both with their UAs drained
        a = Initiator("127.0.0.1", d.port, initiator="iqn.2026-11.org.utgt:ini-a")
        a.login("iqn.2026-11.org.utgt:scale001")
        b = Initiator("127.0.0.1", d.port, initiator="iqn.2026-11.org.utgt:ini-b")
        b.login("iqn.2026-11.org.utgt:scale002")
        tur_until_good(a)
        tur_until_good(b)
        conf = big_conf(workdir, extra_lun=True)
        t0 = time.monotonic()
        r = admin(d, "-v", "-e", "-c", conf)
        add_s = time.monotonic() - t0
        assert r.stdout.strip() == "+ lun 11 of iqn.2026-11.org.utgt:scale001: %s" % \
            os.path.join(workdir, "imgs", "t1-l11.img")
        ra = a.scsi(bytes(6), lun=1)
        assert ra.status == 2 and ra.sense_key == 6 and ra.asc_ascq == (0x3F, 0x0E), vars(ra)
        rb = b.scsi(bytes(6), lun=1)
        assert rb.status == 0, "another target's session saw a unit attention"
        # REPORT LUNS clears it and lists the new LUN
        rl = a.scsi(bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]), read_len=4096)
        assert rl.status == 0 and int.from_bytes(rl.data[:4], "big") // 8 == 12
        assert a.scsi(bytes(6), lun=1).status == 0
        # and removal
        conf = big_conf(workdir)
        t0 = time.monotonic()
        r = admin(d, "-v", "-e", "-c", conf)
        del_s = time.monotonic() - t0
        assert r.stdout.strip() == "- lun 11 of iqn.2026-11.org.utgt:scale001"
        ra = a.scsi(bytes(6), lun=1)
        assert ra.status == 2 and ra.asc_ascq == (0x3F, 0x0E)
        assert b.scsi(bytes(6), lun=1).status == 0
        print("scale: add one LU %.3f s, remove one LU %.3f s (reconcile of 1001 LUNs)" % (add_s, del_s))
        a.logout()
        b.logout()
        a.close()
        b.close()
    finally:
        assert d.stop() == 0, d.read_log()
