#!/usr/bin/env bash
# Client CPU per request and syscalls per request: stock wrk and ours (each
# engine), pinned, against one private nginx (issue 14).
#
# Usage: compat/bench/cpu_per_request.sh
# Env:   VARIANTS (default "stock ours-epoll ours-uring")  what to compare:
#                  stock = $STOCK; ours = $OURS as it chooses its engine;
#                  ours-X = $OURS with WRK_ENGINE=X; NAME=PATH = the wrk
#                  binary at PATH, NAME=PATH:X the same with WRK_ENGINE=X
#                  (before/after builds side by side, e.g.
#                  "stock old=/tmp/wrk-old:uring new=/tmp/wrk-new:uring")
#        ROUNDS (5)       interleaved rounds per case (the order rotates)
#        DURATION (3s)    wrk -d of every run
#        THREADS (1)      wrk -t
#        CONNS ("50")     the cases: one per -c, e.g. CONNS="1 50 1000 10000"
#        STRACE_DURATION (2s)  -d of the one strace run per variant and case
#                  (STRACE=0 skips them)
#        OURS, STOCK, NGINX    binaries (default: release build of wrk-rs,
#                  /usr/bin/wrk, nginx in PATH); KEEP=1 keeps raw outputs
#
# nginx (one process, one worker) is pinned to CPU 0, the client to CPU 1
# (taskset), so the client's CPU time is its own and not nginx's. Each run
# is timed by /usr/bin/time: the client's user+sys CPU (getrusage of the
# reaped child) and peak RSS; CPU per request = that CPU / requests wrk
# reports. Syscalls per request come from a separate run under `strace -c
# -f` (strace slows the client, so its CPU is not used). Every run is bounded
# by `timeout`; nginx is killed by PID on exit. Prints the medians per
# variant and each variant's ratio to the first one (normally stock).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
bench_init

read -r -a variants <<<"${VARIANTS:-stock ours-epoll ours-uring}"
read -r -a conns_list <<<"${CONNS:-50}"
rounds=${ROUNDS:-5}
duration=${DURATION:-3s}
threads=${THREADS:-1}
strace_on=${STRACE:-1}
strace_duration=${STRACE_DURATION:-2s}
stock=${STOCK:-/usr/bin/wrk}
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
# Our build only where a variant uses $OURS.
ours=${OURS:-}
if [[ -z "$ours" && " ${variants[*]} " =~ \ ours(-[a-z]+)?\  ]]; then
    ours=$(build_ours wrk-rs wrk)
fi

if (($(nproc) < 2)); then
    echo "needs 2 CPUs (nginx on 0, the client on 1); this host has $(nproc)" >&2
    exit 2
fi

# Both tools may open up to the hard limit (stock wrk never raises it).
hard=$(ulimit -Hn)
[[ "$hard" == unlimited ]] && hard=1048576
ulimit -n "$hard"

start_nginx
taskset -pc 0 "$nginx_pid" >/dev/null
url="http://127.0.0.1:$nginx_port/index.html"

secs() { # "5s" / "2m" / "10" -> seconds
    local v=$1
    case $v in
        *m) echo $((${v%m} * 60)) ;;
        *s) echo "${v%s}" ;;
        *) echo "$v" ;;
    esac
}
limit=$(($(secs "$duration") + 60))

# cmd VARIANT: the command prefix that runs this variant's client.
cmd() {
    case $1 in
        stock) echo "env $stock" ;;
        ours) echo "env $ours" ;;
        ours-*) echo "env WRK_ENGINE=${1#ours-} $ours" ;;
        *=*:*) local b=${1#*=}; echo "env WRK_ENGINE=${b##*:} ${b%:*}" ;;
        *=*) echo "env ${1#*=}" ;;
        *) echo "unknown variant $1" >&2; exit 2 ;;
    esac
}

# name VARIANT: its label in file names and the table (NAME of NAME=PATH).
name() { echo "${1%%=*}"; }

# parse OUT TIMEFILE: "rps avg_ms cpu_us_per_req cpu_s rss_MiB requests errors"
parse() {
    local cpu=- rss=-
    if [[ -s "$2" ]]; then
        read -r cpu rss < <(awk 'NF == 3 { printf "%.3f %.1f\n", $1 + $2, $3 / 1024 }' "$2" | tail -n1)
    fi
    awk -v cpu="${cpu:--}" -v rss="${rss:--}" '
        function ms(s,  n, u) {
            n = s + 0; u = s; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n
            if (u == "s") return n * 1000
            return "-"
        }
        BEGIN { rps = avg = reqs = "-"; err = 0 }
        $1 == "Latency" && NF >= 5 && avg == "-" { avg = ms($2) }
        / requests in / { reqs = $1 }
        $1 == "Requests/sec:" { rps = $2 }
        /^  Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        END {
            per = (reqs + 0 > 0 && cpu != "-") ? sprintf("%.3f", cpu * 1e6 / reqs) : "-"
            print rps, avg, per, cpu, rss, reqs, err
        }
    ' "$1"
}

