#!/usr/bin/env python3
"""Timing helpers for scripts/bench.sh: the few measures that need more
precision than `date` around a command, and the report.

  probe.py listed MNT NAME PID T0_NS TIMEOUT_S
      wait until NAME shows in MNT's listing; print ms since T0_NS (a
      `date +%s%N` taken just before the mount command started). Exit 1 if
      process PID dies first, 2 on timeout.
  probe.py ttfb FILE
      open FILE, read its first 4 KiB; print ms.
  probe.py randread FILE ORIGINAL COUNT SIZE SEED [TIMES_FILE]
      COUNT reads of SIZE bytes at random 4 KiB-aligned offsets (the same
      offsets for the same SEED), each timed from open to the last byte;
      each is compared with ORIGINAL afterwards. Print "p50 p95 max" in ms;
      write "offset ms" per read, in order, to TIMES_FILE.
  probe.py readall DIR [TIMES_FILE]
      read every regular file under DIR, in path order, 1 MiB at a time;
      print "seconds bytes files longest_read_ms"; write "path bytes ms
      longest_read_ms" per file to TIMES_FILE.
  probe.py stallwatch PID OUT
      watch the child of PID (dd under timeout) read: sample its read
      bytes (/proc/CHILD/io rchar) every 10 ms until it exits; write to OUT
      the longest time it made no progress, in ms (its slowest read()).
  probe.py report RAW.tsv META.tsv OUT.md
      medians of the runs, ratios, printed as a table and written as
      markdown.

A blocked FUSE read only gives up on a fatal signal, so SIGINT is made
fatal here (Python's KeyboardInterrupt would leave the read waiting).
"""
import os
import random
import signal
import statistics
import sys
import time

signal.signal(signal.SIGINT, signal.SIG_DFL)


def ms_since(t0):
    return (time.perf_counter() - t0) * 1000


def listed(mnt, name, pid, t0_ns, timeout):
    deadline = time.time() + float(timeout)
    pid = int(pid)
    while True:
        try:
            if name in os.listdir(mnt):
                print("%.1f" % ((time.time_ns() - int(t0_ns)) / 1e6))
                return 0
        except OSError:
            pass
        try:
            os.kill(pid, 0)
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    raise ProcessLookupError
        except (ProcessLookupError, FileNotFoundError):
            print("mount process exited", file=sys.stderr)
            return 1
        if time.time() > deadline:
            print("not listed after %ss" % timeout, file=sys.stderr)
            return 2
        time.sleep(0.005)


def ttfb(path):
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    if len(data) != 4096:
        print("short read: %d bytes" % len(data), file=sys.stderr)
        return 1
    print("%.1f" % ms_since(t0))
    return 0


