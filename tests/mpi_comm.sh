#!/bin/sh
# SPDX-License-Identifier: MIT
# The MPI suite in every shape, then the misuse cases that must stop the job clearly.
set -u
b=${TIDE_BUILDDIR:-.}
run=$b/tests/run_mpi
prog=$b/tests/mpi_comm
status=0
fail() { echo "FAIL: $*"; status=1; }
out=$(mktemp); trap 'rm -f "$out"' EXIT

suite() { # suite NP ARGS...
  np=$1; shift
  echo "== mpi_comm -n $np $*"
  if "$run" "$np" "$prog" "$@" --bind none >"$out" 2>&1; then
    grep -m1 'Checks:' "$out"
  else
    cat "$out"; fail "mpi_comm -n $np $*"
  fi
}
for np in 1 2 3; do
  for w in 1 2; do
    suite $np -w $w
  done
done
# A communication thread per rank instead of workers driving MPI.
suite 2 -w 2 --progress thread
suite 3 -w 1 --progress thread

# expect_failure NAME PATTERN COMMAND...: the command must exit non-zero, within the time
# limit (exit 124 is a hang), printing PATTERN.
expect_failure() {
  name=$1 pattern=$2; shift 2
  echo "== $name"
  "$@" >"$out" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then cat "$out"; fail "$name: exit 0"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then cat "$out"; fail "$name: hung"
  elif ! grep -q "$pattern" "$out"; then cat "$out"; fail "$name: no message matching '$pattern'"
  else grep -m1 "$pattern" "$out"; fi
}

expect_failure "mismatched -w across ranks" "ranks disagree on the number of workers" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$prog" -w 1 --bind none : -n 1 "$prog" -w 2 --bind none
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
expect_failure "forged frame: length past the frame" "claims 1048576 bytes, more than its frame holds" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" length --bind none
expect_failure "forged frame: source not on the sending rank" "source worker not on the sending rank" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$wire" source -w 2 --bind none
exit $status
