#!/bin/sh
# SPDX-License-Identifier: MIT
# The nested-scope example (examples/iterate.c) prints exactly the numbers it should in
# every shape, and --dot writes the graphs the programs built: iterate's loop scope as a
# cluster with its loop edge dashed, hello's four operators and three edges, one graph per
# dataflow written by worker 0 alone, none for the library's own dataflows; Graphviz
# renders them; a bad --dot stops the program naming it.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
e=$b/examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$out"' EXIT

# iterate with P workers in all: x is seen at round r while r = 0 or x >> r > 0, by worker
# (x >> r) % P. ($tmp, not $d: mpi_lib.sh's per_rank uses d.)
iterate_lines() {
  x=0
  while [ $x -lt 10 ]; do
    r=0; v=$x
    while [ $r -eq 0 ] || [ $v -gt 0 ]; do
      printf 'worker %d:\tround %d: %d\n' $((v % $1)) $r $v
      r=$((r + 1)); v=$((v / 2))
    done
    x=$((x + 1))
  done | sort
}
check_iterate() { # NAME P COMMAND...
  name=$1 p=$2; shift 2
  iterate_lines "$p" >"$tmp/want"
  if "$@" >"$tmp/got" 2>"$tmp/err" && sort "$tmp/got" | diff -u "$tmp/want" - >"$tmp/diff"; then
    echo "ok: $name"
  else cat "$tmp/err" "$tmp/diff" | head -20; fail "$name"; fi
}
for w in 1 2 3; do
  check_iterate "iterate -w $w" $w timeout 60 "$e/iterate" -w $w --bind none
done
check_iterate "mpirun -n 2 iterate -w 1" 2 per_rank 2 "$e/iterate" -w 1 --bind none
check_iterate "mpirun -n 3 iterate -w 2" 6 per_rank 3 "$e/iterate" -w 2 --bind none

# iterate's graph: the loop scope is a cluster inside the dataflow's, entered and left
# through its boundary points, and the feedback edge is dashed with its step.
timeout 60 "$e/iterate" -w 2 --bind none --dot "$tmp/i.dot" >/dev/null || fail "iterate --dot"
grep -q '^digraph "iterate" {' "$tmp/i.dot" || fail "iterate --dot: no digraph"
grep -q 'subgraph "cluster_s1" {' "$tmp/i.dot" && grep -q 'label="halving"' "$tmp/i.dot" ||
  fail "iterate --dot: no cluster for the loop scope"
grep -q '"s0n1" -> "s1_in" \[label="u64"\]' "$tmp/i.dot" || fail "iterate --dot: no edge into the scope"
grep -q -e '-> "s1n1" \[label="u64, loop +1", style=dashed\]' "$tmp/i.dot" || fail "iterate --dot: no dashed loop edge"
grep -q '"s1n2" -> "s1n3" \[label="u64, exchange"\]' "$tmp/i.dot" || fail "iterate --dot: the exchange edge"
[ "$(grep -c ' -> ' "$tmp/i.dot")" -eq 10 ] || { cat "$tmp/i.dot"; fail "iterate --dot: not 10 edges"; }
[ $status -eq 0 ] && echo "ok: iterate --dot"

# hello under mpirun: one graph (worker 0 writes it), its 4 operators and 3 edges.
"$run" 2 "$e/hello" -w 2 --bind none --dot "$tmp/h.dot" >/dev/null || fail "mpirun hello --dot"
if [ "$(grep -c '^digraph' "$tmp/h.dot")" -eq 1 ] && [ "$(grep -c '\[label="[A-Z][a-z]*"\]' "$tmp/h.dot")" -eq 4 ] &&
   [ "$(grep -c ' -> ' "$tmp/h.dot")" -eq 3 ]; then echo "ok: mpirun -n 2 hello --dot"
else cat "$tmp/h.dot"; fail "mpirun -n 2 hello --dot"; fi
# pagerank checks its arguments with a dataflow of the library's: not in the file.
timeout 60 "$e/pagerank" 100 400 -w 2 --bind none --dot "$tmp/p.dot" >/dev/null 2>&1 || fail "pagerank --dot"
if [ "$(grep -c '^digraph' "$tmp/p.dot")" -eq 1 ] && grep -q '^digraph "pagerank"' "$tmp/p.dot"; then
  echo "ok: pagerank --dot has its own dataflow only"
else grep '^digraph' "$tmp/p.dot"; fail "pagerank --dot"; fi

if command -v dot >/dev/null 2>&1; then
  for f in i h p; do
    dot -Tsvg "$tmp/$f.dot" -o "$tmp/$f.svg" 2>"$tmp/dot.err" && grep -q '<svg' "$tmp/$f.svg" ||
      { cat "$tmp/dot.err"; fail "dot -Tsvg $f.dot"; }
  done
  [ $status -eq 0 ] && echo "ok: Graphviz renders the three graphs"
else
  echo "note: Graphviz (dot) is not installed: the graphs were not rendered"
fi

expect_failure "--dot without a file" "dot needs a file name" timeout 20 "$e/hello" --dot
expect_failure "--dot into a missing directory" "dot: cannot open '$tmp/no/such/f.dot'" \
  timeout 20 "$e/hello" -w 2 --bind none --dot "$tmp/no/such/f.dot"
exit $status
