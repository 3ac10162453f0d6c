#!/usr/bin/env bash
# wrk -R (wrk2 mode): achieved rate against the target, and the generator's
# own scheduling lag, at several rates against one private nginx.
#
# Usage: compat/bench/rate_vs_target.sh
# Env:   RATES (default "1000 10000 50000")   target req/s
#        DURATION (default 10s), THREADS (2), CONNS (100)
#        OURS (default: release build of wrk-rs); NGINX (default: nginx in PATH)
#
# Lag is the mean corrected latency (from the intended send time) minus the
# mean uncorrected latency (from the actual send) of the same run: the time
# requests waited for the generator itself. There is no wrk2 oracle here
# (not packaged); the figures stand on their own.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
bench_init

rates=${RATES:-"1000 10000 50000"}
duration=${DURATION:-10s}
threads=${THREADS:-2}
conns=${CONNS:-100}
ours=${OURS:-$(build_ours wrk-rs wrk)}

start_nginx
url="http://127.0.0.1:$nginx_port/index.html"
machine_note

printf '| target req/s | achieved req/s | achieved/target | mean corrected ms | mean uncorrected ms | lag ms | p99 corrected |\n'
printf '|---|---|---|---|---|---|---|\n'
for rate in $rates; do
    out=$BENCH_TMP/rate-$rate.txt
    timeout 120 "$ours" -t"$threads" -c"$conns" -d"$duration" -R"$rate" -U "$url" >"$out"
    achieved=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    # The first #[Mean line is the corrected distribution, the second -U's.
    read -r corrected uncorrected < <(awk -F'[=,]' '/^#\[Mean/ {gsub(/ /, "", $2); printf "%s ", $2} END {print ""}' "$out")
    p99=$(awk '/^ *99\.000%/ {print $2; exit}' "$out")
    awk -v r="$rate" -v a="$achieved" -v c="$corrected" -v u="$uncorrected" -v p="$p99" 'BEGIN {
        printf "| %d | %.2f | %.4f | %.3f | %.3f | %.3f | %s |\n", r, a, a / r, c, u, c - u, p }'
done
