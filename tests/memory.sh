#!/bin/sh
# SPDX-License-Identifier: MIT
# --memory: a rank's budget for the batches it holds. skew (every record to worker 0, a
# slow consumer) gives exact results under a 1 MiB budget in every shape, fed by the
# program (tide_worker_has_room), by to_stream_iter, and with everything held back until
# the sources finish (the budget must give way there, or the job would wait forever);
# in threads the budget bounds what is held whatever the input size, where without it the
# records pile up; every rank reports its peak; bad sizes are refused by name.
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
e=$b/examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$out"' EXIT

# expected RECORDS PEERS [FANOUT]: skew's line for RECORDS per worker on PEERS workers
expected() {
  awk -v r="$1" -v p="$2" -v k="${3:-1}" 'BEGIN { n = r * p; s = n * (n - 1) / 2;
    printf "worker 0 took %d records, sum %.0f (expected %d and %.0f)\n", n * k, s * k, n * k, s * k }'
}
records=100000
# exact NAME PEERS NP COMMAND...: skew's result line is the expected one, and every rank
# reported its memory (NP ranks)
exact() {
  name=$1 peers=$2 np=$3; shift 3
  "$@" >"$tmp/got" 2>"$tmp/err"; rc=$?
  sed 's/, in [0-9.]* s$//' "$tmp/got" >"$tmp/line"
  reports=$(grep -c '^tide: rank [0-9]*: memory peak [0-9.]* MiB held in batches (budget 1.0 MiB), peak RSS [0-9.]* MiB; sources waited [0-9]* times, the budget gave way [0-9]* times, [0-9]* batches spilled ([0-9.]* MiB)$' "$tmp/err")
  if [ $rc -eq 0 ] && expected "$records" "$peers" "$fanout" | diff -u - "$tmp/line" >"$tmp/diff" &&
     [ "$reports" -eq "$np" ]; then
    echo "ok: $name: $(grep -m1 'gave way' "$tmp/err" | sed 's/.*MiB; //')"
  else
    cat "$tmp/diff" "$tmp/err" | tail -8; fail "$name (exit $rc, $reports reports of $np)"
  fi
}
exact_k() { fanout=20; exact "$@"; fanout=1; }
fanout=1
for mode in "" "--iter" "--delay" "--iter --delay"; do
  for w in 1 2 3; do
    exact "skew -w $w $mode" $w 1 timeout 60 "$e/skew" 100000 5 $mode -w $w --bind none --memory 1M
  done
  for shape in "2 1" "2 2" "3 1"; do
    set -- $shape
    exact "mpirun -n $1 skew -w $2 $mode" $(($1 * $2)) $1 \
      "$run" $1 "$e/skew" 100000 5 $mode -w $2 --bind none --memory 1M
  done
done
# Held back at 300 times (tide_delay's map of pending times, indexed from 16 on)
exact "skew -w 2 --delay --spread 300" 2 1 timeout 60 "$e/skew" 100000 5 --delay --spread 300 \
  -w 2 --bind none --memory 1M
exact "mpirun -n 2 skew -w 2 --delay --spread 300" 4 2 \
  "$run" 2 "$e/skew" 100000 5 --delay --spread 300 -w 2 --bind none --memory 1M
expect_failure "skew --spread 0" "usage: skew RECORDS WORK .*--spread T" \
  timeout 20 "$e/skew" 10 0 --delay --spread 0

# Spilling: worker 0 makes 20 copies of each record in one flat_map run, more than any
# budget on the sources can stop; the copies beyond the budget go to disk and come back in
# order (exact sums), in every shape.
records=20000
# With --before the copies are made on every worker and reach worker 0 through the
# exchange: what waits there spills as it is taken from the channel.
for where in "" "--before"; do
  for w in 1 2 3; do
    exact_k "skew -w $w --fanout 20 $where" $w 1 \
      timeout 60 "$e/skew" 20000 5 --fanout 20 $where -w $w --bind none --memory 1M
  done
  for shape in "2 1" "2 2" "3 1"; do
    set -- $shape
    exact_k "mpirun -n $1 skew -w $2 --fanout 20 $where" $(($1 * $2)) $1 \
      "$run" $1 "$e/skew" 20000 5 --fanout 20 $where -w $2 --bind none --memory 1M
  done
