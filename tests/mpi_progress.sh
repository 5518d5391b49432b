#!/bin/sh
# SPDX-License-Identifier: MIT
# The progress protocol between workers, in every shape (threads, processes, ranks).
set -u
. "$(dirname "$0")/mpi_lib.sh"
prog=$b/tests/mpi_progress
for np in 1 2 3; do
  for w in 1 2; do
    shape $np "$prog" -w $w
  done
done
shape 2 "$prog" -w 2 --progress thread
# Batches sent once per rank and forwarded inside it.
shape 2 "$prog" -w 2 --per-rank
shape 3 "$prog" -w 2 --per-rank
exit $status
