#!/bin/sh
# SPDX-License-Identifier: MIT
# The dataflow examples print exactly the README's and the seeds' lines, in threads, in one
# process with -w 2, and under mpirun (-n 2 -w 1, -n 2 -w 2, -n 3 -w 2). The order between
# workers is free, so outputs are compared as sorted sets of lines; under mpirun each
# rank's lines are read from a file of its own (per_rank: mpirun can splice ranks' lines).
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
e=$b/examples
got=$(mktemp); want=$(mktemp); trap 'rm -f "$got" "$want" "$out"' EXIT

check() {
  name=$1; shift
  if ! "$@" >"$got" 2>"$got.err"; then cat "$got" "$got.err"; fail "$name exited non-zero"; rm -f "$got.err"; return; fi
  rm -f "$got.err"
  if sort "$got" | diff -u "$want" - ; then echo "ok: $name"; else fail "$name"; fi
}

# hello with P workers in all: record r goes to worker r % P.
hello_lines() {
  r=0; while [ $r -lt 10 ]; do printf 'worker %d:\thello %d\n' $(( r % $1 )) $r; r=$((r+1)); done
}
seq_lines() { # PREFIX FIRST LAST
  i=$2; while [ $i -le $3 ]; do echo "$1 $i"; i=$((i+1)); done
}

seq_lines seen: 0 9 | sort >"$want"
check "simple" timeout 60 "$e/simple"

for w in 1 2 3; do
  hello_lines $w | sort >"$want"
  check "hello -w $w" timeout 60 "$e/hello" -w $w --bind none
done
for shape in "2 1" "2 2" "3 2"; do
  set -- $shape
  hello_lines $(( $1 * $2 )) | sort >"$want"
  check "mpirun -n $1 hello -w $2" per_rank $1 "$e/hello" -w $2 --bind none
done
# With -w 2, worker 0 prints hello 0, 2, 4, ... in that order, and worker 1 the odd ones.
if timeout 60 "$e/hello" -w 2 --bind none >"$got" &&
   [ "$(grep -c '^worker 0:	hello [02468]$' "$got")" -eq 5 ] &&
   [ "$(grep '^worker 0:' "$got" | tr -d '\n')" = "$(printf 'worker 0:\thello %d' 0 2 4 6 8)" ]; then
  echo "ok: hello -w 2: worker 0 in order"
else cat "$got"; fail "hello -w 2: worker 0's lines out of order"; fi

: >"$want"
check "op_increment" timeout 60 "$e/op_increment"
check "op_maximum" timeout 60 "$e/op_maximum"
check "op_concat" timeout 60 "$e/op_concat"
seq_lines seen: 1 10 | sort >"$want"
check "op_increment --show" timeout 60 "$e/op_increment" --show
seq_lines seen: 2 10 | sort >"$want"
check "op_maximum --show" timeout 60 "$e/op_maximum" --show
seq_lines number: 0 21 | sort >"$want"
check "op_source" timeout 60 "$e/op_source"
{ seq_lines seen: 0 9; seq_lines seen: 0 9; } | sort >"$want"
check "op_concat --show" timeout 60 "$e/op_concat" --show
check "op_concat --without-notificator --show" timeout 60 "$e/op_concat" --without-notificator --show

# unordered: records at 7, 3, 5 given in that order; each drop completes what it can.
cat <<'EOF' | sort >"$want"
record 7 at time 7
record 3 at time 3
record 5 at time 5
dropped 0: the times before 3 are complete
dropped 7: the times before 3 are complete
dropped 3: the times before 5 are complete
dropped 5: every time is complete
EOF
for w in 1 2 3; do
  check "unordered -w $w" timeout 60 "$e/unordered" -w $w --bind none
done
check "mpirun -n 2 unordered -w 1" per_rank 2 "$e/unordered" -w 1 --bind none
check "mpirun -n 3 unordered -w 2" per_rank 3 "$e/unordered" -w 2 --bind none

# barrier: finishes in every shape and reports its rounds once.
barrier_ok() {
  name=$1; shift
  if "$@" >"$got" 2>/dev/null && [ "$(grep -c '^5000 rounds in [0-9.]* s: [0-9]* rounds/s' "$got")" -eq 1 ]; then
    echo "ok: $name: $(cat "$got")"
  else cat "$got"; fail "$name"; fi
}
for w in 1 2 3; do barrier_ok "barrier -w $w" timeout 60 "$e/barrier" 5000 -w $w --bind none; done
for shape in "1 1" "2 1" "2 2" "3 1"; do
  set -- $shape
  barrier_ok "mpirun -n $1 barrier -w $2" "$run" $1 "$e/barrier" 5000 -w $2 --bind none
done
# with 64 notifications outstanding per worker (the notificator's heap)
barrier_ok "barrier 5000 64 -w 3" timeout 60 "$e/barrier" 5000 64 -w 3 --bind none
barrier_ok "mpirun -n 2 barrier 5000 64 -w 2" "$run" 2 "$e/barrier" 5000 64 -w 2 --bind none

# exchange: one line per worker, in every shape.
exchange_ok() {
  name=$1 peers=$2; shift 2
  if "$@" >"$got" 2>/dev/null &&
     [ "$(grep -cE '^[0-9.]+s	worker [0-9]+ complete; rate: [0-9.e+]+ records/s$' "$got")" -eq "$peers" ]; then
    echo "ok: $name: $(head -1 "$got")"
  else cat "$got"; fail "$name"; fi
}
for w in 1 2; do exchange_ok "exchange -w $w" $w timeout 60 "$e/exchange" 1000 50 -w $w --bind none; done
for shape in "2 1" "2 2" "3 1"; do
  set -- $shape
  exchange_ok "mpirun -n $1 exchange -w $2" $(( $1 * $2 )) per_rank $1 "$e/exchange" 1000 50 -w $2 --bind none
done

# Bad arguments: a clear message, a non-zero exit, no hang.
expect_failure "barrier without ROUNDS" "usage: barrier ROUNDS" timeout 20 "$e/barrier"
expect_failure "barrier abc" "got abc" timeout 20 "$e/barrier" abc
expect_failure "barrier 10 0" "got 0" timeout 20 "$e/barrier" 10 0
expect_failure "barrier 10 -w 0" "barrier: " timeout 20 "$e/barrier" 10 -w 0
expect_failure "hello -w x" "hello: " timeout 20 "$e/hello" -w x
expect_failure "hello -w ' 2'" "hello: -w: ' 2' is not a number of workers" timeout 20 "$e/hello" -w ' 2'
expect_failure "hello -w 1024" "1024 workers per rank is more than tide supports (512)" \
  timeout 20 "$e/hello" -w 1024
expect_failure "exchange 10" "usage: exchange BATCH ROUNDS" timeout 20 "$e/exchange" 10
expect_failure "op_concat --bogus" "usage: op_concat" timeout 20 "$e/op_concat" --bogus
exit $status
