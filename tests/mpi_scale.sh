#!/bin/sh
# SPDX-License-Identifier: MIT
# The dataflow suite and the classic examples at 8 and 16 ranks (oversubscribed on a small
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
got=$(mktemp); want=$(mktemp); trap 'rm -f "$got" "$want" "$out"' EXIT

shape 8 "$b/tests/mpi_dataflow" -w 1
shape 16 "$b/tests/mpi_dataflow" -w 1
shape 8 "$b/tests/mpi_dataflow" -w 2

totals() {
  awk -F'\t' '{ c[$2] += $3; s[$2] += $4; if ($5 > m[$2]) m[$2] = $5 }
              END { for (t in c) print t, c[t], s[t], m[t] }' | sort -n
}
timeout 120 "$b/examples/pagerank" 2000 10000 -w 1 --bind none | totals >"$want"
for s in "8 1" "16 1" "4 4"; do
  set -- $s
  if per_rank $1 "$b/examples/pagerank" 2000 10000 -w $2 --bind none 2>/dev/null | totals >"$got" &&
     diff -q "$want" "$got" >/dev/null; then echo "ok: pagerank -n $1 -w $2"
  else diff "$want" "$got" | head -5; fail "pagerank -n $1 -w $2"; fi
done

timeout 60 "$b/examples/wordcount" --all $files -w 1 --bind none 2>/dev/null |
  sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' >"$want"
for s in "8 1" "16 1" "4 2"; do
  set -- $s
  if "$run" $1 "$b/examples/wordcount" --all $files -w $2 --bind none 2>/dev/null |
     sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' | diff -u "$want" - >"$got"; then
    echo "ok: wordcount -n $1 -w $2"
  else head -20 "$got"; fail "wordcount -n $1 -w $2"; fi
done
exit $status
