#!/bin/sh
# SPDX-License-Identifier: MIT
# The progress protocol between workers, in every shape (threads, processes, ranks).
set -u
. "$(dirname "$0")/mpi_lib.sh"
prog=$b/tests/mpi_progress
every_shape "$prog"
shape 2 "$prog" -w 2 --progress thread
# Batches sent once per rank and forwarded inside it.
shape 2 "$prog" -w 2 --per-rank
shape 3 "$prog" -w 2 --per-rank
# progress_bench's rounds count +1s, not batches: a rank may combine its workers' casts
# into one (counting batches, -n 3 -w 2 hung in 3 runs of 3).
for route in "" --per-rank; do
  shape 3 "$b/examples/progress_bench" -w 2 --rounds-only --rounds 2000 $route
  grep -q 'rounds/s' "$out" || fail "progress_bench -n 3 -w 2 $route: no figure"
done
exit $status
