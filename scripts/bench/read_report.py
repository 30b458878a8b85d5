#!/usr/bin/env python3
"""The tables of scripts/bench-read.sh: medians of the runs in RAW.tsv
(measure, column, run, value; FAIL for a failed step) as markdown.

  read_report.py RAW.tsv "T1 T2 T3 T4"   (the seek positions, s)
"""
import statistics
import sys

PIECES = [("1048576", "1 MiB pieces"), ("262144", "256 KiB pieces")]
ROWS = [
    ("get", "`btfs get`, cold (MB/s)"),
    ("aria2c", "aria2c download, cold (MB/s)"),
    ("mount1", "mount, 1 reader: cold dd bs=1M (MB/s)"),
    ("mount4", "mount, 4 readers of 4 files at once (MB/s in sum)"),
    ("mount1/get", "  ratio mount/get, 1 reader"),
    ("mount1/aria2c", "  ratio mount/aria2c, 1 reader"),
    ("mount4/get", "  ratio mount/get, 4 readers"),
    ("mount4/aria2c", "  ratio mount/aria2c, 4 readers"),
    ("VmHWM1", "session VmHWM (peak RSS) after 1 reader (MiB)"),
    ("RssAnon1", "session RssAnon after 1 reader (MiB)"),
    ("RssFile1", "session RssFile after 1 reader (MiB)"),
    ("VmHWM4", "session VmHWM after 4 readers (MiB)"),
    ("RssAnon4", "session RssAnon after 4 readers (MiB)"),
    ("RssFile4", "session RssFile after 4 readers (MiB)"),
    ("rand_p50", "64 KiB random reads x50, cold: p50 (ms)"),
    ("rand_p95", "  p95 (ms)"),
    ("rand_max", "  max (ms)"),
]


def main(raw_path, seeks):
    vals, fails = {}, {}
    with open(raw_path) as f:
        for line in f:
            m, col, _run, v = line.rstrip("\n").split("\t")
            if v == "FAIL":
                fails[(m, col)] = fails.get((m, col), 0) + 1
            else:
                vals.setdefault((m, col), []).append(float(v))
    med = {k: statistics.median(v) for k, v in vals.items()}
    for p, _ in PIECES:
        for n in "14":
            for ref in ("get", "aria2c"):
                a, b = med.get(("mount" + n, p)), med.get((ref, p))
                if a is not None and b:
                    med[("mount%s/%s" % (n, ref), p)] = a / b

    def cell(m, col, fmt="%.1f"):
        v = med.get((m, col))
        s = "-" if v is None else fmt % v
        if (m, col) in fails:
            s += " (%d failed)" % fails[(m, col)]
        return s

    print("| measure | " + " | ".join(t for _, t in PIECES) + " |")
    print("|---|" + "---:|" * len(PIECES))
    for m, title in ROWS:
        fmt = "%.2f" if "/" in m else "%.1f"
        print("| %s | %s |" % (title, " | ".join(cell(m, p, fmt) for p, _ in PIECES)))
    print()
    print("A player on a 150 s H.264 MP4 (256 KiB pieces), cold mount: cost in seconds over the same command "
          "on the local file (warm in the page cache)")
    print()
    cols = [c for c in ("btfs", "debian") if any(k[1] == c for k in list(vals) + list(fails))]
    print("| step | local (s) | " + " | ".join("%s cost (s)" % c for c in cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    steps = [("probe", "ffprobe -show_format -show_streams")]
    steps += [("seek%d" % (i + 1), "then ffmpeg -ss %s -t 2 -c copy" % t) for i, t in enumerate(seeks.split())]
    total = {c: 0.0 for c in cols}
    for m, title in steps:
        row = [cell(m, "local", "%.3f")]
        for c in cols:
            a, b = med.get((m, c)), med.get((m, "local"))
            if a is None or b is None:
                row.append(cell(m, c))
                total[c] = None
            else:
                row.append("%.2f" % (a - b) + (" (%d failed)" % fails[(m, c)] if (m, c) in fails else ""))
                if total[c] is not None:
                    total[c] += a - b
        print("| %s | %s |" % (title, " | ".join(row)))
    print("| total | | %s |" % " | ".join("-" if total[c] is None else "%.2f" % total[c] for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
