# SPDX-License-Identifier: GPL-2.0-only
"""Reporting for bench.py: medians per cell, ratios utgt/tgt (median of the ratios of runs made
side by side in the same repetition), the issue's goals, and summary.csv, results.md and
bench.png (gnuplot) in the output directory."""
import csv
import os
import platform
import shutil
import statistics
import subprocess
import time

METRICS = ["iops", "mbps", "lat_avg_us", "lat_p99_us", "cpu_us_per_io", "utime_us_per_io",
           "stime_us_per_io", "initiator_us_per_io", "other_cores"]
SUMMARY_FIELDS = (["section", "workload", "lun", "system", "n"] + METRICS +
                  ["iops_x_tgt", "cpu_x_tgt", "lat_x_tgt", "iops_x_tuned", "cpu_x_tuned",
                   "pct_of_iperf"])


def med(values):
    values = [float(v) for v in values if v not in (None, "")]
    return statistics.median(values) if values else None


def paired_ratio(rows, key, sys_a, sys_b):
    """Median over repetitions of a/b, each from runs of the same cell and repetition."""
    by_rep = {}
    for r in rows:
        by_rep.setdefault(r["rep"], {})[r["system"]] = r
    ratios = [float(p[sys_a][key]) / float(p[sys_b][key]) for p in by_rep.values()
              if sys_a in p and sys_b in p and float(p[sys_b][key] or 0) > 0
              and p[sys_a][key] not in (None, "")]
    return round(statistics.median(ratios), 3) if ratios else None


def pct_of_ceiling(rows, srows):
    """Median over repetitions of MB/s / iperf3's MB/s measured just before the same cell."""
    ceil = {r["rep"]: float(r["mbps"]) for r in rows
            if r["section"] == "ceiling" and r["workload"] == srows[0]["workload"]}
    pct = [100 * float(r["mbps"]) / ceil[r["rep"]] for r in srows if ceil.get(r["rep"])]
    return round(statistics.median(pct), 1) if pct else None


def summarize(rows, iperf_mbps):
    cells = {}
    for r in rows:
        if r["section"] == "ceiling":
            continue
        cells.setdefault((r["section"], r["workload"], r["lun"]), []).append(r)
    out = []
    for (section, workload, lun), crows in cells.items():
        for system in dict.fromkeys(r["system"] for r in crows):
            srows = [r for r in crows if r["system"] == system]
            s = {"section": section, "workload": workload, "lun": lun, "system": system,
                 "n": len(srows)}
            for m in METRICS:
                v = med(r.get(m) for r in srows)
                s[m] = None if v is None else round(v, 2)
            if system.startswith("utgt"):
                for other, tag in (("tgt", "tgt"), ("tgt-tuned", "tuned")):
                    s["iops_x_" + tag] = paired_ratio(crows, "iops", system, other)
                    s["cpu_x_" + tag] = paired_ratio(crows, "cpu_us_per_io", system, other)
                s["lat_x_tgt"] = paired_ratio(crows, "lat_avg_us", system, "tgt")
            if section == "main" and int(srows[0]["bytes"]) >= 131072:
                s["pct_of_iperf"] = pct_of_ceiling(rows, srows)
            out.append(s)
    return out


def find(summary, section, workload, lun, system):
    for s in summary:
        if (s["section"], s["workload"], s["lun"], s["system"]) == (section, workload, lun,
                                                                    system):
            return s
    return None


def fmt(v, nd=0):
    if v is None:
        return "-"
    if nd == 0:
        return "%.0f" % v if abs(v) < 1e4 else "%.1fk" % (v / 1e3)
    return "%.*f" % (nd, v)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def cells_of(summary, section):
    seen = []
    for s in summary:
        if s["section"] == section and (s["workload"], s["lun"]) not in seen:
            seen.append((s["workload"], s["lun"]))
    return seen


