# Shared helpers for the side-by-side benchmark scripts here (sourced, not
# run). Everything is loopback only; every process a script starts is
# recorded with `track PID` and killed by that PID on exit (`bench_cleanup`,
# installed as the EXIT trap by `bench_init`).

BENCH_PIDS=()
BENCH_TMP=""

# bench_init: temp dir in $BENCH_TMP, cleanup trap, repo root in $ROOT.
bench_init() {
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Kill (by PID) what we started, then remove the temp dir unless KEEP=1.
bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$BENCH_TMP" ]]; then
        if [[ "${KEEP:-0}" == 1 ]]; then
            echo "raw outputs kept in $BENCH_TMP" >&2
        else
            rm -rf "$BENCH_TMP"
        fi
    fi
}

track() { BENCH_PIDS+=("$1"); }

# A TCP port nothing listens on right now (the kernel's pick).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_listen PORT PID [SECONDS]: until something listens on 127.0.0.1:PORT
# (checked with ss, so the server never sees a probe connection); fails if
# PID died or the time ran out.
wait_listen() {
    local port=$1 pid=$2 tries=$(( ${3:-20} * 10 )) i
    for ((i = 0; i < tries; i++)); do
        if ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Our binary NAME built in release for PACKAGE; prints its path.
build_ours() {
    local pkg=$1 name=$2 target
    target=${CARGO_TARGET_DIR:-$ROOT/target}
    (cd "$ROOT" && cargo build --release -q -p "$pkg") >&2
    echo "$target/release/$name"
}

# median: of the numbers on stdin (one a line, "-" or empty skipped); "-"
# when there are none.
median() {
    awk '/^-?[0-9.]+([eE][-+]?[0-9]+)?$/' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "-"; exit }
            if (NR % 2) print v[(NR + 1) / 2]
            else print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# spread: max/min of the numbers on stdin to 2 decimals ("-" when fewer
# than two, or the smallest is 0): how noisy the rounds were.
spread() {
    awk '/^-?[0-9.]+([eE][-+]?[0-9]+)?$/' | sort -g | awk '
        NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR < 2 || lo + 0 == 0) print "-"; else printf "%.2f\n", hi / lo }'
}

# ratio A B: A/B to 2 decimals, "-" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || b + 0 == 0) print "-"
        else printf "%.2f\n", a / b }'
}

# fmt NUMBER: 4 significant digits, "-" kept.
fmt() {
    awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.4g\n", a }'
}

# Load and machine note for the report header.
machine_note() {
    echo "host: $(nproc) CPUs, $(uname -r); $(uptime | sed 's/.*load average/load average/')"
}

# start_nginx: ONE private nginx (one process, one worker, temp prefix under
# $BENCH_TMP, free 127.0.0.1 port, tracked for cleanup) serving a 615-byte
# /index.html and a 100 KiB /100k.bin; sets $nginx_port. Uses $nginx_bin
# (default: nginx in PATH).
start_nginx() {
    local attempt port prefix=$BENCH_TMP/nginx
    nginx_bin=${nginx_bin:-${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}}
    mkdir -p "$prefix"/{html,logs,tmp}
    head -c 615 /dev/zero | tr '\0' 'x' >"$prefix/html/index.html"
    head -c 102400 /dev/zero | tr '\0' 'b' >"$prefix/html/100k.bin"
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        cat >"$prefix/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; worker_rlimit_nofile 65535;
pid $prefix/logs/nginx.pid; error_log $prefix/logs/error.log warn;
events { worker_connections 30000; multi_accept on; }
http {
  access_log off; default_type application/octet-stream;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 65;
  client_body_temp_path $prefix/tmp; proxy_temp_path $prefix/tmp;
  fastcgi_temp_path $prefix/tmp; uwsgi_temp_path $prefix/tmp; scgi_temp_path $prefix/tmp;
  server { listen 127.0.0.1:$port backlog=4096; root $prefix/html; index index.html; }
}
CONF
        "$nginx_bin" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" \
            >"$prefix/nginx.out" 2>&1 &
        nginx_pid=$!
        track "$nginx_pid"
        if wait_listen "$port" "$nginx_pid" 20; then
            nginx_port=$port
            return 0
        fi
        kill "$nginx_pid" 2>/dev/null || true
        grep -q 'Address already in use' "$prefix/logs/error.log" 2>/dev/null || break
    done
    echo "nginx did not start:" >&2
    cat "$prefix/nginx.out" "$prefix/logs/error.log" >&2 2>/dev/null || true
    return 1
}
