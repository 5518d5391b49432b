#!/bin/sh
# SPDX-License-Identifier: MIT
# The dataflow suite and the classic examples at 8 and 16 ranks, progress straight to every
# rank and along trees of ranks (oversubscribed on a small
# machine, so workers must park rather than spin), with exact results: the dataflow
# suite checks its own, pagerank's per-time totals and wordcount's counts must equal those
# of one worker in one process.
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
: "${TIDE_TEST_TIMEOUT:=300}"
export TIDE_TEST_TIMEOUT
d=${TIDE_SRCDIR:-.}/examples/data
files="$d/rivers.txt $d/workshop.txt $d/night.txt"
got=$(mktemp); want=$(mktemp); err=$(mktemp); trap 'rm -f "$got" "$want" "$err" "$out"' EXIT

# Under the sanitizers (several times slower, 16 processes on a few cores) one shape of
# each; the plain build runs them all.
sanitized=${TIDE_SANITIZED:-0}
[ "$sanitized" = 1 ] || shape 8 "$b/tests/mpi_dataflow" -w 1
shape 16 "$b/tests/mpi_dataflow" -w 1
# Progress along trees of ranks: binary (3 levels at 8 ranks, 4 at 16) and 4-ary.
shape 16 "$b/tests/mpi_dataflow" -w 1 --progress-tree 2
if [ "$sanitized" != 1 ]; then
  shape 8 "$b/tests/mpi_dataflow" -w 2
  shape 8 "$b/tests/mpi_dataflow" -w 1 --progress-mode eager
  shape 8 "$b/tests/mpi_dataflow" -w 2 --progress-tree 2
  shape 16 "$b/tests/mpi_dataflow" -w 1 --progress-tree 4 --progress-mode eager
fi

totals() {
  awk -F'\t' '{ c[$2] += $3; s[$2] += $4; if ($5 > m[$2]) m[$2] = $5 }
              END { for (t in c) print t, c[t], s[t], m[t] }' | sort -n
}
timeout 120 "$b/examples/pagerank" 2000 10000 -w 1 --bind none | totals >"$want"
# (32 ranks: the default 16-ary progress tree; 16 ranks with --progress-tree 16: a star.)
pr_shapes='8:1 16:1 4:4 8:1:--progress-mode:eager 16:1:--progress-tree:2 4:4:--progress-tree:2 16:1:--progress-tree:16 32:1'
[ "$sanitized" = 1 ] && pr_shapes='8:1'
for s in $pr_shapes; do
  s=$(echo "$s" | tr ':' ' ')
  set -- $s
  np=$1 w=$2; shift 2
  if per_rank $np "$b/examples/pagerank" 2000 10000 -w $w --bind none "$@" 2>"$err" | totals >"$got" &&
     diff -q "$want" "$got" >/dev/null; then echo "ok: pagerank -n $np -w $w $*"
  else diff "$want" "$got" | head -5; tail -n 40 "$err"; fail "pagerank -n $np -w $w $*"; fi
done

timeout 60 "$b/examples/wordcount" --all $files -w 1 --bind none 2>/dev/null |
  sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' >"$want"
wc_shapes='8:1 16:1 4:2 8:1:--progress-tree:2'
[ "$sanitized" = 1 ] && wc_shapes='16:1'
for s in $wc_shapes; do
  s=$(echo "$s" | tr ':' ' ')
  set -- $s
  np=$1 w=$2; shift 2
  if "$run" $np "$b/examples/wordcount" --all $files -w $w --bind none "$@" 2>"$err" |
     sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' | diff -u "$want" - >"$got"; then
    echo "ok: wordcount -n $np -w $w $*"
  else head -20 "$got"; tail -n 20 "$err"; fail "wordcount -n $np -w $w $*"; fi
done
exit $status
