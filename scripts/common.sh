# SPDX-License-Identifier: MIT
# Sourced by the scripts: tide_build DIR [CONFIGURE ARGS...] configures (once) and builds
# tide out of tree in $root/_build/DIR, and leaves its path in $build.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

tide_build() {
  local dir=$1; shift
  if [ ! -x "$root/configure" ] || [ "$root/configure.ac" -nt "$root/configure" ] ||
     [ "$root/Makefile.am" -nt "$root/Makefile.in" ]; then
    (cd "$root" && autoreconf -fi >/dev/null 2>&1) || { echo "tide: autoreconf failed" >&2; return 1; }
  fi
  build=$root/_build/$dir
  mkdir -p "$build"
  if [ ! -f "$build/Makefile" ]; then
    (cd "$build" && "$root/configure" -q "$@") || return 1
  fi
  make -s -C "$build" -j"$jobs" >/dev/null
}

# Settings for running Open MPI as root and with more ranks than cores: for test and demo
# machines, never exported to the user's own runs.
mpi_test_env() {
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_rmaps_base_oversubscribe=1
}

# task_bench_build [PROGRAMS...]: Task Bench's core library (and the named programs of its
# mpi/ folder, e.g. nonblock) built from a copy of TASK_BENCH_DIR (default: ../shared's
# copy beside the clone) in $root/_build/task-bench, so that the source stays untouched;
# leaves that path in $task_bench. Fails, saying so, when there is no Task Bench.
task_bench_build() {
  local src=${TASK_BENCH_DIR:-$root/../shared/task-bench}
  task_bench=$root/_build/task-bench
  if [ ! -f "$src/core/core_c.h" ]; then
    echo "tide: no Task Bench in $src (set TASK_BENCH_DIR to a clone of github.com/StanfordLegion/task-bench)" >&2
    return 1
  fi
  if [ ! -f "$task_bench/core/libcore_s.a" ]; then
    rm -rf "$task_bench" && mkdir -p "$task_bench" && cp -R "$src/." "$task_bench/" &&
      make -s -C "$task_bench/core" -j"$jobs" >/dev/null 2>&1 ||
      { echo "tide: building Task Bench's core library in $task_bench failed" >&2; return 1; }
  fi
  local p
  for p in "$@"; do
    [ -x "$task_bench/mpi/$p" ] || make -s -C "$task_bench/mpi" "$p" >/dev/null 2>&1 ||
      { echo "tide: building Task Bench's mpi/$p failed" >&2; return 1; }
  done
}