# run_one VARIANT CASE ROUND: one pinned, timed run.
run_one() {
    local v=$1 case=$2 round=$3 c=${2#c} out rc=0 n
    n=$(name "$1")
    out=$BENCH_TMP/$case.$n.$round.txt
    # shellcheck disable=SC2046
    /usr/bin/time -o "$out.time" -f '%U %S %M' \
        taskset -c 1 timeout -k 5 "$limit" $(cmd "$v") \
        -t"$threads" -c"$c" -d"$duration" "$url" >"$out" 2>&1 || rc=$?
    ((rc == 0)) || echo "  $n $case round $round: exit $rc (figures may be missing)" >&2
    parse "$out" "$out.time" >>"$BENCH_TMP/$case.$n.tsv"
    printf '  %-11s %-7s round %d: %s\n' "$n" "$case" "$round" \
        "$(awk '{ printf "%s req/s, avg %s ms, %s us cpu/req (%s s cpu), %s MiB rss, errors %s", $1, $2, $3, $4, $5, $7 }' \
            <(tail -n1 "$BENCH_TMP/$case.$n.tsv"))" >&2
}

# strace_one VARIANT CASE: syscalls per request of one run under strace.
strace_one() {
    local v=$1 case=$2 c=${2#c} out calls reqs rc=0 n
    n=$(name "$1")
    out=$BENCH_TMP/$case.$n.strace
    # shellcheck disable=SC2046
    taskset -c 1 timeout -k 5 "$limit" strace -c -f -o "$out" $(cmd "$v") \
        -t"$threads" -c"$c" -d"$strace_duration" "$url" >"$out.txt" 2>&1 || rc=$?
    ((rc == 0)) || echo "  $n $case strace: exit $rc" >&2
    calls=$(awk '$NF == "total" { print $4 }' "$out" 2>/dev/null || true)
    reqs=$(awk '/ requests in / { print $1 }' "$out.txt")
    awk -v c="${calls:-0}" -v r="${reqs:-0}" 'BEGIN { if (r > 0) printf "%.2f\n", c / r; else print "-" }' \
        >"$BENCH_TMP/$case.$n.sys"
    top=$(awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ { print $4, $NF }' "$out" |
        sort -n -r | head -4 | awk '{ printf " %s %s", $2, $1 }')
    echo "  $n $case strace: ${calls:-?} syscalls, ${reqs:-?} requests:$top" >&2
}

echo "# cpu per request: ${variants[*]}; ours ${ours:-(not used)}, stock $stock" >&2
echo "# nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///') pid $nginx_pid on CPU 0, clients on CPU 1" >&2
echo "# $(machine_note)" >&2
load_start=$(machine_note)

nv=${#variants[@]}
for c in "${conns_list[@]}"; do
    case=c$c
    echo "== $case: wrk -t$threads -c$c -d$duration $url" >&2
    for ((r = 1; r <= rounds; r++)); do
        # Rotate who goes first, so drift over a round hits each alike.
        for ((k = 0; k < nv; k++)); do
            run_one "${variants[(k + r - 1) % nv]}" "$case" "$r"
        done
    done
    if [[ "$strace_on" != 0 ]]; then
        for v in "${variants[@]}"; do strace_one "$v" "$case"; done
    fi
done

# ---- table -------------------------------------------------------------
col() { # FILE N [FN]: FN (default median) of column N
    if [[ -f "$1" ]]; then awk -v n="$2" '{ print $n }' "$1" | "${3:-median}"; else echo -; fi
}
base=$(name "${variants[0]}")
echo
echo "wrk -t$threads -d$duration, nginx on CPU 0, client on CPU 1; median of $rounds interleaved rounds"
echo "(x = ratio to $base; cpu_us/req = client user+sys per completed request; syscalls/req"
echo "from one strace -c -f run of -d$strace_duration; spread = max/min of cpu_us/req over the rounds)"
echo "start: $load_start"
echo "end:   $(machine_note)"
printf '%-7s %-11s %11s %9s %12s %6s %8s %8s %7s %6s\n' \
    case variant req/s avg_ms cpu_us/req x rss_MiB sys/req x spread
for c in "${conns_list[@]}"; do
    case=c$c
    b_cpu=$(col "$BENCH_TMP/$case.$base.tsv" 3)
    b_sys=$(cat "$BENCH_TMP/$case.$base.sys" 2>/dev/null || echo -)
    for v in "${variants[@]}"; do
        v=$(name "$v")
        f=$BENCH_TMP/$case.$v.tsv
        cpu=$(col "$f" 3)
        sys=$(cat "$BENCH_TMP/$case.$v.sys" 2>/dev/null || echo -)
        printf '%-7s %-11s %11s %9s %12s %6s %8s %8s %7s %6s\n' "$case" "$v" \
            "$(fmt "$(col "$f" 1)")" "$(fmt "$(col "$f" 2)")" "$(fmt "$cpu")" \
            "$(ratio "$cpu" "$b_cpu")" "$(fmt "$(col "$f" 5)")" "$sys" \
            "$(ratio "$sys" "$b_sys")" "$(col "$f" 3 spread)"
    done
done
