#!/usr/bin/env bash
# Re-record the deterministic wrk golden cases (compat/golden/wrk/) from a
# wrk binary into OUT_DIR, with the same file names:
#
#   compat/capture/capture_wrk.sh OUT_DIR [WRK_BINARY]
#   compat/capture/check.sh OUT_DIR compat/golden/wrk
#
# WRK_BINARY defaults to the stock /usr/bin/wrk; pass ours
# (target/release/wrk) to check it against the references instead.
# "Deterministic" means the bytes do not depend on measurements: usage and
# error texts, and the stderr of the script-error cases. Cases 32-35 and 46
# need a live server: a private nginx on a free loopback port (skipped when
# nginx is not installed). Case 03 needs 127.0.0.1:9999 to be closed, as in
# the original capture (skipped otherwise: the port is part of the text).
# Set WRK2=/path/to/wrk2 to also record wrk2-01 and wrk2-02.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/../golden/wrk
# shellcheck source=lib.sh
. "$HERE/lib.sh"

prepare_out "${1:-}"
WRK=$(pick_binary "${2:-}" wrk)
echo "capturing $WRK into $OUT"

# Scripts are referenced by bare name (it shows in error texts), so run in a
# scratch folder holding copies of them.
SCRATCH=$(mktemp -d)
trap 'stop_started; rm -rf "$SCRATCH"' EXIT
cp "$GOLDEN"/*.lua "$SCRATCH"/
cd "$SCRATCH"

ARGV0=wrk
c() { run_case "$1" .stdout .stderr "${@:2}"; }

# Command line and validation: no connection is ever made.
c 07-usage-bad-option "$WRK" -x http://127.0.0.1/
c 08-connections-lt-threads "$WRK" -c 1 -t 2 http://127.0.0.1/
c 09-no-arguments "$WRK"
c 10-version-only "$WRK" -v
c 12-invalid-url "$WRK" 127.0.0.1:80/
c 13-missing-option-argument "$WRK" -t
c 14-unrecognized-long-option "$WRK" --rate 100 http://127.0.0.1/
c 15-ambiguous-long-option "$WRK" --t 2 http://127.0.0.1/
c 16-bad-number "$WRK" -c 10x http://127.0.0.1/
c 17-bad-time-unit "$WRK" -d 500ms http://127.0.0.1/
c 18-help-long "$WRK" --help
c 19-unknown-service "$WRK" -t1 -c1 -d1s foo://127.0.0.1/

if port_open 9999; then
    echo "  03-connection-refused: skipped (127.0.0.1:9999 is in use)"
else
    c 03-connection-refused "$WRK" -t1 -c1 -d2s http://127.0.0.1:9999/
fi

# wrk connects once before it validates scripts and requests, so these need
# a live server (its port never shows in the texts). After a script load
# error the run goes on: only stderr is deterministic, stdout is dropped.
NGINX=$(pick_binary "" nginx 2>/dev/null || true)
if [ -n "$NGINX" ]; then
    port=$(pick_port)
    prefix=$SCRATCH/nginx
    mkdir -p "$prefix/html" "$prefix/logs" "$prefix/tmp"
    printf 'ok\n' >"$prefix/html/index.html"
    # Redirect each module's temp path (defaults need root); skip modules
    # this nginx build leaves out.
    build=$("$NGINX" -V 2>&1 || true)
    temp_paths=
    for m in proxy fastcgi uwsgi scgi; do
        case $build in *"--without-http_${m}_module"*) continue ;; esac
        temp_paths+="    ${m}_temp_path $prefix/tmp/$m;"$'\n'
    done
    cat >"$prefix/nginx.conf" <<CONF
daemon off;
master_process off;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
$temp_paths
    server { listen 127.0.0.1:$port; root $prefix/html; }
}
CONF
    "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" &
    STARTED_PIDS+=($!)
    if wait_port "$port" 10; then
        url=http://127.0.0.1:$port/
        c 33-lua-init-error-panic "$WRK" -t1 -c1 -d1s -s init_error.lua "$url"
        c 34-invalid-method "$WRK" -t1 -c1 -d1s -s bad_method.lua "$url"
        c 46-bad-header-name "$WRK" -t1 -c1 -d1s -H "Bad Name: v" "$url"
        c 32-lua-syntax-error "$WRK" -t2 -c2 -d1s -s syntax_error.lua "$url"
        c 35-missing-script-file "$WRK" -t1 -c1 -d1s -s does_not_exist.lua "$url"
        drop_measured 32-lua-syntax-error.stdout 35-missing-script-file.stdout
    else
        echo "  32-35, 46: skipped (nginx did not start: $(cat "$prefix/logs/error.log" 2>/dev/null))"
    fi
    stop_started
else
    echo "  32-35, 46: skipped (nginx not installed)"
fi

if [ -n "${WRK2:-}" ]; then
    c wrk2-01-usage "$WRK2"
    c wrk2-02-missing-rate "$WRK2" -t1 -c1 -d2s http://127.0.0.1/
fi

echo "done: $(wc -l <"$OUT/exit-codes.tsv") cases in $OUT (exit codes in exit-codes.tsv)"