def randread(path, original, count, size, seed, times_file=None):
    count, size = int(count), int(size)
    length = os.path.getsize(original)
    rng = random.Random(int(seed))
    offsets = [rng.randrange(0, max(1, (length - size) // 4096)) * 4096 for _ in range(count)]
    times, bad = [], []
    for off in offsets:
        t0 = time.perf_counter()
        fd = os.open(path, os.O_RDONLY)
        try:
            data = b""
            while len(data) < size:
                chunk = os.pread(fd, size - len(data), off + len(data))
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        times.append(ms_since(t0))
        if times_file:
            with open(times_file, "a") as tf:
                tf.write("%d %.1f\n" % (off, times[-1]))
        with open(original, "rb") as f:
            f.seek(off)
            if f.read(size) != data:
                bad.append(off)
    if bad:
        print("%d of %d reads differ from the original (first at offset %d)" % (len(bad), count, bad[0]),
              file=sys.stderr)
        return 1
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print("%.1f %.1f %.1f" % (statistics.median(times), p95, times[-1]))
    return 0


def readall(root, times_file=None):
    paths = []
    for d, _, files in os.walk(root):
        paths += [os.path.join(d, f) for f in files]
    paths.sort()
    total, longest, lines = 0, 0.0, []
    t0 = time.perf_counter()
    for p in paths:
        n, worst = 0, 0.0
        tf = time.perf_counter()
        fd = os.open(p, os.O_RDONLY)
        try:
            while True:
                tr = time.perf_counter()
                b = os.read(fd, 1 << 20)
                worst = max(worst, ms_since(tr))
                if not b:
                    break
                n += len(b)
        finally:
            os.close(fd)
        lines.append("%s %d %.1f %.1f\n" % (os.path.relpath(p, root), n, ms_since(tf), worst))
        total += n
        longest = max(longest, worst)
    print("%.3f %d %d %.1f" % (time.perf_counter() - t0, total, len(paths), longest))
    if times_file:
        with open(times_file, "w") as f:
            f.writelines(lines)
    return 0


def stallwatch(pid, out):
    child = None
    for _ in range(500):
        try:
            with open("/proc/%s/task/%s/children" % (pid, pid)) as f:
                kids = f.read().split()
            if kids:
                child = kids[0]
                break
        except OSError:
            return 0
        time.sleep(0.002)
    if child is None:
        return 0
    last, since, longest = None, time.perf_counter(), 0.0
    while True:
        try:
            with open("/proc/%s/io" % child) as f:
                rchar = f.readline().split()[1]
        except (OSError, IndexError):
            break
        now = time.perf_counter()
        if rchar != last:
            last, since = rchar, now
        longest = max(longest, (now - since) * 1000)
        time.sleep(0.01)
    with open(out, "w") as f:
        f.write("%.0f\n" % longest)
    return 0


# ---- report ----------------------------------------------------------------

def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "MiB" or v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def cell(values, unit):
    """Median of the numeric values, with failures noted."""
    if not values:
        return None, "-"
    nums = [n for n in (num(v) for v in values) if n is not None]
    fails = [v for v in values if num(v) is None]
    if not nums:
        # Every run failed: the first reason (they are usually alike).
        return None, fails[0] if len(set(fails)) == 1 else "%s (+%d other failures)" % (fails[0], len(fails) - 1)
    m = statistics.median(nums)
    s = fmt(m, unit)
    if fails:
        s += " (%d/%d runs failed)" % (len(fails), len(values))
    return m, s


def ratio(b, d, better):
    """btfs/debian, with words saying which way is better."""
    if b is None or d is None or b == 0 or d == 0:
        return "-"
    r = b / d
    rs = "%.2f" % r if r >= 0.1 else "%.2g" % r
    if 0.95 <= r <= 1.05:
        return "%s (about the same)" % rs
    if better == "higher":  # throughput
        good = r > 1
        x = r if good else 1 / r
        return "%s (btfs %.1fx %s)" % (rs, x, "faster" if good else "slower")
    good = r < 1
    x = 1 / r if good else r
    if better == "lower-mem":
        return "%s (btfs %.1fx %s memory)" % (rs, x, "less" if good else "more")
    if better == "lower-cpu":
        return "%s (btfs %.1fx %s CPU)" % (rs, x, "less" if good else "more")
    return "%s (btfs %.1fx %s)" % (rs, x, "faster" if good else "slower")


def text_cell(values):
    if not values:
        return "-"
    bad = [v for v in values if v != "ok"]
    if not bad:
        return "ok (%d/%d runs)" % (len(values), len(values))
    return "; ".join(sorted(set(bad))) + " (%d/%d runs)" % (len(bad), len(values))


def report(raw_path, meta_path, out):
    meta = []  # key, label, unit, better
    with open(meta_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                meta.append(line.split("\t"))
    raw = {}
    with open(raw_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4:
                continue
            client, key, _run, value = parts[:4]
            raw.setdefault((client, key), []).append(value)
    header = ["measure", "btfs", "debian-btfs", "ratio btfs/debian", "aria2c"]
    rows = []
    for key, label, unit, better in meta:
        if better == "text":
            rows.append([label, text_cell(raw.get(("btfs", key), [])), text_cell(raw.get(("debian", key), [])), "-", "-"])
            continue
        b, bs = cell(raw.get(("btfs", key), []), unit)
        d, ds = cell(raw.get(("debian", key), []), unit)
        _, a = cell(raw.get(("aria2c", key), []), unit)
        rows.append([label, bs, ds, ratio(b, d, better), a])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    with open(out, "a") as f:
        f.write("| " + " | ".join(header) + " |\n")
        f.write("| --- " + "| ---: " * (len(header) - 1) + "|\n")
        for r in rows:
            f.write("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |\n")
    return 0


def main(argv):
    cmds = {"stallwatch": stallwatch, "listed": listed, "ttfb": ttfb, "randread": randread, "readall": readall, "report": report}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[argv[1]](*argv[2:])
    except OSError as e:
        print("%s: %s" % (argv[1], e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
