# Shared helpers for the capture scripts (sourced, not run).
#
# Every server a capture starts is a child of the script, listens on
# 127.0.0.1 only, on a port found free at start, and is killed by its PID
# when the script exits (also on Ctrl-C).

# PIDs of the servers this script started.
declare -a STARTED_PIDS=()

stop_started() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    STARTED_PIDS=()
}
trap stop_started EXIT
trap 'exit 130' INT TERM

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Wait up to $2 seconds (default 10) for 127.0.0.1:$1 to accept.
wait_port() {
    local port=$1 tries=$(( ${2:-10} * 20 ))
    while ! port_open "$port"; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.05
    done
}

# A port on 127.0.0.1 where nothing listens, below the usual ephemeral
# range so the kernel will not hand it to an outgoing connection meanwhile.
pick_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        port_open "$p" || { echo "$p"; return; }
    done
}

# argv[0] given to the captured program (getopt messages print it): the
# references were taken with the tool found on PATH, e.g. `wrk`.
ARGV0=${ARGV0:-}

# run_case NAME OUT_STDOUT_SUFFIX OUT_STDERR_SUFFIX CMD...
# Runs CMD (60 s limit, argv[0] = $ARGV0 when set) in the current
# directory, writes the non-empty
# streams to $OUT/NAME<suffix>, and records the exit status in
# $OUT/exit-codes.tsv. The exit status of CMD is not an error here.
run_case() {
    local name=$1 out_sfx=$2 err_sfx=$3
    shift 3
    local rc=0
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 60 bash -c 'a=$1; shift; if [ -n "$a" ]; then exec -a "$a" "$@"; else exec "$@"; fi' \
        _ "$ARGV0" "$@" >"$OUT/$name$out_sfx" 2>"$OUT/$name$err_sfx" || rc=$?
    [ -s "$OUT/$name$out_sfx" ] || rm -f "$OUT/$name$out_sfx"
    [ -s "$OUT/$name$err_sfx" ] || rm -f "$OUT/$name$err_sfx"
    printf '%s\t%s\t%s\n' "$name" "$rc" "$*" >>"$OUT/exit-codes.tsv"
    echo "  $name: exit $rc"
}

# drop_measured FILE...: remove captured files whose bytes are measurements
# and list them in $OUT/measured.txt so check.sh does not expect them.
drop_measured() {
    local f
    for f in "$@"; do
        rm -f "$OUT/$f"
        echo "$f" >>"$OUT/measured.txt"
    done
}

# Resolve the binary to capture: $1 if given, else the stock one.
pick_binary() {
    local given=$1 tool=$2 p
    if [ -n "$given" ]; then
        command -v "$given" || { echo "not executable: $given" >&2; return 1; }
        return
    fi
    for p in "/usr/bin/$tool" "/usr/sbin/$tool"; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
    command -v "$tool" || { echo "$tool not installed" >&2; return 1; }
}

# Prepare $OUT (absolute, created) from $1.
prepare_out() {
    [ -n "${1:-}" ] || { echo "usage: $0 OUT_DIR [BINARY]" >&2; exit 2; }
    mkdir -p "$1"
    OUT=$(cd "$1" && pwd)
    : >"$OUT/exit-codes.tsv"
    : >"$OUT/measured.txt"
}
