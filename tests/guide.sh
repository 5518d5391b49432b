#!/bin/sh
# SPDX-License-Identifier: MIT
# The guide's programs (doc/guide/*.md): every block fenced as ```c guide/NAME.c is
# compiled against the build tree with warnings as errors, and run with -w 1, -w 3 and on
# 2 ranks x 2 workers (with the options the fence line gives after the name, as in
# ```c guide/NAME.c --memory 1M), in a scratch directory; what it prints must be the
# ```output block that follows it.
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
src=${TIDE_SRCDIR:-.}
# A sanitizer build's library needs its runtime loaded first, which a program built plainly
# does not do (as in install.sh).
[ "${TIDE_SANITIZED:-0}" = 1 ] && { echo "skipped: sanitizer build"; exit 77; }
cc=$(sed -n 's/^CC = //p' "$b/Makefile")
d=$(mktemp -d); trap 'rm -rf "$d" "$out"' EXIT
n=0
for md in "$src"/doc/guide/*.md; do
  # split the chapter into its programs and their expected outputs
  awk -v dir="$d" '
    /^```c guide\// { name = substr($2, 7); file = dir "/" name; prog = name; body = 1; printf "" > file
                      args = ""; for (i = 3; i <= NF; i++) args = args " " $i
                      printf "%s\n", args > (file ".args"); next }
    /^```output$/ && prog != "" { file = dir "/" prog ".want"; body = 1; printf "" > file; next }
    /^```/ && body { body = 0; if (file ~ /\.want$/) prog = ""; next }
    body { print >> file }' "$md"
done
for c in "$d"/*.c; do
  [ -e "$c" ] || continue
  name=$(basename "$c" .c)
  n=$((n + 1))
  if [ ! -f "$d/$name.c.want" ]; then fail "$name.c has no output block after it"; continue; fi
  # shellcheck disable=SC2086
  if ! $cc -std=c11 -Wall -Wextra -Werror -I"$src/include" -I"$b/include" "$c" -o "$d/$name" \
       -L"$b/.libs" -ltide -Wl,-rpath,"$b/.libs" >"$d/cc.log" 2>&1; then
    cat "$d/cc.log"; fail "$name.c does not compile"; continue
  fi
  args=$(cat "$c.args")
  for shape in "1 1" "1 3" "2 2"; do
    set -- $shape
    # shellcheck disable=SC2086
    if [ "$1" = 1 ]; then (cd "$d" && timeout 60 "$d/$name" -w "$2" --bind none $args) >"$d/got" 2>"$d/err"
    else (cd "$d" && "$run" "$1" "$d/$name" -w "$2" --bind none $args) >"$d/got" 2>"$d/err"; fi
    rc=$?
    if [ $rc -eq 0 ] && diff -u "$d/$name.c.want" "$d/got" >"$d/diff"; then
      echo "ok: $name -n $1 -w $2$args"
    else
      cat "$d/diff" "$d/err" | head -20; fail "$name -n $1 -w $2$args (exit $rc)"
    fi
  done
done
[ $n -gt 0 ] || fail "no programs found in doc/guide"
exit $status
