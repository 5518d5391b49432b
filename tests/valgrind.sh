#!/bin/sh
# SPDX-License-Identifier: MIT
# The examples that run without an MPI launcher, under valgrind: no invalid access, no
# uninitialized bytes reaching a syscall, no leak.
set -u
b=${TIDE_BUILDDIR:-.}
if ! command -v valgrind >/dev/null 2>&1; then
  echo "SKIP: valgrind is not installed (apt-get install valgrind)"; exit 77
fi
status=0
run() {
  if "$b/libtool" --mode=execute valgrind -q --error-exitcode=9 --leak-check=full \
       --errors-for-leak-kinds=definite,indirect "$@" >/dev/null 2>"$b/tests/valgrind.err"; then
    echo "ok: $*"
  else
    cat "$b/tests/valgrind.err"; echo "FAIL: valgrind $*"; status=1
  fi
}
run "$b/examples/comm_hello" -w 3
run "$b/examples/comm_hello" -w 2 --bind none
run "$b/examples/comm_process"
run "$b/examples/simple"
run "$b/examples/hello" -w 3 --bind none
run "$b/examples/hello" -w 2 --bind none --trace "$b/tests/valgrind-trace.json" --watch 0.05
rm -f "$b/tests/valgrind-trace.json"
if ! grep -q "^[^#]*-DTIDE_HAVE_OTF2" "$b/Makefile"; then
  echo "skipped: the OTF2 trace (built without OTF2)"
else
  rm -rf "$b/tests/valgrind-trace.otf2" "$b/tests/valgrind-trace" "$b/tests/valgrind-trace.def"
  run "$b/examples/hello" -w 2 --bind none --trace "$b/tests/valgrind-trace.otf2"
  rm -rf "$b/tests/valgrind-trace.otf2" "$b/tests/valgrind-trace" "$b/tests/valgrind-trace.def"
fi
run "$b/tests/stuck" unordered 1 -w 2 --bind none --watch 0.1
run "$b/examples/barrier" 2000 -w 2 --bind none
run "$b/examples/op_source"
run "$b/examples/wordcount" --all "${TIDE_SRCDIR:-.}/examples/data/rivers.txt" "${TIDE_SRCDIR:-.}/examples/data/night.txt" -w 2 --bind none
run "$b/examples/op_maximum" --show
run "$b/examples/op_concat" --show
run "$b/examples/op_concat" --without-notificator --show
run "$b/examples/bfs" 2000 8000 --levels -w 2 --bind none
run "$b/examples/distinct" -w 2 --bind none
run "$b/examples/hashjoin" 100 5000 1000 -w 2 --bind none
run "$b/examples/unionfind" 1000 2000 300 -w 2 --bind none
run "$b/examples/loopdemo" 2000 1 -w 2 --bind none
run "$b/examples/iterate" -w 2 --bind none --dot /dev/null
run "$b/examples/unordered" -w 2 --bind none
run "$b/examples/skew" 5000 2 --fanout 20 -w 2 --bind none --memory 1M
run "$b/examples/skew" 5000 2 --iter --delay -w 2 --bind none --memory 1M
run "$b/tests/capture_replay" capture "$b/tests/valgrind-capture" -w 2 --bind none
run "$b/tests/capture_replay" replay "$b/tests/valgrind-capture" -w 3 --bind none
if [ -x "$b/examples/task_bench" ]; then # built with --with-task-bench
  run "$b/examples/task_bench" -steps 20 -width 6 -type nearest -radix 3 -and -steps 10 \
    -width 4 -type fft -output 32 -w 2 --bind none
  run "$b/examples/task_bench" -steps 12 -width 5 -type stencil_1d --timestep-epochs -w 3 --bind none
fi
# Two ranks, their frames through the shared rings (--shm) and MPI: errors only (Open MPI
# leaves its own allocations at exit, and PMIx writes uninitialised padding to its
# sockets, which valgrind.supp names), each rank's report apart.
if [ -x "$b/tests/run_mpi" ] && grep -q "^kind=openmpi" "$b/tests/run_mpi"; then
  rm -rf "$b/tests/valgrind-ranks"
  if TIDE_TEST_TIMEOUT=300 TIDE_RANK_OUTPUT="$b/tests/valgrind-ranks" "$b/tests/run_mpi" 2 \
       valgrind -q --error-exitcode=9 --leak-check=no \
       --suppressions="${TIDE_SRCDIR:-.}/tests/valgrind.supp" \
       "$b/examples/pagerank" 1000 5000 -w 2 --bind none --stats >/dev/null 2>"$b/tests/valgrind.err" &&
     grep -q "shm_frames [1-9]" "$b"/tests/valgrind-ranks/1/rank.0/stderr; then
    echo "ok: mpirun -n 2 pagerank 1000 5000 -w 2 (through the shared rings)"
  else
    cat "$b/tests/valgrind.err" "$b"/tests/valgrind-ranks/1/rank.*/stderr
    echo "FAIL: valgrind under mpirun: pagerank on 2 ranks"; status=1
  fi
  rm -rf "$b/tests/valgrind-ranks"
fi
rm -f "$b/tests/valgrind-capture".* "$b/tests/valgrind-capture-str".*
rm -f "$b/tests/valgrind.err"
exit $status
