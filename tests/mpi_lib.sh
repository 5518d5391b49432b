# SPDX-License-Identifier: MIT
# Sourced by the MPI test scripts: $b (build directory), $run (the time-bounded mpirun
# wrapper), $out (a scratch file), $status, and the helpers below.
b=${TIDE_BUILDDIR:-.}
run=$b/tests/run_mpi
status=0
out=$(mktemp); trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; status=1; }

# launch_failed FILE: the output shows Open MPI failing to start the job itself (its PMIx
# client losing the local server inside MPI_Init, seen once with 16 ranks of two jobs at
# once on 2 cores), before any tide code ran.
launch_failed() {
  grep -q -e 'OPAL ERROR: Unreachable' -e 'ORTE was unable to reliably start' "$1" &&
    grep -q 'An error occurred in MPI_Init' "$1"
}

# shape NP PROGRAM ARGS...: a check program on NP ranks; prints its Checks line. A run that
# Open MPI failed to start is run once more, saying so.
shape() {
  np=$1 prog=$2; shift 2
  echo "== $(basename "$prog") -n $np $*"
  "$run" "$np" "$prog" "$@" --bind none >"$out" 2>&1; rc=$?
  if [ $rc -ne 0 ] && launch_failed "$out"; then
    echo "retried: Open MPI failed to start the job ($(grep -m1 -e 'OPAL ERROR' -e 'ORTE was' "$out"))"
    "$run" "$np" "$prog" "$@" --bind none >"$out" 2>&1; rc=$?
  fi
  if [ $rc -eq 0 ]; then
    grep -m1 'Checks:' "$out"
  else
    # The reason again last, where a log cut to its tail (as CI shows it) still has it:
    # mpirun's own abort notice is longer than most excerpts.
    cat "$out"; fail "$(basename "$prog") -n $np $* (exit $rc)$(grep -m1 -e 'tide: fatal' -e 'Assertion' "$out" | sed 's/^/: /')"
  fi
}

# every_shape PROGRAM ARGS...: -n 1, 2, 3 ranks with -w 1 and -w 2.
every_shape() {
  for np in 1 2 3; do
    for w in 1 2; do
      shape $np "$@" -w $w
    done
  done
}

# expect_failure NAME PATTERN COMMAND...: the command must exit non-zero, within the time
# limit (exit 124 or 137 is a hang), printing PATTERN.
expect_failure() {
  name=$1 pattern=$2; shift 2
  echo "== $name"
  "$@" </dev/null >"$out" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then cat "$out"; fail "$name: exit 0"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then cat "$out"; fail "$name: hung"
  elif ! grep -q -e "$pattern" "$out"; then cat "$out"; fail "$name: no message matching '$pattern'"
  else grep -m1 -e "$pattern" "$out"; fi
}

# per_rank NP PROGRAM ARGS...: every rank's stdout, one rank after another (each rank
# writes a file of its own: mpirun may splice lines of several ranks on its stdout; Open
# MPI gives each rank a pty, whose output processing passes a line on in pieces cut at its
# tabs, and CI once saw another rank's whole line land between the pieces of exchange's).
per_rank() {
  np=$1; shift
  d=$(mktemp -d)
  TIDE_RANK_OUTPUT=$d "$run" "$np" "$@" >"$d/launcher" 2>&1; rc=$?
  # Open MPI failing to start the job (as in shape above) is retried once, saying so.
  # (a rank that never started leaves no stderr file: what there is is read)
  if [ $rc -ne 0 ] && { cat "$d/launcher" "$d"/1/rank.*/stderr >"$d/all" 2>/dev/null
                        launch_failed "$d/all"; }; then
    echo "per_rank: retried: Open MPI failed to start the job ($(grep -m1 -e 'OPAL ERROR' -e 'ORTE was' "$d/all"))" >&2
    rm -rf "$d"; d=$(mktemp -d)
    TIDE_RANK_OUTPUT=$d "$run" "$np" "$@" >"$d/launcher" 2>&1; rc=$?
  fi
  [ $rc -eq 0 ] && { cat "$d"/1/rank.*/stdout; rc=$?; }
  # A failed run says how (124: the time limit) and what the launcher and the ranks said
  # last, on stderr: a rare failure is then explained in the log it happened in.
  if [ $rc -ne 0 ]; then
    echo "per_rank: $np rank(s) of $* exited $rc" >&2
    tail -n 5 "$d/launcher" "$d"/1/rank.*/stderr >&2 2>/dev/null
  fi
  rm -rf "$d"; return $rc
}

# pid_with PATTERN VAR=VALUE: the pid of a process whose command line matches PATTERN and
# whose environment holds VAR=VALUE (a rank: OMPI_COMM_WORLD_RANK=1, SLURM_PROCID=1).
pid_with() {
  for p in $(pgrep -f "$1"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "$2"; then
      echo "$p"; return 0
    fi
  done
  return 1
}
