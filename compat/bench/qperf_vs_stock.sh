#!/usr/bin/env bash
# Our qperf beside stock qperf: same machine, same run, all four pairings.
#
# Usage: compat/bench/qperf_vs_stock.sh
# Env:   ROUNDS (default 3)   rounds; each round runs every pairing once,
#                             starting with a different pairing each round
#        TIME (default 2)     qperf -t (seconds per test and message size)
#        SIZES (default 1:256K:*64)   the msg_size loop of the TCP tests
#        UDP_SIZE (default 1K)        the one message size of the UDP tests
#        OURS, STOCK          binaries (default: release build of qperf-rs,
#                             /usr/bin/qperf)
#        KEEP=1               keep the raw qperf outputs
#
# Builds qperf-rs in release, starts one stock and one of our servers
# (`qperf -lp PORT`, free 127.0.0.1 ports, killed by PID on exit) and runs
#   CLIENT 127.0.0.1 -lp PORT -t TIME -oo msg_size:SIZES -vu tcp_bw tcp_lat
#   CLIENT 127.0.0.1 -lp PORT -t TIME -m UDP_SIZE -vu udp_bw udp_lat
# for the pairings stock->stock, ours->ours, ours->stock (our client, stock
# server) and stock->ours. Prints the median of each figure per pairing and
# its ratio to stock->stock.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
bench_init

rounds=${ROUNDS:-3}
time_s=${TIME:-2}
sizes=${SIZES:-1:256K:*64}
udp_size=${UDP_SIZE:-1K}
stock=${STOCK:-/usr/bin/qperf}
ours=${OURS:-$(build_ours qperf-rs qperf)}

# start_server NAME BIN: sets port_<NAME>.
start_server() {
    local name=$1 bin=$2 attempt port pid
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        "$bin" -lp "$port" >"$BENCH_TMP/server.$name.log" 2>&1 &
        pid=$!
        track "$pid"
        if wait_listen "$port" "$pid" 20; then
            printf -v "port_$name" '%s' "$port"
            echo "# $name server: pid $pid port $port" >&2
            return 0
        fi
        kill "$pid" 2>/dev/null || true
    done
    echo "$name qperf server did not start:" >&2
    cat "$BENCH_TMP/server.$name.log" >&2
    return 1
}
start_server stock "$stock"
start_server ours "$ours"

# parse FILE: one "test size metric value" line per figure, bandwidth in
# MB/s (10^6, as qperf prints), latency in us.
parse() {
    awk '
        function flush(  i) {
            for (i = 1; i <= n; i++) print test, (size == "" ? "-" : size), m[i], v[i]
            n = 0; size = ""
        }
        function mbps(x, u) {
            if (u == "bytes/sec") return x / 1e6
            if (u == "KB/sec") return x / 1e3
            if (u == "MB/sec") return x
            if (u == "GB/sec") return x * 1e3
            if (u == "TB/sec") return x * 1e6
            return "-"
        }
        function usec(x, u) {
            if (u == "ns") return x / 1e3
            if (u == "us") return x
            if (u == "ms") return x * 1e3
            if (u == "sec") return x * 1e6
            return "-"
        }
        /^[a-z_]+:$/ { flush(); test = substr($1, 1, length($1) - 1); next }
        $1 ~ /^(bw|send_bw|recv_bw)$/ && $2 == "=" { m[++n] = $1; v[n] = mbps($3, $4); next }
        $1 == "latency" && $2 == "=" { m[++n] = $1; v[n] = usec($3, $4); next }
        $1 == "msg_size" && $2 == "=" { size = $3 ($4 == "bytes" ? "" : substr($4, 1, 1)); next }
        END { flush() }
    ' "$1"
}

pairings=(stock-stock ours-ours ours-stock stock-ours)

# run_pairing PAIRING ROUND: both qperf runs, figures appended to
# $BENCH_TMP/<pairing>.tsv.
run_pairing() {
    local pairing=$1 round=$2 client server bin port out rc
    client=${pairing%-*}
    server=${pairing#*-}
    if [[ "$client" == ours ]]; then bin=$ours; else bin=$stock; fi
    port_var=port_$server
    port=${!port_var}
    for kind in tcp udp; do
        out=$BENCH_TMP/$pairing.$kind.$round.txt
        rc=0
        if [[ "$kind" == tcp ]]; then
            timeout -k 5 $((time_s * 8 + 60)) "$bin" 127.0.0.1 -lp "$port" -t "$time_s" \
                -oo "msg_size:$sizes" -vu tcp_bw tcp_lat >"$out" 2>&1 || rc=$?
        else
            timeout -k 5 $((time_s * 2 + 60)) "$bin" 127.0.0.1 -lp "$port" -t "$time_s" \
                -m "$udp_size" -vu udp_bw udp_lat >"$out" 2>&1 || rc=$?
        fi
        if [[ $rc -ne 0 ]]; then
            echo "  $pairing $kind round $round: exit $rc: $(head -c 300 "$out")" >&2
        fi
        parse "$out" >>"$BENCH_TMP/$pairing.tsv"
    done
    echo "  round $round $pairing: $(cat "$BENCH_TMP/$pairing".{tcp,udp}."$round".txt |
        parse /dev/stdin | awk '{ printf "%s/%s/%s %.4g  ", $1, $2, $3, $4 }')" >&2
}

echo "# qperf: ours ($ours) vs stock ($stock)" >&2
echo "# $(machine_note)" >&2
for ((r = 1; r <= rounds; r++)); do
    for ((k = 0; k < 4; k++)); do
        run_pairing "${pairings[(k + r - 1) % 4]}" "$r"
    done
done

# ---- table -------------------------------------------------------------
# med PAIRING TEST SIZE METRIC [FN]: FN (default median) of that figure
med() {
    awk -v t="$2" -v s="$3" -v m="$4" '$1 == t && $2 == s && $3 == m { print $4 }' \
        "$BENCH_TMP/$1.tsv" 2>/dev/null | "${5:-median}"
}
echo
echo "qperf, median of $rounds rounds (client->server; ratio = pairing / stock->stock:"
echo ">1 is better for bandwidth (MB/s), <1 for latency (us); spread = max/min of"
echo "stock-stock over the rounds, the noise to hold the ratios against)"
echo "$(machine_note)"
printf '%-8s %-5s %-8s %10s %16s %16s %16s %7s\n' test size metric stock-stock \
    "ours-ours" "ours-stock" "stock-ours" spread
keys=$(cat "$BENCH_TMP"/stock-stock.tsv 2>/dev/null | awk '!seen[$1 FS $2 FS $3]++ { print $1, $2, $3 }')
while read -r t s m; do
    [[ -z "$t" ]] && continue
    base=$(med stock-stock "$t" "$s" "$m")
    line=$(printf '%-8s %-5s %-8s %10s' "$t" "$s" "$m" "$(fmt "$base")")
    for p in ours-ours ours-stock stock-ours; do
        v=$(med "$p" "$t" "$s" "$m")
        line+=$(printf ' %16s' "$(fmt "$v") ($(ratio "$v" "$base"))")
    done
    line+=$(printf ' %7s' "$(med stock-stock "$t" "$s" "$m" spread)")
    echo "$line"
done <<<"$keys"