done
timeout 60 "$e/skew" 100000 5 --fanout 20 -w 2 --bind none --watch 1000 2>"$tmp/err" >/dev/null
nobudget=$(sed -n 's/^tide: rank 0: memory peak \([0-9.]*\) MiB.*/\1/p' "$tmp/err")
timeout 60 "$e/skew" 100000 5 --fanout 20 -w 2 --bind none --memory 4M 2>"$tmp/err" >/dev/null
spilled=$(sed -n 's/.*, \([0-9]*\) batches spilled.*/\1/p' "$tmp/err")
peak=$(sed -n 's/^tide: rank 0: memory peak \([0-9.]*\) MiB.*/\1/p' "$tmp/err")
if [ "${spilled:-0}" -gt 0 ] && awk -v f="${nobudget:-0}" -v p="${peak:-99}" 'BEGIN { exit !(f > 16 && 2 * p < f) }'; then
  echo "ok: --fanout 20: ${nobudget} MiB held without a budget, ${peak} MiB with 4 MiB and $spilled batches spilled"
else cat "$tmp/err"; fail "--fanout 20: ${nobudget:-?} MiB without a budget, ${peak:-?} MiB with 4 MiB, ${spilled:-no} batches spilled"; fi
records=100000
# A spill directory that cannot be used is an error at start-up; a full one when it fills.
expect_failure "--spill-dir that does not exist" "rank 0: --spill-dir $tmp/none: cannot create a spill file there: No such file or directory" \
  timeout 20 "$e/skew" 10 0 --memory 1M --spill-dir "$tmp/none"
: >"$tmp/file"
expect_failure "--spill-dir that is a file" "cannot create a spill file there: Not a directory" \
  timeout 20 "$e/skew" 10 0 --memory 1M --spill-dir "$tmp/file"
expect_failure "mpirun --spill-dir that does not exist" "rank [01]: --spill-dir $tmp/none: cannot create a spill file" \
  env TIDE_TEST_TIMEOUT=30 "$run" 2 "$e/skew" 10 0 --memory 1M --spill-dir "$tmp/none"
mkdir "$tmp/small"
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
  expect_failure "a full spill directory" "spilling [0-9]* bytes to $tmp/small: No space left on device (--spill-dir)" \
    timeout 60 unshare -m sh -c 'mount -t tmpfs -o size=256k tide-spill "$1" && shift && exec "$@"' sh \
      "$tmp/small" "$e/skew" 100000 5 --fanout 20 -w 2 --bind none --memory 1M --spill-dir "$tmp/small"
else
  echo "skipped: a full spill directory (needs root and unshare -m for a small tmpfs)"
fi

# Held back until the end, 1.6 MB of records cannot fit 1 MiB: the budget gave way.
timeout 60 "$e/skew" 100000 0 --delay -w 2 --bind none --memory 1M >/dev/null 2>"$tmp/err"
if grep -q 'the budget gave way [1-9][0-9]* times' "$tmp/err"; then echo "ok: --delay gives way"
else cat "$tmp/err"; fail "skew --delay under 1M: the budget never gave way"; fi

# peak MIB_LIMIT ARGS...: skew -w 2's peak held (MiB, from its report) is at most MIB_LIMIT
peak_of() {
  timeout 120 "$e/skew" "$@" -w 2 --bind none >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; return 1; }
  sed -n 's/^tide: rank 0: memory peak \([0-9.]*\) MiB.*/\1/p' "$tmp/err"
}
# --before -w 2: worker 1's copies reach worker 0 through the in-rank channel, where the
# sender spills once the rank is over budget (else they would pile up in the channel: 32
# MiB here); what worker 0 reads back stays in its pool. The peak does not grow with the
# input (4x). The bound is relative to the unbudgeted peak, as above.
free=$(peak_of 100000 5 --fanout 20 --before --watch 1000) &&
  small=$(peak_of 100000 5 --fanout 20 --before --memory 4M) &&
  large=$(peak_of 400000 5 --fanout 20 --before --memory 4M)
