#!/usr/bin/env bash
# Every RDMA test of qperf 0.4.11, ours <-> stock, over a soft-RoCE (rdma_rxe)
# device (issue 11).  Uses an RDMA device that already exists, else (as root,
# with the rdma_rxe module and iproute2's `rdma`) creates one on a veth pair
# it removes again on exit.  For each test and option set it runs the four
# directions stock->stock, ours->stock, stock->ours, ours->ours and compares
# the outcome with stock->stock: the same error text, or success with the same
# result lines (their names; the figures differ from run to run).
#
# Without CM (the default) qperf 0.4.11 routes by LID only and exchanges no
# GID, so on RoCE the non-CM tests fail in stock too; RC tests are therefore
# also run with -cm1, the mode that works on RoCE.
#
# usage: compat/qperf/rdma_soft_roce.sh [OUR_QPERF] [STOCK_QPERF] [SECONDS]
#   OUR_QPERF must be built with the feature: cargo build -p qperf-rs --features rdma
#   (default $CARGO_TARGET_DIR/debug/qperf or target/debug/qperf),
#   STOCK_QPERF defaults to /usr/bin/qperf, SECONDS (per test) to 1.
# QPERF_RDMA_DEV=NAME skips the device search/creation and uses NAME (a dry
# run of the harness on a host without devices: every case then compares
# the no-device errors).
# Exits 0 after saying so when no RDMA device exists or can be created;
# 1 when an outcome differs from stock's; 2 on a usage problem.
set -euo pipefail

OURS=${1:-${CARGO_TARGET_DIR:-target}/debug/qperf}
STOCK=${2:-/usr/bin/qperf}
SECS=${3:-1}
[ -x "$OURS" ] || { echo "our qperf not found: $OURS (cargo build -p qperf-rs --features rdma)" >&2; exit 2; }
[ -x "$STOCK" ] || { echo "stock qperf not found: $STOCK" >&2; exit 2; }
if ! ldd "$OURS" 2>/dev/null | grep libibverbs >/dev/null; then
    echo "$OURS is not linked with libibverbs: build it with --features rdma" >&2
    exit 2
fi

TESTS=(rc_bi_bw rc_bw rc_compare_swap_mr rc_fetch_add_mr rc_lat rc_rdma_read_bw
    rc_rdma_read_lat rc_rdma_write_bw rc_rdma_write_lat rc_rdma_write_poll_lat
    uc_bi_bw uc_bw uc_lat uc_rdma_write_bw uc_rdma_write_lat uc_rdma_write_poll_lat
    ud_bi_bw ud_bw ud_lat ver_rc_compare_swap ver_rc_fetch_add)

VETH=qprxe0
PEER=qprxe1
RXE=qprxe_dev
ADDR=10.251.77.1
MADE_VETH=0
MADE_RXE=0
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ "$MADE_RXE" = 1 ] && rdma link delete "$RXE" 2>/dev/null || true
    [ "$MADE_VETH" = 1 ] && ip link delete "$VETH" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

no_device() {
    echo "rdma_soft_roce: no RDMA device here and none can be created ($1);"
    echo "rdma_soft_roce: nothing was run. Needs root, the rdma_rxe kernel module and iproute2's rdma."
    exit 0
}

first_device() {
    local d
    for d in /sys/class/infiniband/*; do
        [ -e "$d" ] && { basename "$d"; return; }
    done
    return 0
}

DEV=${QPERF_RDMA_DEV:-$(first_device)}
HOST=127.0.0.1
if [ -z "$DEV" ]; then
    [ "$(id -u)" -eq 0 ] || no_device "not root"
    command -v rdma >/dev/null || no_device "iproute2 rdma tool missing"
    command -v modprobe >/dev/null && modprobe rdma_rxe 2>/dev/null || true
    [ -d /sys/module/rdma_rxe ] || no_device "kernel $(uname -r) has no rdma_rxe module loaded"
    ip link add "$VETH" type veth peer name "$PEER" 2>/dev/null || no_device "cannot create a veth pair"
    MADE_VETH=1
    ip addr add "$ADDR/30" dev "$VETH"
    ip link set "$VETH" up
    ip link set "$PEER" up
    rdma link add "$RXE" type rxe netdev "$VETH" 2>/dev/null || no_device "rdma link add failed"
    MADE_RXE=1
    DEV=$RXE
    HOST=$ADDR
fi
[ -n "$DEV" ] || no_device "no device"
echo "rdma_soft_roce: device $DEV, control host $HOST, ${SECS}s per test"

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12768))
        (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

start_server() { # BIN -> port
    local port
    port=$(free_port)
    "$1" -lp "$port" >"$TMP/srv.$port" 2>&1 &
    PIDS+=("$!")
    sleep 0.3
    echo "$port"
}
SP_STOCK=$(start_server "$STOCK")
SP_OURS=$(start_server "$OURS")

# outcome BIN PORT ARGS... -> "ok: <result names>" or "error(RC): <texts>".
# (Names only: units follow the magnitude, which varies between runs.)
# A failing test's texts are compared as a set, with "server: " stripped:
# between two stock peers either side's error may arrive first (stdout or
# stderr), and both are the same text.
outcome() {
    local bin=$1 port=$2
    shift 2
    local rc=0
    timeout $((SECS + 30)) "$bin" "$HOST" -lp "$port" -t "$SECS" -i "$DEV" "$@" \
        >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" = 0 ]; then
        echo "ok: $(sed -E 's/^ *([a-z_]+) *=.*/\1/' "$TMP/out" | tr '\n' ' ')"
    else
        echo "error($rc): $(cat "$TMP/out" "$TMP/err" | sed 's/^server: //' | sort -u | tr '\n' '|')"
    fi
}

fail=0
printf '%-34s %-9s %-9s %-9s %s\n' test stock 'ours>stock' 'stock>ours' 'ours>ours'
run_case() {
    local ref a b c
    ref=$(outcome "$STOCK" "$SP_STOCK" "$@")
    a=$(outcome "$OURS" "$SP_STOCK" "$@")
    b=$(outcome "$STOCK" "$SP_OURS" "$@")
    c=$(outcome "$OURS" "$SP_OURS" "$@")
    local s1=same s2=same s3=same
    [ "$a" = "$ref" ] || { s1=DIFF; fail=1; }
    [ "$b" = "$ref" ] || { s2=DIFF; fail=1; }
    [ "$c" = "$ref" ] || { s3=DIFF; fail=1; }
    printf '%-34s %-9s %-9s %-9s %s\n' "$*" "${ref%%:*}" "$s1" "$s2" "$s3"
    if [ "$s1$s2$s3" != samesamesame ]; then
        printf '    stock->stock: %s\n    ours->stock:  %s\n    stock->ours:  %s\n    ours->ours:   %s\n' \
            "$ref" "$a" "$b" "$c"
    fi
}
for t in "${TESTS[@]}"; do
    run_case -vv "$t"
    case $t in rc_* | ver_rc_*) run_case -vv -cm1 "$t" ;; esac
done
run_case -vv -cp1 rc_lat
run_case -vv -cm1 -cp1 rc_bw
run_case -vv -n 1000 ud_bw
exit "$fail"
