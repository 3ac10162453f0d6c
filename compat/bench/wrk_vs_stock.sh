#!/usr/bin/env bash
# Our wrk beside stock wrk: same nginx, same machine, same run, alternating.
#
# Usage: compat/bench/wrk_vs_stock.sh
# Env:   ROUNDS (default 3)      rounds per case, ours and stock alternating
#        DURATION (default 5s)   -d of the normal cases
#        SCALE (default 1)       0 skips the -t64 -c<max> row
#        SCALE_DURATION (10s), SCALE_ROUNDS (1), SCALE_CONNS (largest the
#        open-file limit allows, at most 20000)
#        OURS, STOCK             binaries (default: release build of wrk-rs,
#                                /usr/bin/wrk); NGINX (default: nginx in PATH)
#        KEEP=1                  keep the raw wrk outputs
#
# Builds wrk-rs in release, starts ONE private nginx (one process, one
# worker, temp prefix, free 127.0.0.1 port, killed by PID on exit) serving a
# 615-byte page and a 100 KiB file, and runs each case ROUNDS times with
# both tools in turn (which goes first alternates by round). Prints the
# medians of Requests/sec, Transfer/sec, average and p99 latency, the wall
# time of the run, the client's CPU time (user+sys) and peak RSS (from
# /usr/bin/time), and ours/stock. Both tools share the 2 CPUs with nginx,
# so the ratios say more than the absolute figures.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
bench_init

rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
scale=${SCALE:-1}
scale_duration=${SCALE_DURATION:-10s}
scale_rounds=${SCALE_ROUNDS:-1}
stock=${STOCK:-/usr/bin/wrk}
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
ours=${OURS:-$(build_ours wrk-rs wrk)}

# Both tools may open up to the hard limit (stock wrk never raises it).
hard=$(ulimit -Hn)
[[ "$hard" == unlimited ]] && hard=1048576
ulimit -n "$hard"

start_nginx
small="http://127.0.0.1:$nginx_port/index.html"
big="http://127.0.0.1:$nginx_port/100k.bin"

# ---- one run -----------------------------------------------------------
# parse FILE WALL TIMEFILE: "rps MiB/s avg_ms p99_ms errors wall_s cpu_s
# rss_MiB" ("-" if absent); TIMEFILE holds /usr/bin/time's "%U %S %M".
parse() {
    local cpu=- rss=-
    if [[ -s "$3" ]]; then
        read -r cpu rss < <(awk 'NF == 3 { printf "%.2f %.1f\n", $1 + $2, $3 / 1024 }' "$3" | tail -n1)
    fi
    awk -v wall="$2" -v cpu="${cpu:--}" -v rss="${rss:--}" '
        function ms(s,  n, u) {
            n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n
            if (u == "s") return n * 1000
            if (u == "m") return n * 60000
            if (u == "h") return n * 3600000
            return "-"
        }
        function mib(s,  n, u) {
            n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
            if (u == "B") return n / 1048576
            if (u == "KB") return n / 1024
            if (u == "MB") return n
            if (u == "GB") return n * 1024
            if (u == "TB") return n * 1048576
            return "-"
        }
        BEGIN { rps = tr = avg = p99 = "-"; err = 0 }
        $1 == "Latency" && NF >= 5 && avg == "-" { avg = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        $1 == "Transfer/sec:" { tr = mib($2) }
        /^  Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        /^  Non-2xx or 3xx responses:/ { err += $NF }
        END {
            if (rps + 0 == 0) avg = p99 = "-"  # no request finished: no latency
            print rps, tr, avg, p99, err, wall, cpu, rss
        }
    ' "$1"
}

# run_one TOOL CASE ROUND ARGS...: one run, its figures appended to
# $BENCH_TMP/<case>.<tool>.tsv.
run_one() {
    local tool=$1 case=$2 round=$3 bin limit t0 t1 out rc=0
    shift 3
    if [[ "$tool" == ours ]]; then bin=$ours; else bin=$stock; fi
    out=$BENCH_TMP/$case.$tool.$round.txt
    limit=$(( $(secs "$duration") + $(secs "$scale_duration") + 60 ))
    t0=$(date +%s%N)
    /usr/bin/time -o "$out.time" -f '%U %S %M' \
        timeout -k 5 "$limit" "$bin" "$@" >"$out" 2>&1 || rc=$?
    t1=$(date +%s%N)
    local wall
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    if [[ $rc -ne 0 ]]; then
        echo "  $tool $case round $round: exit $rc (figures may be missing)" >&2
    fi
    parse "$out" "$wall" "$out.time" >>"$BENCH_TMP/$case.$tool.tsv"
    printf '  %-5s %-12s round %d: %s\n' "$tool" "$case" "$round" \
        "$(awk '{ printf "%s req/s, %s MiB/s, avg %s ms, p99 %s ms, errors %s, %ss wall, %ss cpu, %s MiB rss", $1, $2, $3, $4, $5, $6, $7, $8 }' \
            <(tail -n1 "$BENCH_TMP/$case.$tool.tsv"))" >&2
}

secs() { # "5s" / "2m" / "1h" / "10" -> seconds
    local v=$1
    case $v in
        *h) echo $(( ${v%h} * 3600 )) ;;
        *m) echo $(( ${v%m} * 60 )) ;;
        *s) echo "${v%s}" ;;
        *) echo "$v" ;;
    esac
}

