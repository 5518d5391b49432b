#!/bin/sh
# SPDX-License-Identifier: MIT
# The MPI suite in every shape, then the misuse cases that must stop the job clearly.
set -u
. "$(dirname "$0")/mpi_lib.sh"
prog=$b/tests/mpi_comm
every_shape "$prog"
# A communication thread per rank instead of workers driving MPI.
shape 2 "$prog" -w 2 --progress thread
shape 3 "$prog" -w 1 --progress thread
# Everything through MPI, and a node where one rank turns the shared rings off for all.
shape 2 "$prog" -w 2 --shm off
echo "== mpi_comm: 3 ranks, rank 1 with --shm off"
if ! "$run" 1 "$prog" --bind none : -n 1 "$prog" --bind none --shm off : -n 1 "$prog" --bind none \
     >"$out" 2>&1; then cat "$out"; fail "3 ranks, rank 1 with --shm off"
else grep -m1 'Checks:' "$out"; fi

expect_failure "mismatched -w across ranks" "ranks disagree on the number of workers" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$prog" -w 1 --bind none : -n 1 "$prog" -w 2 --bind none
expect_failure "mismatched --bind across ranks" "ranks disagree on --bind: rank 0 has none, rank 1 has core" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$prog" --bind none : -n 1 "$prog" --bind core
expect_failure "mismatched --progress-tree across ranks" "ranks disagree on --progress-tree: rank 0 has 0, rank 2 has 2" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$prog" --bind none : -n 1 "$prog" --bind none --progress-tree 2
expect_failure "mismatched --watch across ranks" "ranks disagree on --watch: rank 0 has none, rank 1 has 0.5 s" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$prog" --bind none : -n 1 "$prog" --bind none --watch 0.5
expect_failure "mismatched channel types" "not of this worker's type 'f64'" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$prog" misuse-type --bind none
expect_failure "message on a channel never allocated" "which it never allocated" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$prog" misuse-channel -w 2 --bind none
expect_failure "bad -w value" "not a number of workers" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$prog" -w abc
wire=$b/tests/mpi_wire
expect_failure "forged frame: bad magic" "malformed frame from rank 0: bad magic" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" magic --bind none
expect_failure "forged frame: target on another rank" "for worker 0, which runs on rank 0, from rank 0" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" target --bind none
expect_failure "forged frame: length past the frame" "(1048576 bytes): claims more bytes than its frame holds" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" length --bind none
expect_failure "forged frame: source not on the sending rank" "source worker not on the sending rank" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" source -w 2 --bind none
while IFS="|" read -r mode pattern; do
  expect_failure "forged frame: $mode" "$pattern" \
    env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" "$mode" --bind none
done <<'MODES'
overflow|its length is not its number of records
channel|a channel id past the channels a job may allocate
padwrap|claims more bytes than its frame holds
announce-huge|announced batch too large for one MPI message
announce-mismatch|a large payload whose header differs from its announce
ring-orphan|a payload in the shared ring that no announce awaits
str-nonul|a string without its terminating NUL
str-past|a record longer than the rest of the batch
packed|(5 bytes): a packed number not in its shortest form
MODES
# (the payload above came through the shared ring; here through MPI)
expect_failure "forged frame: announce-mismatch, --shm off" \
  "a large payload whose header differs from its announce" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" announce-mismatch --bind none --shm off
exit $status
