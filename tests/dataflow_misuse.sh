#!/bin/sh
# SPDX-License-Identifier: MIT
# Misuse of the model stops the run with a message naming the operator and the times, in
# threads and under mpirun, with a non-zero exit and no hang.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
p=$b/tests/dataflow_misuse
cases() {
  cat <<'CASES'
no-capability|operator 'Sender' sends without a capability
dropped-capability|operator 'Sender' sends with a capability (at 0) it has already dropped
before-capability|operator 'Sender' sends at time 3, which its capability (at 5) does not cover
downgrade-backwards|operator 'Sender': cannot downgrade a capability from 5 to 3
delay-backwards|operator 'Sender': cannot delay a capability from 5 to 3
type-mismatch|dataflow 'misuse': type mismatch: 'ToStream' produces f64 records but 'loop variable 1' expects u64 records
stuck-loop|Spinner
input-backwards|advance_to(2) after advance_to(5)
input-extend-bytes|input of dataflow 'misuse': tide_input_extend on bytes records, which have no fixed size (send them with tide_input_send)
input-extend-closed|input handle: tide_input_extend after the input was closed
scope-ended|dataflow 'misuse': tide_enter in scope 'Inner' after tide_scope_end()
to-stream-no-value-size|ToStream: type blob is variable-length and does not give its value_size
value-too-large|type 'wide', whose decoded values take 128 bytes: the operators decode into TIDE_VALUE_MAX (64) bytes
no-dataflow-end|: dataflow 'misuse' was begun but never built
returns-before-build|finished (its function returned 5) after building 0 dataflows, so dataflow 'misuse' (number 1)\|on channel 1, which it never allocated
fails-after-build|case fails-after-build ran to the end (rc 1)
summary-send|operator 'TooEarly' sends at time 0 from input 0's capability at 0, which its summary (input 0 -> output 0: (+1)) does not allow
summary-retain|operator 'TooEarly' keeps a capability at time 0 from input 0's capability at 0, which its summary
reused-capability|operator 'Sender' sends with a capability it has already dropped (its slot holds another capability now)
wrong-output|operator 'Sender' sends on output 0 with a capability for output 1 only
different-dataflows|dataflow 'misuse' differs between workers
delay-total-nested|DelayTotal: times in a nested scope are only partially ordered
batch-hash-bytes|operator 'Exchange' input 0 exchanges bytes records by a batch hash, which needs fixed-size records
map-batch-bytes|MapBatch: maps arrays of fixed-size records, and bytes records have no fixed size; use tide_map
hash-u64-small|operator 'Exchange' input 0 exchanges u32 records of 4 bytes by tide_hash_u64, which reads 8
fold-count-small|tide_aggregate: tide_fold_count counts in a uint64_t state, and state_size is 4 bytes
extend-bytes|operator 'Sender': tide_session_extend on variable-length records
extend-huge|operator 'Sender': tide_session_extend of 2305843009213693953 records
give-str-u64|operator 'Sender': tide_session_give_str on output 0, whose records are 'u64', not strings
session-kept|operator 'Sender': tide_session_give on a session of output 0 after its operator's logic returned
table-get-n-str|tide_table_get_n: its keys have no fixed size (use tide_table_get)
desc-gap|tide_operator 'Gappy': input 2 given after an empty input 1
desc-no-logic|tide_operator 'Idle': no logic
desc-no-scope|tide_operator 'Nowhere': no inputs and no scope (a source needs .scope)
desc-stray-pact|tide_operator 'Stray': a pact for port 1, which has no input
read-no-parse|Reader: no parse function
CASES
}
# (returns-before-build: the worker that returned may see its peer's first message for the
# dataflow it never built before the peer sees its announcement; either message names it.)
cases | while IFS="|" read -r c pattern; do
  expect_failure "$c -w 2" "$pattern" timeout 30 "$p" "$c" -w 2 --bind none
  expect_failure "mpirun -n 2 $c" "$pattern" "$run" 2 "$p" "$c" -w 1 --bind none
  [ $status -eq 0 ] || exit 1
done || exit 1

# Workers sharing their rank's trackers compare graphs as they join them.
# Whichever worker makes the rank's trackers is the one the others are compared with: worker
# 2's Filter against worker 0's or 1's Map, or (worker 2 first) their Map against its Filter.
expect_failure "different-dataflows -w 3 --progress-share 2" \
  "dataflow 'misuse' differs between workers: operator 1 ('\(Filter\|Map\)', 1 inputs, 1 outputs, in scope 'misuse') on worker [012] is not what worker [012] has there" \
  timeout 30 "$p" different-dataflows -w 3 --bind none --progress-share 2
expect_failure "mpirun -n 2 different-dataflows -w 2 --progress-share 2" \
  "dataflow 'misuse' differs between workers" \
  "$run" 2 "$p" different-dataflows -w 2 --bind none --progress-share 2
[ $status -eq 0 ] || exit 1

# A wrong line of a file read by tide_read_files (a line a call) or tide_read_text (runs of
# lines) is named by its number, whichever worker reads it: the first and only one (-w 1),
# one whose slice starts after the file's start (-w 2, 3, two ranks), a pipe read whole
# (the lines counted as read); tide_read_text's parser points at the wrong byte of its run
# (x), or does not, which names the run's first line (y).
dir=$(mktemp -d)
# (line 30001 of 40000, 230 KB: several of tide_read_text's runs before it, in each slice)
awk 'BEGIN { for (i = 1; i <= 40000; i++) print i, (i == 30001 ? "x" : "") }' >"$dir/bad.txt"
printf '1\n2 y\n3\n' >"$dir/noplace.txt"
for c in bad-line bad-text; do
  for w in 1 2 3; do
    expect_failure "$c -w $w" "Reader: $dir/bad.txt:30001: not a number" \
      timeout 30 "$p" $c "$dir/bad.txt" -w $w --bind none
  done
  expect_failure "mpirun -n 2 $c" "Reader: $dir/bad.txt:30001: not a number" \
    "$run" 2 "$p" $c "$dir/bad.txt" -w 1 --bind none
  expect_failure "$c from a pipe" "Reader: /dev/stdin:30001: not a number" \
    sh -c "cat '$dir/bad.txt' | timeout 30 '$p' $c /dev/stdin -w 2 --bind none"
done
expect_failure "bad-text, not said where" "Reader: $dir/noplace.txt:1: no place" \
  timeout 30 "$p" bad-text "$dir/noplace.txt" -w 1 --bind none
expect_failure "bad-text from a pipe, not said where" "Reader: /dev/stdin:1: no place" \
  sh -c "cat '$dir/noplace.txt' | timeout 30 '$p' bad-text /dev/stdin -w 1 --bind none"
rm -rf "$dir"
[ $status -eq 0 ] || exit 1

# What the program still holds when its function returns is released (as open inputs are
# closed), so the job ends normally.
c=returns-holding
for shape in "-w 2" "mpirun"; do
  echo "== $c $shape"
  if [ "$shape" = mpirun ]; then "$run" 2 "$p" $c -w 1 --bind none </dev/null >"$out" 2>&1
  else timeout 30 "$p" $c -w 2 --bind none </dev/null >"$out" 2>&1; fi
  rc=$?
  if [ $rc -ne 0 ] || ! grep -q "case $c ran to the end (rc 0)" "$out"; then
    cat "$out"; fail "$c $shape: exit $rc"; exit 1
  fi
done
exit $status