# run_case CASE ROUNDS ARGS...: both tools, alternating, ROUNDS times.
CASES=()
declare -A CASE_ARGS
run_case() {
    local case=$1 n=$2 r
    shift 2
    CASES+=("$case")
    CASE_ARGS[$case]="$*"
    echo "== $case: wrk $*" >&2
    for ((r = 1; r <= n; r++)); do
        if ((r % 2)); then
            run_one ours "$case" "$r" "$@"
            run_one stock "$case" "$r" "$@"
        else
            run_one stock "$case" "$r" "$@"
            run_one ours "$case" "$r" "$@"
        fi
    done
}

echo "# wrk: ours ($ours) vs stock ($stock), nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///') pid $nginx_pid" >&2
echo "# $(machine_note)" >&2

run_case small-c50 "$rounds" -t2 -c50 -d"$duration" --latency "$small"
run_case small-c1000 "$rounds" -t2 -c1000 -d"$duration" --latency "$small"
run_case 100k-c50 "$rounds" -t2 -c50 -d"$duration" --latency "$big"
if [[ "$scale" != 0 ]]; then
    # 64 threads: one epoll fd each, plus stdio and a little slack.
    conns=${SCALE_CONNS:-$(( (hard - 6 - 2 * 64) / 64 * 64 ))}
    ((conns > 20000)) && conns=20000
    run_case "scale-c$conns" "$scale_rounds" -t64 -c"$conns" -d"$scale_duration" "$small"
fi

# ---- table -------------------------------------------------------------
col() { # FILE N [FN]: FN (default median) of column N
    if [[ -f "$1" ]]; then awk -v n="$2" '{ print $n }' "$1" | "${3:-median}"; else echo -; fi
}
echo
echo "wrk, median of each case's rounds (ours/stock: >1 is better for req/s and MiB/s,"
echo "<1 for latency, wall, cpu and rss; spread = max/min over the rounds, per tool)"
echo "$(machine_note)"
printf '%-16s %-10s %11s %11s %11s %14s\n' case metric stock ours ours/stock "spread s/o"
names=(req/s MiB/s avg_ms p99_ms errors wall_s cpu_s rss_MiB)
for case in "${CASES[@]}"; do
    for i in 1 2 3 4 5 6 7 8; do
        s=$(col "$BENCH_TMP/$case.stock.tsv" "$i")
        o=$(col "$BENCH_TMP/$case.ours.tsv" "$i")
        [[ "${names[i - 1]}" == p99_ms && "$s" == - && "$o" == - ]] && continue
        printf '%-16s %-10s %11s %11s %11s %14s\n' "$case" "${names[i - 1]}" \
            "$(fmt "$s")" "$(fmt "$o")" "$(ratio "$o" "$s")" \
            "$(col "$BENCH_TMP/$case.stock.tsv" "$i" spread)/$(col "$BENCH_TMP/$case.ours.tsv" "$i" spread)"
    done
done
echo
for case in "${CASES[@]}"; do
    echo "  $case: wrk ${CASE_ARGS[$case]}"
done
