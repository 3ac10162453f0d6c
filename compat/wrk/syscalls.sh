#!/bin/sh
# Syscalls per request, our wrk vs stock wrk, in a keep-alive run (issue 4 part 7).
#
# Usage: compat/wrk/syscalls.sh [OUR_WRK [STOCK_WRK [URL]]]
#   OUR_WRK    default: $CARGO_TARGET_DIR/release/wrk or target/release/wrk
#   STOCK_WRK  default: /usr/bin/wrk
#   URL        default: a private nginx started here on a free loopback port
# Env: ARGS (default "-t1 -c10 -d3s"), STRACE (default strace).
#
# Each binary runs under `strace -c -f` (all threads); the total number of
# syscalls (setup included) is divided by the completed requests wrk reports.
# strace slows both tools a lot, which is fine: the ratio is what matters.
# Loopback only; the nginx we start is killed by PID on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ours=${1:-${CARGO_TARGET_DIR:-$root/target}/release/wrk}
stock=${2:-/usr/bin/wrk}
url=${3:-}
args=${ARGS:-"-t1 -c10 -d3s"}
strace=${STRACE:-strace}

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

measure() { # name binary
    # shellcheck disable=SC2086
    "$strace" -c -f -o "$tmp/$1.strace" "$2" $args "$url" > "$tmp/$1.out"
    # Rows and the totals line: % time, seconds, usecs/call, calls, [errors], name.
    calls=$(awk '$NF == "total" { print $4 }' "$tmp/$1.strace")
    reqs=$(awk '/ requests in / { print $1 }' "$tmp/$1.out")
    per=$(awk -v c="$calls" -v r="$reqs" 'BEGIN { if (r > 0) printf "%.2f", c / r; else print "inf" }')
    printf '%-6s %10s syscalls %9s requests  %s syscalls/request\n' "$1" "$calls" "$reqs" "$per"
    echo "$per" > "$tmp/$1.per"
    top=$(awk 'NR > 2 && $NF != "total" && $1 !~ /^-/ { print $4, $NF }' "$tmp/$1.strace" | sort -n -r | head -5 | awk '{ printf "  %s %s", $2, $1 }')
    echo "       top syscalls:$top"
}

echo "wrk $args $url (under strace -c -f)"
measure stock "$stock"
measure ours "$ours"
awk -v p="$(cat "$tmp/ours.per")" 'BEGIN { if (p + 0 <= 2.5) { print "ours <= 2.5 syscalls/request: ok"; exit 0 } else { print "ours > 2.5 syscalls/request"; exit 1 } }'
