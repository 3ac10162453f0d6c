#!/bin/sh
# The seed's command, stock wrk vs ours, at the largest -c this machine allows.
#
# Usage: compat/wrk/seed_run.sh [OUR_WRK [STOCK_WRK [URL]]]
# Env: DURATION (default 10s; the runbook uses 3m), THREADS (default 64),
#      CONNS (default: the hard open-file limit minus what the tools need
#      besides sockets, rounded down to a multiple of THREADS, at most 20000).
#
# Runs `wrk -t$THREADS -c$CONNS -d$DURATION URL` with both binaries (stock
# with its soft open-file limit raised to the hard limit, since it cannot do
# that itself), one after the other, and prints each report with wall time
# and peak RSS. URL defaults to a private nginx on a free loopback port
# (killed by PID on exit). Both tools share the CPU with the server, so on
# a small machine the numbers describe the server more than the tools.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ours=${1:-${CARGO_TARGET_DIR:-$root/target}/release/wrk}
stock=${2:-/usr/bin/wrk}
url=${3:-}
duration=${DURATION:-10s}
threads=${THREADS:-64}

hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then hard=1048576; fi
if [ -z "${CONNS:-}" ]; then
    conns=$(( (hard - 6 - 2 * threads) / threads * threads ))
    if [ "$conns" -gt 20000 ]; then conns=20000; fi
else
    conns=$CONNS
fi

tmp=$(mktemp -d)
ngpid=""
cleanup() {
    if [ -n "$ngpid" ]; then kill "$ngpid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -z "$url" ]; then
    . "$here/nginx.sh"
    start_nginx "$tmp"
    ngpid=$NGINX_PID
    url=$NGINX_URL
fi

run() { # name binary
    echo "== $1: wrk -t$threads -c$conns -d$duration $url"
    ( ulimit -n "$hard"; /usr/bin/time -f "   [$1: %e s wall, %M KB max RSS]" "$2" -t"$threads" -c"$conns" -d"$duration" "$url" )
    echo
}

echo "open-file limit: hard $hard"
run stock "$stock"
run ours "$ours"
