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
exit $status
