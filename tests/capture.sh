#!/bin/sh
# SPDX-License-Identifier: MIT
# A stream captured in one job is replayed in other jobs with other worker counts (threads
# and MPI ranks) and gives the same records at the same times; broken capture files are
# refused with a message naming the file.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
p=$b/tests/capture_replay
dir=$(mktemp -d); trap 'rm -rf "$dir" "$out"' EXIT
want=$dir/want; got=$dir/got

# the totals, computed here: epoch e holds 1000 e + i for i < 50 + 10 e
for kind in numbers strings; do
  awk -v kind=$kind 'BEGIN { for (e = 0; e < 5; e++) { n = 50 + 10 * e; s = 0;
    for (i = 0; i < n; i++) s += 1000 * e + i; printf "epoch %d: %d %s, sum %d\n", e, n, kind, s } }'
done | sort >"$want"

check() {
  name=$1; shift
  if ! "$@" >"$got" 2>"$got.err"; then cat "$got" "$got.err"; fail "$name exited non-zero"
  elif sort "$got" | diff -u "$want" - >/dev/null; then echo "ok: $name"
  else sort "$got" | diff -u "$want" - | head -20; fail "$name"; fi
}

check "capture -w 3" timeout 60 "$p" capture "$dir/a" -w 3 --bind none
for w in 1 2 3 4; do
  check "replay -w $w of a 3-worker capture" timeout 60 "$p" replay "$dir/a" -w $w --bind none
done
check "mpirun -n 2 -w 1 replay of a 3-worker capture" "$run" 2 "$p" replay "$dir/a" -w 1 --bind none
check "mpirun -n 2 -w 2 capture" "$run" 2 "$p" capture "$dir/b" -w 2 --bind none
check "replay -w 3 of a 2x2 capture" timeout 60 "$p" replay "$dir/b" -w 3 --bind none
check "mpirun -n 3 -w 1 replay of a 2x2 capture" "$run" 3 "$p" replay "$dir/b" -w 1 --bind none

expect_failure "replay of a missing capture" "Replay: cannot open '$dir/none.0': No such file" \
  timeout 20 "$p" replay "$dir/none" -w 2 --bind none
expect_failure "replay as the wrong type" "Replay: '$dir/a.0' holds u64 records, not str" \
  timeout 20 "$p" replay-as-str "$dir/a" -w 1 --bind none
cp "$dir/a.0" "$dir/c.0"; cp "$dir/a.1" "$dir/c.1"
for i in 0 1 2; do cp "$dir/a-str.$i" "$dir/c-str.$i"; done
expect_failure "replay with a file missing" "Replay: cannot open '$dir/c.2'" \
  timeout 20 "$p" replay "$dir/c" -w 1 --bind none
head -c 200 "$dir/a.2" >"$dir/c.2"
expect_failure "replay of a file cut short" "Replay: '$dir/c.2' \(ends before its stream did\|is cut short\)" \
  timeout 20 "$p" replay "$dir/c" -w 2 --bind none
expect_failure "mpirun replay of a file cut short" "Replay: '$dir/c.2'" \
  "$run" 2 "$p" replay "$dir/c" -w 1 --bind none
# the header alone (39 bytes for u64 records): the stream's end never written
head -c 39 "$dir/a.2" >"$dir/c.2"
expect_failure "replay of a capture stopped early" "Replay: '$dir/c.2' ends before its stream did" \
  timeout 20 "$p" replay "$dir/c" -w 2 --bind none
echo "not a capture" >"$dir/c.2"
expect_failure "replay of a file that is not a capture" "Replay: '$dir/c.2' is \(not a tide capture file\|cut short\)" \
  timeout 20 "$p" replay "$dir/c" -w 2 --bind none
cp "$dir/b.0" "$dir/c.2"
expect_failure "replay mixing two captures" "Replay: '$dir/c.2' is file 0 of 4, not file 2 of 3" \
  timeout 20 "$p" replay "$dir/c" -w 1 --bind none
expect_failure "capture into a directory that does not exist" "Capture: cannot open '$dir/no/such/x.0'" \
  timeout 20 "$p" capture "$dir/no/such/x" -w 1 --bind none

# Forged files (one worker's capture of u64 records, depth 1): each names what is wrong.
byte() { printf "\\$(printf %03o "$1")"; }
le() { # le BYTES VALUE: VALUE (below 2^63) little-endian in BYTES bytes
  v=$2; i=0; while [ $i -lt "$1" ]; do byte $((v & 255)); v=$((v >> 8)); i=$((i + 1)); done
}
header() { # header PEERS TYPE SIZE
  printf 'tidecap\n'; le 4 1; le 4 0; le 4 "$1"; le 4 1; le 8 "$3"; le 4 ${#2}; printf %s "$2"
}
# the strings beside them (the program replays PREFIX-str too): a valid empty capture
{ header 1 str 0; printf P; le 8 1; le 8 0; le 8 -1; printf E; } >"$dir/f-str.0"
forged() { # forged NAME PATTERN: $dir/f.0 holds the forged file
  expect_failure "replay of a forged file: $1" "Replay: '$dir/f.0' $2" \
    timeout 20 "$p" replay "$dir/f" -w 1 --bind none
}
header 0 u64 8 >"$dir/f.0"; printf E >>"$dir/f.0"
forged "zero workers" "is cut short or not a capture file (the header"
{ header 1 u64 8; printf M; le 8 0; le 8 1099511627776; le 8 7; } >"$dir/f.0"
forged "a record count past the file" "is cut short or not a capture file (a record count larger"
{ header 1 u64 8; printf P; le 8 1; le 8 0; le 8 -2; printf E; } >"$dir/f.0"
forged "a count below zero" "is cut short or not a capture file (a progress change that takes a count below zero"
{ header 1 u64 8; printf E; } >"$dir/f.0"
forged "the end while the frontier holds a time" "ends while its frontier still holds time"
{ header 1 u64 8; printf P; le 8 2; le 8 0; le 8 -1; le 8 5; le 8 1;
  printf M; le 8 2; le 8 1; le 8 7; printf P; le 8 1; le 8 5; le 8 -1; printf E; } >"$dir/f.0"
forged "records behind the frontier" "has records at time 2 after its frontier had passed it"
{ header 1 str 0; printf M; le 8 0; le 8 1; le 4 4294967280; printf abc; } >"$dir/f.0"
expect_failure "replay of a forged file: a string longer than the file" \
  "Replay: '$dir/f.0' is cut short or not a capture file (a record longer than the rest" \
  timeout 20 "$p" replay-as-str "$dir/f" -w 1 --bind none
exit $status
