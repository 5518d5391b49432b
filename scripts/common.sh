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
