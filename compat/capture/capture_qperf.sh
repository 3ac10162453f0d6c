#!/usr/bin/env bash
# Re-record the deterministic qperf golden cases (compat/golden/qperf/) from
# a qperf binary into OUT_DIR, with the same file names (NAME.txt = stdout,
# NAME.stderr.txt = stderr, help/CATEGORY.txt):
#
#   compat/capture/capture_qperf.sh OUT_DIR [QPERF_BINARY]
#   compat/capture/check.sh OUT_DIR compat/golden/qperf
#
# QPERF_BINARY defaults to the stock /usr/bin/qperf; pass ours
# (target/release/qperf) to check it instead. Cases that need a server get
# one from the same binary (`qperf -lp <free port>`, loopback, killed by
# PID at exit). Measured results, conf (host specific), races and wire
# dumps (need tcpdump: see compat/golden/qperf/tools/) are not re-recorded.
# sctp_bw_no_sctp only matches on a kernel without SCTP.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

prepare_out "${1:-}"
QPERF=$(pick_binary "${2:-}" qperf)
echo "capturing $QPERF into $OUT"

ARGV0=qperf
c() { run_case "$1" .txt .stderr.txt "${@:2}"; }

# Every help category of qperf 0.4.11.
HELP_TOPICS=(
    author bugs categories conf examples main options opts quit tests
    rc_bi_bw rc_bw rc_compare_swap_mr rc_fetch_add_mr rc_lat
    rc_rdma_read_bw rc_rdma_read_lat rc_rdma_write_bw rc_rdma_write_lat
    rc_rdma_write_poll_lat rds_bw rds_lat sctp_bw sctp_lat sdp_bw sdp_lat
    tcp_bw tcp_lat uc_bi_bw uc_bw uc_lat uc_rdma_write_bw uc_rdma_write_lat
    uc_rdma_write_poll_lat ud_bi_bw ud_bw ud_lat udp_bw udp_lat
    ver_rc_compare_swap ver_rc_fetch_add xrc_bi_bw xrc_bw xrc_lat
)
mkdir -p "$OUT/help"
for topic in "${HELP_TOPICS[@]}"; do
    c "help/$topic" "$QPERF" --help "$topic"
done

c version "$QPERF" --version

# No server needed: parse errors, and nothing listening (retried for 5 s).
closed=$(pick_port)
c unknown_test "$QPERF" 127.0.0.1 -lp "$closed" foo_bar
c server_not_running "$QPERF" 127.0.0.1 -lp "$closed" tcp_bw

# A server from the same binary on a free port.
lp=$(pick_port)
"$QPERF" -lp "$lp" >/dev/null 2>&1 &
STARTED_PIDS+=($!)
if wait_port "$lp" 10; then
    # The server cannot bind its own listen port as the data port.
    c server_side_error "$QPERF" 127.0.0.1 -lp "$lp" -ip "$lp" -t 1 tcp_bw
    c sctp_bw_no_sctp "$QPERF" 127.0.0.1 -lp "$lp" -t 1 sctp_bw
else
    echo "  server cases skipped: '$QPERF -lp $lp' did not listen"
fi
stop_started

echo "done: $(wc -l <"$OUT/exit-codes.tsv") cases in $OUT (exit codes in exit-codes.tsv)"