def throughput_table(summary):
    rows = []
    for workload, lun in cells_of(summary, "main"):
        u, t, tt = (find(summary, "main", workload, lun, x) for x in ("utgt", "tgt", "tgt-tuned"))
        big = workload[2:].startswith(("128k", "1m"))
        key = "mbps" if big else "iops"
        rows.append([workload, lun, "MB/s" if big else "IOPS"] +
                    [fmt(x and x[key]) for x in (u, t, tt)] +
                    [fmt(u and u["iops_x_tgt"], 2), fmt(u and u["iops_x_tuned"], 2),
                     fmt(u and u.get("pct_of_iperf"), 1)])
    return table(["workload", "LUN", "unit", "utgt", "tgt", "tgt-tuned", "utgt/tgt",
                  "utgt/tgt-tuned", "utgt % of iperf3 (run just before)"], rows)


def cpu_table(summary):
    rows = []
    for workload, lun in cells_of(summary, "main"):
        u, t, tt = (find(summary, "main", workload, lun, x) for x in ("utgt", "tgt", "tgt-tuned"))
        rows.append([workload, lun] + [fmt(x and x["cpu_us_per_io"], 2) for x in (u, t, tt)] +
                    [fmt(u and u["cpu_x_tgt"], 2), fmt(u and u["cpu_x_tuned"], 2),
                     "%s / %s" % (fmt(u and u["utime_us_per_io"], 2),
                                  fmt(u and u["stime_us_per_io"], 2)),
                     fmt(u and u["initiator_us_per_io"], 1), fmt(u and u["other_cores"], 2)])
    return table(["workload", "LUN", "utgt", "tgt", "tgt-tuned", "utgt/tgt", "utgt/tgt-tuned",
                  "utgt user / sys", "initiator", "other load (cores)"], rows)


def latency_table(summary):
    rows = []
    for workload, lun in cells_of(summary, "main"):
        if not workload.endswith("_qd1"):
            continue
        u, t = find(summary, "main", workload, lun, "utgt"), find(summary, "main", workload,
                                                                   lun, "tgt")
        rows.append([workload, lun, fmt(u and u["lat_avg_us"], 1), fmt(u and u["lat_p99_us"], 1),
                     fmt(t and t["lat_avg_us"], 1), fmt(t and t["lat_p99_us"], 1),
                     fmt(u and u["lat_x_tgt"], 2)])
    return table(["workload", "LUN", "utgt avg µs", "utgt p99 µs", "tgt avg µs", "tgt p99 µs",
                  "utgt/tgt"], rows)


def scale_table(summary):
    systems = list(dict.fromkeys(s["system"] for s in summary if s["section"] == "scale"))
    rows = []
    for workload, lun in cells_of(summary, "scale"):
        cols = [find(summary, "scale", workload, lun, x) for x in systems]
        rows.append([workload, lun] + ["%s (%s µs)" % (fmt(c and c["iops"]),
                                                      fmt(c and c["cpu_us_per_io"], 1))
                                       for c in cols])
    return table(["sessions x QD", "LUN"] + ["%s IOPS (CPU/IO)" % x for x in systems], rows)


def driver_table(summary):
    rows = []
    for drv in dict.fromkeys(s["lun"] for s in summary if s["section"] == "driver"):
        r = find(summary, "driver", "rr4k_qd32", drv, "utgt")
        w = find(summary, "driver", "rw4k_qd32", drv, "utgt")
        rows.append([drv, fmt(r and r["iops"]), fmt(r and r["cpu_us_per_io"], 2),
                     fmt(w and w["iops"]), fmt(w and w["cpu_us_per_io"], 2)])
    return table(["driver", "4k rand read QD32 IOPS", "CPU/IO µs", "4k rand write QD32 IOPS",
                  "CPU/IO µs"], rows)


def goal(name, value, target, ok, note=""):
    return [name, value, target, "-" if ok is None else ("met" if ok else "not met"), note]