if [ -n "${large:-}" ] && awk -v f="$free" -v s="$small" -v l="$large" \
     'BEGIN { exit !(f > 16 && 2 * s < f && 2 * l < f) }'; then
  echo "ok: --fanout 20 --before: ${free} MiB held without a budget, ${small} and ${large} MiB (4x the input) with 4 MiB"
else fail "--fanout 20 --before: ${free:-?} MiB without a budget, ${small:-?} / ${large:-?} MiB with 4 MiB"; fi
# Without a budget (--watch only reports) 1M records per worker pile up in front of the
# slow consumer; with 4 MiB the peak stays bounded, and does not grow with the input.
# (Less than half the unbudgeted peak: under the sanitizers and a parallel make check the
# budget gives way more often, so the bound is relative; here it is about a fifth.)
free=$(peak_of 1000000 30 --watch 1000) && small=$(peak_of 1000000 30 --memory 4M) &&
  large=$(peak_of 4000000 30 --memory 4M)
if [ -n "${large:-}" ] && awk -v f="$free" -v s="$small" -v l="$large" \
     'BEGIN { exit !(f > 12 && 2 * s < f && 2 * l < f) }'; then
  echo "ok: peak held: ${free} MiB without a budget, ${small} and ${large} MiB (4x the input) with 4 MiB"
else fail "peak held: ${free:-?} MiB without a budget, ${small:-?} / ${large:-?} MiB with 4 MiB"; fi

# Between ranks: worker 0 on rank 0 consumes what 3 workers send; the senders wait for its
# credits, so rank 0 holds what its budget allows instead of everything sent to it. (The
# consumer works 60 units a record: with 20, under TSan, which slows tide's sending more than
# the consumer's arithmetic, it nearly kept up, and only 9.2 MiB piled up without a budget.)
rank0_peak() {
  "$run" 2 "$e/skew" 1000000 60 --iter -w 2 --bind none "$@" >/dev/null 2>"$tmp/err" ||
    { cat "$tmp/err"; return 1; }
  sed -n 's/^tide: rank 0: memory peak \([0-9.]*\) MiB.*/\1/p' "$tmp/err"
}
free=$(rank0_peak --watch 1000) && small=$(rank0_peak --memory 4M)
# Under TSan the transport, not the consumer, is the slowest part: records then wait at the
# senders and rank 0 holds 9.2 MiB without a budget (two CI runs, with a consumer working 20
# or 60 units a record). With nothing piled up to compare with, the budgeted peak must stay
# within 10 MiB (4 MiB and the rank's fixed buffers, twice over).
if [ -n "${small:-}" ] && awk -v f="$free" -v s="$small" \
     'BEGIN { exit !((f > 16 && 2 * s < f) || (f <= 16 && s <= 10)) }'; then
  echo "ok: rank 0's peak held: ${free} MiB without a budget, ${small} MiB with 4 MiB"
else fail "rank 0's peak held: ${free:-?} MiB without a budget, ${small:-?} MiB with 4 MiB"; fi
# Frames sent rendezvous (tiny eager limits) come back in order under flow control too.
(export OMPI_MCA_btl=self,tcp OMPI_MCA_btl_tcp_eager_limit=1024 OMPI_MCA_btl_tcp_rndv_eager_limit=1024
 exact "mpirun -n 2 skew -w 2 --iter, rendezvous frames" 4 2 \
   "$run" 2 "$e/skew" 100000 5 --iter -w 2 --bind none --memory 1M
 exit $status) || status=1
expect_failure "--memory on one rank only" "ranks disagree on --memory (given or not): rank 0 has no, rank 1 has yes" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$e/skew" 10 0 --bind none : -n 1 "$e/skew" 10 0 --bind none --memory 8M

for bad in x 12Q -5 1.5.2 100K 0; do
  expect_failure "--memory $bad" "skew: --memory" timeout 20 "$e/skew" 10 0 --memory "$bad"
done
expect_failure "--memory without a size" "skew: --memory needs a size" timeout 20 "$e/skew" 10 0 --memory
exit $status
