#!/bin/sh
# SPDX-License-Identifier: MIT
# pagerank does the same computation whatever the shape: per time, the number of rank
# changes, their sum and their largest (summed or maxed over workers) are identical with
# 1, 2 and 3 workers and under mpirun.
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
got=$(mktemp); want=$(mktemp); trap 'rm -f "$got" "$want" "$out"' EXIT

# per time: changes, sum, max over all workers' lines
totals() {
  awk -F'\t' '{ c[$2] += $3; s[$2] += $4; if ($5 > m[$2]) m[$2] = $5 }
              END { for (t in c) print t, c[t], s[t], m[t] }' | sort -n
}

if ! timeout 120 "$b/examples/pagerank" 2000 10000 -w 1 --bind none | totals >"$want" ||
   [ "$(wc -l <"$want")" -lt 999 ]; then
  cat "$want"; fail "pagerank -w 1 did not report every round"
fi
echo "pagerank -w 1: $(wc -l <"$want") times with rank changes"
check() {
  name=$1; shift
  if "$@" 2>/dev/null | totals >"$got" && diff -q "$want" "$got" >/dev/null; then echo "ok: $name"
  else diff "$want" "$got" | head -5; fail "$name"; fi
}
check "pagerank -w 2" timeout 120 "$b/examples/pagerank" 2000 10000 -w 2 --bind none
check "pagerank -w 3" timeout 120 "$b/examples/pagerank" 2000 10000 -w 3 --bind none
check "mpirun -n 2 pagerank -w 1" per_rank 2 "$b/examples/pagerank" 2000 10000 -w 1 --bind none
check "mpirun -n 2 pagerank -w 2" per_rank 2 "$b/examples/pagerank" 2000 10000 -w 2 --bind none
check "mpirun -n 3 pagerank -w 2 --progress-mode eager" per_rank 3 "$b/examples/pagerank" 2000 10000 -w 2 --bind none --progress-mode eager
expect_failure "pagerank without EDGES" "usage: pagerank NODES EDGES" timeout 20 "$b/examples/pagerank" 10
exit $status