def busy_cores(s):
    """How many CPUs utgtd and the initiator kept busy in a cell: 1.0 for the initiator
    means the single initiator process, not the target, set the pace."""
    if not s or not s.get("iops"):
        return ""
    parts = []
    for key, who in (("initiator_us_per_io", "initiator"), ("cpu_us_per_io", "utgtd")):
        if s.get(key):
            parts.append("%s %.2f" % (who, s["iops"] * s[key] / 1e6))
    return "cores busy: " + ", ".join(parts) if parts else ""


def goal_rows(summary):
    rows = []
    for workload in ("rr4k_qd32", "rw4k_qd32"):
        for lun in ("file", "null"):
            u = find(summary, "main", workload, lun, "utgt")
            if not u:
                continue
            x = u["iops_x_tgt"]
            rows.append(goal("%s %s IOPS vs tgt" % (workload, lun), fmt(x, 2), ">= 2.0",
                             None if x is None else x >= 2.0, busy_cores(u)))
            x = u["cpu_x_tgt"]
            rows.append(goal("%s %s CPU/IO vs tgt" % (workload, lun), fmt(x, 2), "<= 0.5",
                             None if x is None else x <= 0.5))
            x = u["cpu_us_per_io"]
            rows.append(goal("%s %s utgt CPU/IO µs" % (workload, lun), fmt(x, 2), "<= 8.5",
                             None if x is None else x <= 8.5))
    for workload in ("sr128k_qd8", "sw128k_qd8"):
        for lun in ("file", "null"):
            u = find(summary, "main", workload, lun, "utgt")
            x = u and u.get("pct_of_iperf")
            if u:
                rows.append(goal("%s %s %% of iperf3" % (workload, lun), fmt(x, 1), ">= 90",
                                 None if x is None else x >= 90, busy_cores(u)))
    for workload in ("rr4k_qd1", "rw4k_qd1"):
        for lun in ("file", "null"):
            u = find(summary, "main", workload, lun, "utgt")
            x = u and u["lat_x_tgt"]
            if u:
                rows.append(goal("%s %s latency vs tgt" % (workload, lun), fmt(x, 2), "<= 0.7",
                                 None if x is None else x <= 0.7, busy_cores(u)))
    for lun in ("file", "null"):
        many = find(summary, "scale", "rr4k_64x8", lun, "utgt")
        few = [find(summary, "scale", w, lun, "utgt") for w in ("rr4k_1x32", "rr4k_2x32",
                                                                  "rr4k_4x32")]
        few = [f["iops"] for f in few if f]
        if many and few:
            x = many["iops"] / max(few)
            rows.append(goal("64x8 sessions %s IOPS vs best of 1/2/4" % lun, fmt(x, 2),
                             ">= 0.8 (no collapse)", x >= 0.8))
    return table(["goal", "measured", "target", "", "note"], rows)


def header(args, rows, iperf_mbps):
    kernel = platform.release()
    ver = getattr(args, "version", "?")
    other = [float(r["other_cores"]) for r in rows if r["section"] != "ceiling"]
    load = ("other load during runs (cores busy outside daemon and initiator): median %.2f, "
            "max %.2f of %d" % (statistics.median(other), max(other), os.cpu_count())
            if other else "")
    return ("# utgt benchmark, %s\n\nutgt %s (tree when the bench started), kernel %s, %d CPUs; "
            "%d repetition(s) of %.0f s per cell, medians; ratios are medians of utgt/tgt over "
            "runs made side by side; "
            "iperf3 single-stream loopback ceiling %s MB/s (median of the runs made before each "
            "large-block cell). %s\n" %
            (time.strftime("%Y-%m-%d %H:%M"), ver, kernel, os.cpu_count(), args.reps,
             args.seconds, fmt(iperf_mbps, 0), load))


