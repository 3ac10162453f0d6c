#!/usr/bin/env bash
# Syscalls per message on the data path, ours vs stock qperf, for tcp_bw and
# tcp_lat on loopback (issue 3, "Measurement fidelity").  Each server and
# client runs under `strace -c -f`; the data-path calls (read, write,
# recvfrom, sendto) of each side are divided by that side's message count
# from the client's -vv output, and the ratio ours/stock is printed.
#
# usage: compat/qperf/strace_calls.sh [OUR_QPERF] [STOCK_QPERF] [SECONDS]
#   OUR_QPERF defaults to $CARGO_TARGET_DIR/debug/qperf (or target/debug/qperf),
#   STOCK_QPERF to /usr/bin/qperf, SECONDS (per test) to 1.
set -euo pipefail

OURS=${1:-${CARGO_TARGET_DIR:-target}/debug/qperf}
STOCK=${2:-/usr/bin/qperf}
SECS=${3:-1}
command -v strace >/dev/null || { echo "strace not installed" >&2; exit 2; }
[ -x "$OURS" ] || { echo "our qperf not found: $OURS (cargo build -p qperf-rs)" >&2; exit 2; }
[ -x "$STOCK" ] || { echo "stock qperf not found: $STOCK" >&2; exit 2; }

TMP=$(mktemp -d)
SRV_PID=
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# A port nothing listens on, below Linux's ephemeral range (32768+) so that
# no outgoing connection holds it either (random in 20000-32767).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12768))
        (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# div A B -> A/B with 3 decimals
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }'; }

# calls FILE -> "read write recvfrom sendto" call counts from a strace -c summary
calls() {
    awk '$NF=="read"||$NF=="write"||$NF=="recvfrom"||$NF=="sendto"{
            c[$NF]=$4 }
         END { printf "%d %d %d %d\n", c["read"], c["write"], c["recvfrom"], c["sendto"] }' "$1"
}

# num "18,099" -> 18099 (qperf prints counts with commas)
num() { echo "$1" | tr -d ','; }

# run IMPL BIN TEST -> prints "client_calls_per_msg server_calls_per_msg"
run() {
    impl=$1 bin=$2 test=$3
    # run executes in a $(...) subshell: stop its server on any exit there.
    trap '[ -n "${SRV_PID:-}" ] && kill "$SRV_PID" 2>/dev/null; true' EXIT
    # Start the server; retry on another port if it cannot bind.
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        strace -c -f -o "$TMP/$impl.$test.srv" "$bin" -lp "$port" >/dev/null 2>&1 &
        SRV_PID=$!
        i=0
        while ! (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
            kill -0 "$SRV_PID" 2>/dev/null || break
            i=$((i + 1))
            [ $i -gt 100 ] && break
            sleep 0.1
        done
        (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
        SRV_PID=
        [ "$attempt" = 5 ] && { echo "$impl server did not start" >&2; exit 1; }
    done
    strace -c -f -o "$TMP/$impl.$test.cli" "$bin" 127.0.0.1 -lp "$port" -t "$SECS" -vv "$test" \
        > "$TMP/$impl.$test.out"
    "$bin" 127.0.0.1 -lp "$port" quit >/dev/null 2>&1 || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
    out="$TMP/$impl.$test.out"
    if [ "$test" = tcp_bw ]; then
        cmsgs=$(num "$(awk '$1=="send_msgs"{print $3}' "$out")")
        smsgs=$(num "$(awk '$1=="recv_msgs"{print $3}' "$out")")
    else
        cmsgs=$(( $(num "$(awk '$1=="loc_send_msgs"{print $3}' "$out")") + $(num "$(awk '$1=="loc_recv_msgs"{print $3}' "$out")") ))
        smsgs=$(( $(num "$(awk '$1=="rem_send_msgs"{print $3}' "$out")") + $(num "$(awk '$1=="rem_recv_msgs"{print $3}' "$out")") ))
    fi
    set -- $(calls "$TMP/$impl.$test.cli"); ccalls=$(( $1 + $2 + $3 + $4 ))
    set -- $(calls "$TMP/$impl.$test.srv"); scalls=$(( $1 + $2 + $3 + $4 ))
    printf '%-6s %-8s client: %9d calls / %8d msgs = %s   server: %9d calls / %8d msgs = %s\n' \
        "$impl" "$test" "$ccalls" "$cmsgs" "$(div "$ccalls" "$cmsgs")" \
        "$scalls" "$smsgs" "$(div "$scalls" "$smsgs")" >&2
    echo "$(div "$ccalls" "$cmsgs") $(div "$scalls" "$smsgs")"
}

echo "data-path syscalls (read+write+recvfrom+sendto) per message, -t $SECS:"
for test in tcp_bw tcp_lat; do
    set -- $(run stock "$STOCK" "$test"); sc=$1 ss=$2
    set -- $(run ours "$OURS" "$test"); oc=$1 os=$2
    printf '%-8s ratio ours/stock  client %s  server %s\n' "$test" \
        "$(div "$oc" "$sc")" "$(div "$os" "$ss")"
done
