#!/bin/sh
# SPDX-License-Identifier: MIT
# --watch and SIGUSR1 (doc/observing.md): a job that waits on purpose (tests/stuck.c) gets
# a report from every worker naming what holds it (an input never advanced, an unordered
# input's capability the program keeps, the notification waiting behind it), in threads
# and across ranks; a worker inside a long operator is named as not heard from, and is not
# taken for a stall; SIGUSR1 prints the same report without --watch and the job goes on;
# tide_worker_report() writes it where the program says; a long pagerank prints status
# lines and the same results as without --watch.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
stuck=$b/tests/stuck
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$out"' EXIT

# watch NAME DONE COMMAND...: runs it (stdout and stderr apart); it must exit 0 with DONE
# workers saying "done". The checks below read $tmp/err and $tmp/out.
watch() {
  name=$1 done=$2; shift 2
  echo "== $name"
  "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
  n=$(grep -c ': done$' "$tmp/out")
  if [ $rc -ne 0 ] || [ "$n" -ne "$done" ]; then
    cat "$tmp/err" | head -30; fail "$name: exit $rc, $n of $done workers done"; return 1
  fi
}
# has NAME COUNT PATTERN [FILE]: PATTERN is on exactly COUNT lines (COUNT+: at least).
has() {
  f=${4:-$tmp/err}
  n=$(grep -c -e "$3" "$f")
  case $2 in
    *+) [ "$n" -ge "${2%+}" ] ;;
    *) [ "$n" -eq "$2" ] ;;
  esac || { head -40 "$f"; fail "$1: $n lines match '$3' (want $2)"; return 1; }
  echo "ok: $1: $n x '$3'"
}

watch "open input, -w 2, --watch 0.3" 2 timeout 60 "$stuck" open-input 4 -w 2 --bind none --watch 0.3 &&
  has "stall said once" 1 "nothing has moved for 0.9 s or more" &&
  has "every worker reports" 1 "^tide report: worker 0 (rank 0, thread 0 of 2): 1 dataflows" &&
  has "every worker reports" 1 "^tide report: worker 1 (rank 0, thread 1 of 2): 1 dataflows" &&
  has "the input is named" 2 "operator 'Input' (0): 1 capability held by its input handle at 5; input open at epoch 5" &&
  has "the notification behind it" 2 "operator 'Count' (3): input 0 frontier {5}; 1 notification pending at 5" &&
  has "status lines" 3+ "^tide watch [0-9.]* s: probes {5}; [0-9.e+]* records/s; rss [0-9.]* MiB$"

watch "unordered capability kept, -w 2" 2 timeout 60 "$stuck" unordered 4 -w 2 --bind none --watch 0.3 &&
  has "the program's capability" 1 "operator 'UnorderedInput' (0): 1 capability held by the program (an unordered input's or a builder's capability: drop it with tide_cap_drop) at 3" &&
  has "the probe waits at 3" 2 "    probe 1: frontier {3}"

watch "open input, mpirun -n 2 -w 2" 4 "$run" 2 "$stuck" open-input 5 -w 2 --bind none --watch 0.3 &&
  has "stall said once" 1 "nothing has moved" &&
  has "workers of both ranks report" 4 "^tide report: worker [0-3] (rank [01], thread [01] of 2)" &&
  has "memory of both ranks" 2+ "rss [0-9.]* MiB max (rank [01]), [0-9.]* MiB in 2 ranks"

watch "a worker asleep in its operator, mpirun -n 2 -w 1" 2 "$run" 2 "$stuck" busy 3 -w 1 --bind none --watch 0.3 &&
  has "it is named" 2+ "1 worker not heard from for 0.75 s or more (worker 1 first" &&
  has "no stall is claimed" 0 "nothing has moved"

# waiting N: until N workers of the job started in the background say they wait (90 s: a
# loaded CI machine has taken over 30 s to start 2 ranks under ASan).
waiting() {
  i=0
  while [ "$(grep -c ': waiting$' "$tmp/out")" -lt "$1" ] && [ $i -lt 900 ]; do
    sleep 0.1; i=$((i + 1))
  done
}

# reported N: waits (up to 60 s) until N report headers are on stderr, then releases the
# job (its @PATH file): slow machines take the time they need and no signal comes too late.
reported() {
  i=0
  while [ "$(grep -c '^tide report: worker' "$tmp/err")" -lt "$1" ] && [ $i -lt 600 ]; do
    sleep 0.1; i=$((i + 1))
  done
  touch "$tmp/release"
}

echo "== SIGUSR1, -w 2, no --watch"
rm -f "$tmp/release"
timeout 180 "$stuck" open-input "@$tmp/release" -w 2 --bind none >"$tmp/out" 2>"$tmp/err" & pid=$!
waiting 2; pkill -USR1 -P $pid; reported 2; wait $pid; rc=$? # the program is timeout's child
if [ $rc -eq 0 ] && [ "$(grep -c ': done$' "$tmp/out")" -eq 2 ]; then
  has "SIGUSR1: both workers report" 2 "^tide report: worker [01] (rank 0" &&
    has "SIGUSR1: no status lines" 0 "^tide watch"
else cat "$tmp/err"; fail "SIGUSR1: exit $rc"; fi

echo "== SIGUSR1 to each rank, mpirun -n 2 -w 1"
rm -f "$tmp/release"
TIDE_TEST_TIMEOUT=180 "$run" 2 "$stuck" open-input "@$tmp/release" -w 1 --bind none >"$tmp/out" 2>"$tmp/err" & pid=$!
waiting 2
signalled=0
for p in $(sed -n 's/^worker [01]: pid \([0-9]*\)$/\1/p' "$tmp/out" | sort -u); do
  kill -USR1 "$p" && signalled=$((signalled + 1))
done
reported 2
wait $pid; rc=$?
if [ $rc -eq 0 ] && [ $signalled -eq 2 ]; then
  has "SIGUSR1: a report from each rank" 2 "^tide report: worker [01] (rank [01], thread 0 of 1)"
else
  cat "$tmp/err"; echo "stdout:"; cat "$tmp/out"
  fail "SIGUSR1 under mpirun: exit $rc, $signalled ranks signalled"
fi

watch "tide_worker_report on stdout, -w 2" 2 timeout 60 "$stuck" report 2 -w 2 --bind none &&
  has "one report per worker" 2 "^tide report: worker [01] (rank 0, thread [01] of 2): 1 dataflows" "$tmp/out" &&
  has "nothing on stderr" 0 "." "$tmp/err"

echo "== pagerank --watch 0.05"
if timeout 120 "$b/examples/pagerank" 20000 200000 -w 2 --bind none >"$tmp/plain" 2>/dev/null &&
   timeout 120 "$b/examples/pagerank" 20000 200000 -w 2 --bind none --watch 0.05 >"$tmp/out" 2>"$tmp/err"; then
  has "pagerank status lines" 2+ "^tide watch [0-9.]* s: probes {[0-9]*} {[0-9]*}; [0-9.e+]* records/s; rss"
  # (the first column is the time taken; workers' lines come in any order)
  cut -f2- "$tmp/plain" | sort >"$tmp/want"; cut -f2- "$tmp/out" | sort >"$tmp/got"
  if cmp -s "$tmp/want" "$tmp/got"; then echo "ok: pagerank prints the same with --watch"
  else diff "$tmp/want" "$tmp/got" | head; fail "pagerank --watch changed its output"; fi
else fail "pagerank --watch: exit status"; fi

exit $status
