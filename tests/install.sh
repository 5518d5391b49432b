#!/bin/sh
# SPDX-License-Identifier: MIT
# A program built against an installed tide exactly as the README says:
#   mpicc prog.c $(pkg-config --cflags --libs tide)
# (installed with DESTDIR into a scratch directory; pkg-config is pointed there). The old
# order, with the libraries before prog.c, linked nothing on Debian (gcc passes
# --as-needed), so that is checked to fail the same way, naming a tide symbol.
set -u
# A sanitizer build's library needs its runtime loaded first, which a plain program
# built the README's way does not do: this is a test of the plain build.
[ "${TIDE_SANITIZED:-0}" = 1 ] && { echo "skipped: sanitizer build"; exit 77; }
b=${TIDE_BUILDDIR:-.}
src=${TIDE_SRCDIR:-.}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
if ! make -s -C "$b" install DESTDIR="$d/root" >"$d/log" 2>&1; then
  cat "$d/log"; echo "FAIL: make install"; exit 1
fi
libdir=$(sed -n 's/^libdir=//p' "$b/tide.pc")
prefix=$(sed -n 's/^prefix=//p' "$b/tide.pc")
libdir=$(echo "$libdir" | sed "s|\${exec_prefix}|$prefix|; s|\${prefix}|$prefix|")
export PKG_CONFIG_PATH="$d/root$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$d/root"
pkg-config --exists tide || { echo "FAIL: pkg-config does not find the installed tide.pc"; exit 1; }
if [ -n "$(find "$d/root" -path '*/man7/tide-options.7')" ]; then echo "ok: tide-options(7) installed"
else fail "the tide-options(7) man page is not installed"; fi
cp "$src/examples/hello.c" "$d/prog.c"
cd "$d" || exit 1
# shellcheck disable=SC2046
if mpicc prog.c -o prog $(pkg-config --cflags --libs tide) >"$d/cc.log" 2>&1; then
  echo "ok: mpicc prog.c \$(pkg-config --cflags --libs tide)"
else
  cat "$d/cc.log"; fail "the README's build line"
fi
if [ -x prog ]; then
  LD_LIBRARY_PATH="$d/root$libdir" timeout 30 ./prog -w 2 --bind none >"$d/out" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -c 'hello' "$d/out")" -eq 10 ]; then
    echo "ok: the program runs (-w 2: 10 greetings)"
  else
    cat "$d/out"; fail "the installed program (exit $rc)"
  fi
fi
# shellcheck disable=SC2046
if mpicc $(pkg-config --cflags --libs tide) prog.c -o prog2 >"$d/cc2.log" 2>&1; then
  echo "note: libraries before prog.c linked here too (this toolchain does not pass --as-needed)"
elif grep -q "undefined reference to .tide_" "$d/cc2.log"; then
  echo "ok: libraries before prog.c fail to link, as the README warns"
else
  cat "$d/cc2.log"; fail "libraries before prog.c failed for another reason"
fi
exit $status
