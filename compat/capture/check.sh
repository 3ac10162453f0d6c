#!/usr/bin/env bash
# Compare a capture folder with the golden folder it re-records:
#
#   compat/capture/check.sh OUT_DIR compat/golden/wrk     (or .../qperf)
#
# Every captured file must equal the golden file of the same name, byte for
# byte (files listed in OUT_DIR/measured.txt hold measurements and are not
# compared), and every exit status in OUT_DIR/exit-codes.tsv must equal the one in
# the golden INDEX.md table. Exit 0 when all match, 1 otherwise.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 OUT_DIR GOLDEN_DIR" >&2; exit 2; }
out=$1 golden=$2
bad=0 same=0

while IFS= read -r -d '' f; do
    rel=${f#"$out"/}
    case $rel in exit-codes.tsv | measured.txt) continue ;; esac
    if [ ! -e "$golden/$rel" ]; then
        echo "NO GOLDEN  $rel"
        bad=1
    elif cmp -s "$f" "$golden/$rel"; then
        same=$((same + 1))
    else
        echo "DIFFERS    $rel"
        diff -u "$golden/$rel" "$f" | head -20 || true
        bad=1
    fi
done < <(find "$out" -type f -print0 | sort -z)

# A stream the golden case has but the capture lacks (it was empty here).
while IFS=$'\t' read -r name _ _; do
    for g in "$golden/$name".*; do
        [ -e "$g" ] || continue
        case $g in *.lua) continue ;; esac
        rel=${g#"$golden"/}
        grep -qxF "$rel" "$out/measured.txt" 2>/dev/null && continue
        [ -e "$out/$rel" ] || { echo "MISSING    $rel (empty in capture)"; bad=1; }
    done
done <"$out/exit-codes.tsv"

# Exit codes: find the "exit" column of the INDEX.md table and the row whose
# first cell (backticks and .txt stripped) is the case name.
if [ -f "$golden/INDEX.md" ]; then
    while IFS=$'\t' read -r name rc _; do
        want=$(awk -F'|' -v name="$name" '
            function clean(s) { gsub(/[` ]/, "", s); sub(/\.txt$/, "", s); return s }
            col == 0 { for (i = 2; i < NF; i++) if (tolower(clean($i)) == "exit") col = i; next }
            clean($2) == name { print clean($col); exit }
        ' "$golden/INDEX.md")
        if [ -n "$want" ] && [ "$want" != "$rc" ]; then
            echo "EXIT       $name: captured $rc, golden $want"
            bad=1
        fi
    done <"$out/exit-codes.tsv"
fi

echo "$same files identical"
[ "$bad" = 0 ] && echo "all captured cases match $golden"
exit "$bad"
