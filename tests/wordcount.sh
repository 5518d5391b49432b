#!/bin/sh
# SPDX-License-Identifier: MIT
# wordcount on the bundled text gives, in every shape, exactly the counts of a sequential
# count written here with tr, sort and uniq (ties broken by word).
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
d=${TIDE_SRCDIR:-.}/examples/data
files="$d/rivers.txt $d/workshop.txt $d/night.txt"
got=$(mktemp); want=$(mktemp); trap 'rm -f "$got" "$want" "$out"' EXIT

e=0
for f in $files; do
  tr -cs 'A-Za-z' '\n' <"$f" | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c |
    awk '{ print $1, $2 }' | sort -k1,1nr -k2,2 >"$want.words"
  printf 'epoch %d (%s): %d words, %d distinct\n' $e "$f" \
    "$(awk '{ s += $1 } END { print s }' "$want.words")" "$(wc -l <"$want.words")"
  awk '{ printf "  %7d %s\n", $1, $2 }' "$want.words"
  e=$((e + 1))
done >"$want"
rm -f "$want.words"

check() {
  name=$1; shift
  if ! "$@" >"$got" 2>"$got.err"; then cat "$got" "$got.err"; fail "$name exited non-zero"
  elif sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' "$got" | diff -u "$want" - >/dev/null; then
    echo "ok: $name"
  else sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' "$got" | diff -u "$want" - | head -20; fail "$name"; fi
  rm -f "$got.err"
}
for w in 1 2 3; do
  check "wordcount -w $w" timeout 60 "$b/examples/wordcount" --all $files -w $w --bind none
done
for shape in "2 1" "2 2" "3 1"; do
  set -- $shape
  check "mpirun -n $1 wordcount -w $2" "$run" $1 "$b/examples/wordcount" --all $files -w $2 --bind none
done
check "wordcount -w 2 --memory 1M" timeout 60 "$b/examples/wordcount" --all $files -w 2 --bind none --memory 1M
check "mpirun -n 2 wordcount -w 2 --memory 1M" "$run" 2 "$b/examples/wordcount" --all $files -w 2 --bind none --memory 1M
# Standard input, a pipe: read by one worker of each rank (under mpirun only rank 0 has it),
# each line counted once. 400 copies of a text (650 KB: many reads of the pipe); the
# expected counts are those of the same bytes read as a file.
for i in $(seq 400); do cat "$d/rivers.txt"; done >"$got.in"
"$b/examples/wordcount" --all "$got.in" --bind none |
  sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' -e "s|($got.in)|(/dev/stdin)|" >"$want"
for w in 1 2 3; do
  check "wordcount -w $w of a pipe" sh -c \
    "cat '$got.in' | timeout 60 '$b/examples/wordcount' --all /dev/stdin -w $w --bind none"
done
rm -f "$got.in"
# Under mpirun standard input is rank 0's alone (MPICH's Hydra gives the others a pipe that
# never ends; it also gives up on a rank that reads a large input slowly: a small one here).
"$b/examples/wordcount" --all "$d/rivers.txt" --bind none |
  sed -e 's/, at [0-9.]* s$//' -e '/^wordcount: /d' -e "s|($d/rivers.txt)|(/dev/stdin)|" >"$want"
check "mpirun -n 2 wordcount -w 2 of standard input" sh -c \
  "$run 2 '$b/examples/wordcount' --all /dev/stdin -w 2 --bind none <'$d/rivers.txt'"
expect_failure "wordcount with a missing file" "wordcount: cannot open '/nonexistent.txt': No such file" \
  timeout 20 "$b/examples/wordcount" "$d/rivers.txt" /nonexistent.txt
expect_failure "mpirun wordcount with a missing file" "wordcount: cannot open '/nonexistent.txt'" \
  "$run" 2 "$b/examples/wordcount" /nonexistent.txt
expect_failure "wordcount of a directory" "wordcount: cannot read '$d' (line 1): Is a directory" \
  timeout 20 "$b/examples/wordcount" "$d"
expect_failure "wordcount -w 2 of a directory" "wordcount: cannot read '$d' (line 1): Is a directory" \
  timeout 20 "$b/examples/wordcount" "$d" -w 2
expect_failure "wordcount without files" "usage: wordcount" timeout 20 "$b/examples/wordcount"
expect_failure "wordcount --top x" "not a number" timeout 20 "$b/examples/wordcount" --top x "$d/night.txt"
expect_failure "wordcount --top 2^67" "not a number" \
  timeout 20 "$b/examples/wordcount" --top 99999999999999999999 "$d/night.txt"
expect_failure "ranks given different files" "the workers were not given the same program arguments" \
  "$run" 1 "$b/examples/wordcount" "$d/night.txt" --bind none : -n 1 "$b/examples/wordcount" \
  "$d/night.txt" "$d/rivers.txt" --bind none
exit $status
