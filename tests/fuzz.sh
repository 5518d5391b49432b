#!/bin/sh
# SPDX-License-Identifier: MIT
# The decoders' fuzz targets as tests: their seeds, every input kept in tests/fuzz/ (inputs
# that once broke a decoder), then a bounded run of random mutations. scripts/fuzz runs the
# same targets under libFuzzer.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
dir=$(mktemp -d); trap 'rm -rf "$dir" "$out"' EXIT
wire=$b/tests/fuzz_wire
"$wire" --seeds "$dir" || fail "fuzz_wire could not write its seeds"
timeout 120 "$wire" "$dir"/seed-* $(ls "$TIDE_SRCDIR"/tests/fuzz/wire/* 2>/dev/null) ||
  fail "fuzz_wire: a seed or a kept input"
n=200000; [ "${TIDE_SANITIZED:-0}" = 1 ] && n=50000
timeout 300 "$wire" --mutate $n || fail "fuzz_wire: $n mutated frames"
# replay: mutated capture files, each in a child process (see tests/fuzz_capture.c)
n=2000; [ "${TIDE_SANITIZED:-0}" = 1 ] && n=400
if ! timeout 600 "$b/tests/fuzz_capture" "$dir" $n $(ls "$TIDE_SRCDIR"/tests/fuzz/capture/* 2>/dev/null); then
  for f in "$dir"/broke-*; do [ -f "$f" ] && { echo "$f:"; od -An -tx1 "$f"; }; done
  fail "fuzz_capture: $n mutated capture files"
fi
exit $status
