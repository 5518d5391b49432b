#!/bin/sh
# SPDX-License-Identifier: MIT
# The progress protocol between workers, in every shape (threads, processes, ranks).
set -u
b=${TIDE_BUILDDIR:-.}
status=0
out=$(mktemp); trap 'rm -f "$out"' EXIT
run() { # run NP ARGS...
  np=$1; shift
  echo "== mpi_progress -n $np $*"
  if "$b/tests/run_mpi" "$np" "$b/tests/mpi_progress" "$@" --bind none >"$out" 2>&1; then
    grep -m1 'Checks:' "$out"
  else
    cat "$out"; echo "FAIL: mpi_progress -n $np $*"; status=1
  fi
}
for np in 1 2 3; do
  for w in 1 2; do
    run $np -w $w
  done
done
run 2 -w 2 --progress thread
# Batches sent once per rank and forwarded inside it.
run 2 -w 2 --per-rank
run 3 -w 2 --per-rank
exit $status
