#!/bin/sh
# SPDX-License-Identifier: MIT
# The dataflow suite under mpirun in every shape.
set -u
. "$(dirname "$0")/mpi_lib.sh"
every_shape "$b/tests/mpi_dataflow"
shape 2 "$b/tests/mpi_dataflow" -w 2 --progress thread
shape 2 "$b/tests/mpi_dataflow" -w 2 --progress-mode eager
shape 3 "$b/tests/mpi_dataflow" -w 1 --progress-mode eager
# Progress along a binary tree of ranks (rank 0's children 1 and 2 talk through it).
shape 3 "$b/tests/mpi_dataflow" -w 1 --progress-tree 2
shape 3 "$b/tests/mpi_dataflow" -w 2 --progress-tree 2 --progress-mode eager
# The workers of a rank sharing their trackers (from 4 per rank by default; the threaded
# suite's 3 workers share them too), with casts from other ranks and a tree.
shape 2 "$b/tests/mpi_dataflow" -w 2 --progress-share 2
shape 3 "$b/tests/mpi_dataflow" -w 2 --progress-share 1 --progress-tree 2 --progress-mode eager
shape 1 "$b/tests/mpi_dataflow" -w 3 --progress-share 3
# The whole suite (the random dataflows too) under a tiny memory budget: sources wait,
# batches spill, frames wait for credit, and every result is still exact.
shape 1 "$b/tests/mpi_dataflow" -w 3 --memory 1M
shape 2 "$b/tests/mpi_dataflow" -w 2 --memory 1M
shape 3 "$b/tests/mpi_dataflow" -w 1 --memory 1M
exit $status
