#!/bin/sh
# SPDX-License-Identifier: MIT
# examples/task_bench (built with --with-task-bench): small graphs of every dependence
# pattern, and several graphs at once, in one process with 1 and 2 workers and on 2 and 3
# ranks. Task Bench's core checks every task's inputs (it stops the run on a wrong one) and
# each worker checks that it ran every task of its points; the report must give the task
# and dependency counts of the graph. Bad arguments must fail with Task Bench's message.
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
tb=$b/examples/task_bench
got=$(mktemp); trap 'rm -f "$out" "$got"' EXIT

# counts ARGS...: the report's task and dependency counts of one worker's run.
counts() {
  timeout 60 "$tb" "$@" -w 1 --bind none 2>&1 | grep -e '^Total Tasks' -e '^Total Dependencies'
}

# check NAME EXPECTED-COUNTS LAUNCH...: the run must succeed and report EXPECTED-COUNTS.
check() {
  name=$1 want=$2; shift 2
  "$@" --bind none >"$out" 2>&1; rc=$?
  if [ $rc -ne 0 ] && launch_failed "$out"; then
    echo "retried: Open MPI failed to start the job"
    "$@" --bind none >"$out" 2>&1; rc=$?
  fi
  grep -e '^Total Tasks' -e '^Total Dependencies' "$out" >"$got"
  if [ $rc -ne 0 ]; then tail -15 "$out"; fail "$name: exit $rc"
  elif [ "$(cat "$got")" != "$want" ]; then
    cat "$out"; fail "$name: counts '$(tr '\n' ' ' <"$got")' where '$(echo $want)' was expected"
  elif [ "$(grep -c '^Elapsed Time' "$out")" != 1 ]; then cat "$out"; fail "$name: not one report"
  else echo "ok: $name ($(echo $want))"; fi
}

# every shape of one graph (or several, joined by -and)
shapes() {
  want=$(counts "$@")
  [ -n "$want" ] || { fail "task_bench $*: no counts from one worker"; return; }
  check "task_bench $* -w 2" "$want" timeout 60 "$tb" "$@" -w 2
  check "mpirun -n 2 task_bench $* -w 1" "$want" "$run" 2 "$tb" "$@" -w 1
  check "mpirun -n 3 task_bench $* -w 1" "$want" "$run" 3 "$tb" "$@" -w 1
  check "mpirun -n 2 task_bench $* -w 2" "$want" "$run" 2 "$tb" "$@" -w 2
}

for type in trivial no_comm stencil_1d stencil_1d_periodic dom tree fft all_to_all; do
  shapes -steps 12 -width 7 -type $type
done
shapes -steps 12 -width 7 -type nearest -radix 5
shapes -steps 12 -width 8 -type spread -radix 3
shapes -steps 12 -width 8 -type random_nearest -radix 3
# (Not random_spread: this core divides by its period, which it leaves at 0 for that
# pattern, and stops with SIGFPE; its MPI implementations do the same.)
# A real kernel, outputs larger than the core's minimum, and fewer points than workers.
shapes -steps 8 -width 5 -type stencil_1d -kernel compute_bound -iter 64 -output 100
shapes -steps 6 -width 2 -type all_to_all
# Timesteps as epochs (the capability follows the timesteps).
shapes -steps 12 -width 7 -type stencil_1d --timestep-epochs
shapes -steps 12 -width 7 -type tree --timestep-epochs
# Several graphs at once, of different widths and patterns.
shapes -steps 10 -width 6 -type stencil_1d -and -steps 7 -width 4 -type fft -and \
  -steps 5 -width 5 -type all_to_all -output 32

# Bad arguments: Task Bench's own message, or tide's, and a non-zero exit without a hang.
expect_failure "task_bench -steps 0" 'Invalid flag "-steps 0"' timeout 60 "$tb" -steps 0 -w 1
expect_failure "task_bench -type nope" 'Invalid flag "-type nope"' \
  timeout 60 "$tb" -type nope -w 1
expect_failure "task_bench -width without a value" 'requires an argument' \
  timeout 60 "$tb" -width
expect_failure "task_bench -bogus" "'-bogus' is neither a Task Bench option nor a tide option" \
  timeout 60 "$tb" -steps 4 -bogus
expect_failure "task_bench -w x" "is not a number of workers" timeout 60 "$tb" -steps 4 -w x
expect_failure "mpirun -n 2 task_bench -steps 0" 'Invalid flag "-steps 0"' \
  "$run" 2 "$tb" -steps 0 -w 1
exit $status
