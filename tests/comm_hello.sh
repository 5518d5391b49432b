#!/bin/sh
# SPDX-License-Identifier: MIT
# The communication examples print exactly the seed's lines; the order between workers is
# free, so outputs are compared as sorted sets of lines.
set -u
b=${TIDE_BUILDDIR:-.}
status=0
got=$(mktemp); want=$(mktemp); trap 'rm -f "$got" "$want"' EXIT

# expected NP W: the lines of comm_hello with NP ranks of W workers
expected() {
  peers=$(( $1 * $2 )); i=0
  while [ $i -lt $peers ]; do
    echo "worker $i of $peers started"
    j=0; while [ $j -lt $peers ]; do echo "worker $i: received: <hello, $i>"; j=$((j+1)); done
    echo "result: Ok($i)"
    i=$((i+1))
  done
}

check() {
  name=$1; shift
  if ! "$@" >"$got" 2>&1; then cat "$got"; echo "FAIL: $name exited non-zero"; status=1; return; fi
  if sort "$got" | diff -u "$want" - ; then echo "ok: $name"; else echo "FAIL: $name"; status=1; fi
}

for w in 1 2 3; do
  expected 1 $w | sort >"$want"
  check "comm_hello -w $w" timeout 60 "$b/examples/comm_hello" -w $w --bind none
done
for np in 1 2 3; do
  for w in 1 2; do
    expected $np $w | sort >"$want"
    check "mpirun -n $np comm_hello -w $w" "$b/tests/run_mpi" $np "$b/examples/comm_hello" -w $w --bind none
  done
done

expected 2 2 | sort >"$want"
check "mpirun -n 2 comm_hello -w 2 --progress thread" "$b/tests/run_mpi" 2 "$b/examples/comm_hello" -w 2 --bind none --progress thread

sort >"$want" <<'LINES'
worker 0 started
worker 1 started
worker 0: received: <hello, 0>
worker 1: received: <hello, 1>
worker 0: received: <hello, 0>
worker 1: received: <hello, 1>
result: Ok(0)
result: Ok(1)
LINES
check "comm_process" timeout 60 "$b/examples/comm_process"

# Placement: one line per worker, and a warning when a rank has fewer cores than workers.
if timeout 60 "$b/examples/comm_hello" -w 2 --report-bindings >/dev/null 2>"$got" &&
   [ "$(grep -cE '^tide: rank 0 worker [01] host [^ ]+ pus [0-9,-]+$' "$got")" -eq 2 ]; then
  echo "ok: --report-bindings: $(tr '\n' ' ' <"$got")"
else cat "$got"; echo "FAIL: --report-bindings"; status=1; fi
if "$b/tests/run_mpi" 2 "$b/examples/comm_hello" -w 1 --report-bindings >/dev/null 2>"$got" &&
   grep -qE '^tide: rank 0 worker 0 host ' "$got" && grep -qE '^tide: rank 1 worker 1 host ' "$got"; then
  echo "ok: --report-bindings under mpirun"
else cat "$got"; echo "FAIL: --report-bindings under mpirun"; status=1; fi
# hwloc's topology leaves out its x86 component (a migration per PU to read cpuid) and
# plugins, unless the user names components: seen in hwloc's own account of what it enables
# (HWLOC_COMPONENTS_VERBOSE), where hwloc has an x86 component at all.
HWLOC_COMPONENTS_VERBOSE=1 timeout 60 "$b/examples/comm_hello" -w 2 >/dev/null 2>"$got"
if grep -q "Registered discovery component .x86'" "$got"; then
  if grep -q "Final list of enabled discovery components: linux" "$got" &&
     ! grep "Final list" "$got" | grep -q x86 &&
     HWLOC_COMPONENTS=linux,x86 HWLOC_COMPONENTS_VERBOSE=1 timeout 60 "$b/examples/comm_hello" \
       -w 2 >/dev/null 2>"$got" && grep "Final list" "$got" | grep -q x86; then
    echo "ok: hwloc's x86 component left out, and kept when the user names it"
  else cat "$got"; echo "FAIL: hwloc's components"; status=1; fi
fi
if command -v taskset >/dev/null 2>&1; then
  if timeout 60 taskset -c 0 "$b/examples/comm_hello" -w 2 >/dev/null 2>"$got" &&
     grep -q "was given 1 core for 2 workers" "$got" && grep -q -- "--bind-to none" "$got"; then
    echo "ok: warning for 2 workers on 1 core"
  else cat "$got"; echo "FAIL: no warning for 2 workers on 1 core"; status=1; fi
fi

# comm_bench, a few MiB a measurement: both tables whole (raw MPI's window of nonblocking
# sends included), and its wrong uses refused with a message.
if "$b/tests/run_mpi" 2 "$b/examples/comm_bench" --reps 1 --mib 4 >"$got" 2>&1 &&
   [ "$(grep -cE '^ +(8|1024|65536) B +[0-9.]+ us +[0-9.]+ us +[0-9.]+$' "$got")" = 3 ] &&
   [ "$(grep -cE '^ +(64|256|1024) KiB( +[0-9.]+ GB/s){3}( +[0-9.]+){2}$' "$got")" = 3 ]; then
  echo "ok: mpirun -n 2 comm_bench --reps 1 --mib 4"
else cat "$got"; echo "FAIL: mpirun -n 2 comm_bench --reps 1 --mib 4"; status=1; fi
for bad in "--mib 0" "--mib x" "--reps 0" "--only nothing"; do
  if "$b/tests/run_mpi" 2 "$b/examples/comm_bench" $bad >"$got" 2>&1; then
    echo "FAIL: comm_bench $bad exited 0"; status=1
  elif grep -q "comm_bench: " "$got"; then echo "ok: comm_bench $bad: $(grep -m1 "comm_bench: " "$got")"
  else cat "$got"; echo "FAIL: comm_bench $bad: no message"; status=1; fi
done
if timeout 60 "$b/examples/comm_bench" --reps 1 --mib 1 >"$got" 2>&1; then
  echo "FAIL: comm_bench on one rank exited 0"; status=1
elif grep -q "run it on 2 ranks" "$got"; then echo "ok: comm_bench on one rank: $(cat "$got")"
else cat "$got"; echo "FAIL: comm_bench on one rank: no message"; status=1; fi

# Bad arguments: a clear message and a non-zero exit, never a hang.
for bad in "-w 0" "-w abc" "--bind bogus" "stray"; do
  if timeout 20 "$b/examples/comm_hello" $bad >"$got" 2>&1; then
    echo "FAIL: comm_hello $bad exited 0"; status=1
  elif grep -q "comm_hello: " "$got"; then echo "ok: comm_hello $bad: $(cat "$got")"
  else cat "$got"; echo "FAIL: comm_hello $bad: no message"; status=1; fi
done
exit $status
