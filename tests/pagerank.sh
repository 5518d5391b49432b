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
# a batch per edge and per vertex, as timely's example sends them: the same sums
check "pagerank --per-edge -w 1" timeout 120 "$b/examples/pagerank" 2000 10000 --per-edge -w 1 --bind none
check "pagerank --per-edge -w 2" timeout 120 "$b/examples/pagerank" 2000 10000 --per-edge -w 2 --bind none
check "mpirun -n 3 pagerank --per-edge -w 2" per_rank 3 "$b/examples/pagerank" 2000 10000 --per-edge -w 2 --bind none
check "mpirun -n 2 pagerank -w 1" per_rank 2 "$b/examples/pagerank" 2000 10000 -w 1 --bind none
check "mpirun -n 2 pagerank -w 2" per_rank 2 "$b/examples/pagerank" 2000 10000 -w 2 --bind none
check "mpirun -n 3 pagerank -w 2 --progress-mode eager" per_rank 3 "$b/examples/pagerank" 2000 10000 -w 2 --bind none --progress-mode eager
check "pagerank -w 2 --memory 1M" timeout 120 "$b/examples/pagerank" 2000 10000 -w 2 --bind none --memory 1M
check "mpirun -n 2 pagerank -w 2 --memory 1M" per_rank 2 "$b/examples/pagerank" 2000 10000 -w 2 --bind none --memory 1M
check "mpirun -n 3 pagerank -w 2 --progress-tree 2" per_rank 3 "$b/examples/pagerank" 2000 10000 -w 2 --bind none --progress-tree 2
expect_failure "pagerank without EDGES" "usage: pagerank NODES EDGES" timeout 20 "$b/examples/pagerank" 10
expect_failure "pagerank with --per-edge first" "usage: pagerank NODES EDGES" timeout 20 "$b/examples/pagerank" --per-edge 10 20
# bad edge lists: each names what is wrong, nothing hangs
bad=$(mktemp -d); trap 'rm -rf "$bad" "$got" "$want" "$out"' EXIT
: >"$bad/empty"; printf '1 2\n3 -5\n' >"$bad/negative"
printf '1 2\n9223372036854775808 1\n' >"$bad/huge"; printf '1 2 3\n' >"$bad/three"
expect_failure "pagerank on an empty file" "'$bad/empty' has no edges" \
  timeout 20 "$b/examples/pagerank" "$bad/empty" -w 2 --bind none
expect_failure "pagerank with a negative id" "$bad/negative:2: expected two node ids" \
  timeout 20 "$b/examples/pagerank" "$bad/negative" -w 2 --bind none
expect_failure "pagerank with an id of 2^63" "$bad/huge:2: expected two node ids" \
  timeout 20 "$b/examples/pagerank" "$bad/huge" -w 1 --bind none
expect_failure "pagerank with three ids on a line" "$bad/three:1: expected two node ids" \
  timeout 20 "$b/examples/pagerank" "$bad/three" -w 1 --bind none
expect_failure "ranks started with different arguments" \
  "the workers were not given the same program arguments" \
  "$run" 1 "$b/examples/pagerank" 1000 5000 --bind none : -n 1 "$b/examples/pagerank" 2000 5000 --bind none
exit $status
