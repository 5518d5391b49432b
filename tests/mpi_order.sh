#!/bin/sh
# SPDX-License-Identifier: MIT
# Message order must not depend on the order in which MPI completes requests. With eager
# limits as small as InfiniBand/UCX networks use, most frames go rendezvous, and a small
# eager frame can complete before a large one its sender posted first: pagerank and the
# dataflow and communication suites must still be exact. `--stats` counts the frames that
# completed a poll ahead of an earlier frame ("reordered"); handling completions poll by
# poll, as tide did before, would have delivered each of them out of order, and the
# per-stream sequence check would have stopped the job (it did: "sequence number 3 where
# 2 was expected"). Their number must be positive, so this test shows the hazard is real.
# Everything goes through MPI here (--shm off): the shared rings between ranks of a node
# keep a rank pair's frames in order by themselves (tests/comm_work.c, laps, mixes them
# with frames that found a ring full and went by MPI).
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
got=$(mktemp); want=$(mktemp); log=$(mktemp); trap 'rm -f "$got" "$want" "$out" "$log"' EXIT
tcp="--bind-to none --mca btl self,tcp --mca btl_tcp_eager_limit 1024 --mca btl_tcp_rndv_eager_limit 1024"
shm="--bind-to none --mca btl self,vader --mca btl_vader_eager_limit 1024"

totals() {
  awk -F'\t' '{ c[$2] += $3; s[$2] += $4; if ($5 > m[$2]) m[$2] = $5 }
              END { for (t in c) print t, c[t], s[t], m[t] }' | sort -n
}
timeout 120 "$b/examples/pagerank" 2000 10000 -w 1 --bind none | totals >"$want"

reordered=0
# pagerank NP W FLAGS: exact per-time totals; adds the ranks' reordered frames up.
pagerank() {
  np=$1 w=$2 flags=$3
  d=$(mktemp -d)
  TIDE_MPIRUN_FLAGS="$flags" TIDE_RANK_OUTPUT=$d "$run" "$np" "$b/examples/pagerank" \
    2000 10000 -w "$w" --bind none --shm off --stats >/dev/null 2>"$log"
  rc=$?
  cat "$d"/1/rank.*/stdout | totals >"$got"
  n=$(cat "$d"/1/rank.*/stderr | sed -n 's/.* reordered \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
  rm -rf "$d"
  reordered=$((reordered + n))
  if [ $rc -eq 0 ] && diff -q "$want" "$got" >/dev/null; then
    echo "ok: pagerank -n $np -w $w ($n frames reordered) with $flags"
  else
    cat "$log"; diff "$want" "$got" | head -5; fail "pagerank -n $np -w $w with $flags"
  fi
}
for flags in "$tcp" "$shm"; do
  pagerank 2 2 "$flags"
  pagerank 3 1 "$flags"
done
pagerank 2 1 "$tcp"
[ "$reordered" -gt 0 ] || fail "no frame completed out of order: the settings no longer exercise the hazard"

# The suites, with their mixed message sizes, in a few shapes.
for flags in "$tcp" "$shm"; do
  export TIDE_MPIRUN_FLAGS="$flags"
  echo "== with $flags"
  shape 2 "$b/tests/mpi_dataflow" -w 2 --shm off
  shape 3 "$b/tests/mpi_dataflow" -w 1 --shm off
  shape 2 "$b/tests/mpi_comm" -w 2 --shm off
  shape 3 "$b/tests/mpi_comm" -w 1 --shm off
done
exit $status
