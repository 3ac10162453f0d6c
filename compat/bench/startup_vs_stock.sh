#!/usr/bin/env bash
# Whole-process cost of starting our wrk and qperf beside the stock ones.
#
# Usage: compat/bench/startup_vs_stock.sh
# Env:   RUNS (default 50)   counted runs of each command (after 3 warm-ups)
#        OURS_WRK, OURS_QPERF, STOCK_WRK, STOCK_QPERF   binaries (default:
#        release builds of wrk-rs / qperf-rs, /usr/bin/wrk, /usr/bin/qperf)
#
# Times `wrk -v` and `qperf --version` (print the version and exit, so this
# is process start-up: dynamic loading, runtime set-up, argument parsing)
# ours and stock in turn (A B A B ...), each run reaped with wait4 so its
# CPU time (user+sys: at a millisecond the kernel's split between the two is
# only tick-deep) comes from the kernel's own accounting. Peak RSS comes
# from separate runs under /usr/bin/time -f %M (a wait4 straight from
# python would count python's own pages: the high-water mark survives exec;
# time's own floor is about 1 MB). Prints medians and ours/stock. No
# network at all.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
bench_init

runs=${RUNS:-50}
ours_wrk=${OURS_WRK:-$(build_ours wrk-rs wrk)}
ours_qperf=${OURS_QPERF:-$(build_ours qperf-rs qperf)}
stock_wrk=${STOCK_WRK:-/usr/bin/wrk}
stock_qperf=${STOCK_QPERF:-/usr/bin/qperf}

echo "start-up, median of $runs runs each, A B A B (ours/stock: <1 is better)"
machine_note
python3 - "$runs" "$ours_wrk" "$stock_wrk" "$ours_qperf" "$stock_qperf" "$BENCH_TMP/rss" <<'PY'
import os, statistics, subprocess, sys, time

runs = int(sys.argv[1])
ours_wrk, stock_wrk, ours_qperf, stock_qperf, rss_file = sys.argv[2:7]

def rss(argv):
    """Peak RSS KiB of one run of argv, measured by /usr/bin/time."""
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    with open(rss_file) as f:
        return float(f.read().split()[-1])

def once(argv):
    """Wall ms, CPU (user+sys) ms, peak RSS KiB of one run of argv."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1e3
    p.returncode = 0  # reaped above; keep Popen from waiting again
    return wall, (ru.ru_utime + ru.ru_stime) * 1e3, rss(argv)

def pair(name, ours, stock):
    for _ in range(3):
        once(ours); once(stock)
    o, s = [], []
    for i in range(runs):
        if i % 2:
            s.append(once(stock)); o.append(once(ours))
        else:
            o.append(once(ours)); s.append(once(stock))
    for k, label in enumerate(["wall_ms", "cpu_ms", "maxrss_KiB"]):
        sm = statistics.median(r[k] for r in s)
        om = statistics.median(r[k] for r in o)
        ratio = f"{om / sm:.2f}" if sm else "-"
        print(f"{name:<18} {label:<11} {sm:>10.4g} {om:>10.4g} {ratio:>11}")

print(f"{'command':<18} {'metric':<11} {'stock':>10} {'ours':>10} {'ours/stock':>11}")
pair("wrk -v", [ours_wrk, "-v"], [stock_wrk, "-v"])
pair("qperf --version", [ours_qperf, "--version"], [stock_qperf, "--version"])
PY