def write_markdown(args, summary, rows, iperf_mbps):
    parts = [header(args, rows, iperf_mbps)]
    if cells_of(summary, "main"):
        parts += ["\n## Throughput\n\n", throughput_table(summary),
                  "\n## Target CPU per I/O (µs, daemon utime+stime / I/Os)\n\n",
                  cpu_table(summary)]
        if latency_table(summary).count("\n") > 2:
            parts += ["\n## Latency at QD1\n\n", latency_table(summary)]
    if cells_of(summary, "scale"):
        parts += ["\n## Scaling (4k random read; reactors: utgt-Nr = --threads N)\n\n",
                  scale_table(summary)]
    if cells_of(summary, "driver"):
        parts += ["\n## utgt backing-store drivers (file LUN on the same file; null)\n\n",
                  driver_table(summary)]
    if cells_of(summary, "main"):
        parts += ["\n## Goals of the performance issue\n\n", goal_rows(summary)]
    text = "".join(parts)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    return text


PLOT_HEAD = """
set terminal pngcairo size 1400,%d font ",10" noenhanced
set output '%s'
set multiplot layout %d,1
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top left
set xtics rotate by -30 left scale 0
set logscale y
"""
PLOT_RATIO = """
set title "utgt / tgt (defaults), medians of side-by-side runs (log scale)"
set arrow 1 from graph 0, first 2 to graph 1, first 2 nohead dt 2 lc rgb "dark-green"
set arrow 2 from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 2 lc rgb "dark-red"
plot '%s' using 2:xtic(1) title "throughput ratio (goal >= 2)", \\
     '' using 3 title "CPU per I/O ratio (goal <= 0.5)"
unset arrow 1
unset arrow 2
"""
PLOT_CPU = """
set title "target CPU per I/O (µs, log scale)"
set arrow 3 from graph 0, first 8.5 to graph 1, first 8.5 nohead dt 2 lc rgb "dark-green"
plot '%s' using 4:xtic(1) title "utgt"%s
unset multiplot
"""


def write_plot(args, summary):
    """Two panels: utgt/tgt ratios per cell, and CPU per I/O of each system."""
    cells = cells_of(summary, "main")
    if not shutil.which("gnuplot") or not cells:
        return None
    dat = os.path.join(args.out, "bench.dat")
    with open(dat, "w") as f:
        f.write("# cell iops_x_tgt cpu_x_tgt utgt tgt tgt_tuned\n")
        for workload, lun in cells:
            u, t, tt = (find(summary, "main", workload, lun, x)
                        for x in ("utgt", "tgt", "tgt-tuned"))
            vals = [u and u["iops_x_tgt"], u and u["cpu_x_tgt"]] + \
                   [x and x["cpu_us_per_io"] for x in (u, t, tt)]
            f.write('"%s %s" %s\n' % (workload, lun, " ".join(
                "NaN" if v is None else str(v) for v in vals)))
    # gnuplot refuses a series without a single point: plot only the systems that ran
    present = [name for name in ("tgt", "tgt-tuned")
               if any(find(summary, "main", w, lun, name) for w, lun in cells)]
    series = "".join(", '' using %d title \"%s\"" % (5 + i, name)
                     for i, name in enumerate(("tgt", "tgt-tuned")) if name in present)
    png = os.path.join(args.out, "bench.png")
    panels = 2 if "tgt" in present else 1
    script = PLOT_HEAD % (450 * panels, png, panels)
    if panels == 2:
        script += PLOT_RATIO % dat
    script += PLOT_CPU % (dat, series)
    r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        print("gnuplot failed: %s" % r.stderr, flush=True)
        return None
    return png


def write_all(args, rows, iperf):
    iperf_mbps = statistics.median(iperf) if iperf else None
    summary = summarize(rows, iperf_mbps)
    with open(os.path.join(args.out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS, extrasaction="ignore")
        w.writeheader()
        for s in summary:
            w.writerow(s)
        if iperf_mbps:
            w.writerow({"section": "ceiling", "workload": "iperf3", "system": "loopback",
                        "n": len(iperf), "mbps": iperf_mbps})
    text = write_markdown(args, summary, rows, iperf_mbps)
    png = write_plot(args, summary)
    print(text)
    print("results: %s/{runs.csv,summary.csv,results.md%s}" % (args.out,
                                                                ",bench.png" if png else ""))
