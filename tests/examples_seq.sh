#!/bin/sh
# SPDX-License-Identifier: MIT
# bfs, hashjoin, wordcount, unionfind, loopdemo, distinct and pagerank (random and from an
# edge list)
# give, in every shape (1 worker, threads, MPI ranks), exactly what a sequential
# implementation of the same computation (tests/examples_seq.c, or sort here) gives.
set -u
export LC_ALL=C
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
e=$b/examples seq=$b/tests/examples_seq
dir=$(mktemp -d); trap 'rm -rf "$dir" "$out"' EXIT

# each_shape NAME WANT FILTER PROGRAM ARGS...: the program's output, put through FILTER
# (a shell command reading stdin), must equal the file WANT in every shape.
each_shape() {
  name=$1 want=$2 filter=$3; shift 3
  for shape in "1 1" "1 2" "1 3" "2 1" "2 2" "3 1"; do
    set -- $shape "$@"; np=$1 w=$2; shift 2
    if [ "$np" = 1 ]; then timeout 120 "$@" -w "$w" --bind none >"$dir/raw" 2>"$dir/err"
    else per_rank "$np" "$@" -w "$w" --bind none >"$dir/raw" 2>"$dir/err"; fi
    rc=$?
    sh -c "$filter" <"$dir/raw" >"$dir/got"
    if [ $rc -ne 0 ]; then cat "$dir/raw" "$dir/err" | tail -5; fail "$name -n $np -w $w exited $rc"
    elif diff -u "$want" "$dir/got" >"$dir/diff"; then echo "ok: $name -n $np -w $w"
    else head -20 "$dir/diff"; fail "$name -n $np -w $w"; fi
  done
}

"$seq" bfs 2000 6000 >"$dir/bfs"
each_shape "bfs 2000 6000" "$dir/bfs" "grep '^distance'" "$e/bfs" 2000 6000 --levels

"$seq" hashjoin 500 20000 >"$dir/hashjoin"
each_shape "hashjoin 500 20000 3000" "$dir/hashjoin" \
  "awk '/joined pairs/ { p += \$3; c += \$7 } END { printf \"%.0f joined pairs, checksum %.0f\\n\", p, c }'" \
  "$e/hashjoin" 500 20000 3000
each_shape "hashjoin 500 20000 3000 --memory 1M" "$dir/hashjoin" \
  "awk '/joined pairs/ { p += \$3; c += \$7 } END { printf \"%.0f joined pairs, checksum %.0f\\n\", p, c }'" \
  "$e/hashjoin" 500 20000 3000 --memory 1M
# 600 values a key and side: arrays past the example pool's 4 KiB, malloc's
"$seq" hashjoin 20 12000 >"$dir/hashjoin"
each_shape "hashjoin 20 12000 3000" "$dir/hashjoin" \
  "awk '/joined pairs/ { p += \$3; c += \$7 } END { printf \"%.0f joined pairs, checksum %.0f\\n\", p, c }'" \
  "$e/hashjoin" 20 12000 3000

# wordcount: the bundled texts, and a file with a word of 47 letters, one of 48 (not a
# word), words split by digits and punctuation, capitals, and no newline at its end
d=${TIDE_SRCDIR:-.}/examples/data
printf 'The the THE; a1b2c3 %s %s\nend-of-line_words, x\n\n%s' \
  "$(printf 'q%.0s' $(seq 47))" "$(printf 'z%.0s' $(seq 48))" "last Word" >"$dir/words.txt"
"$seq" words 3000 10 >"$dir/gen.txt" # bench-cost's input, smaller
[ "$(wc -l <"$dir/gen.txt")" -eq 3000 ] && [ "$(wc -w <"$dir/gen.txt")" -eq 30000 ] ||
  fail "examples_seq words 3000 10 did not give 3000 lines of 10 words"
"$seq" wordcount "$d/night.txt" "$d/rivers.txt" "$d/workshop.txt" "$dir/words.txt" \
  "$dir/gen.txt" >"$dir/wordcount"
grep -q "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq$" "$dir/wordcount" ||
  fail "sequential wordcount lost the 47-letter word"
each_shape "wordcount" "$dir/wordcount" "sed -e 's/, at [0-9.]* s\$//' -e '/^wordcount: /d'" \
  "$e/wordcount" "$d/night.txt" "$d/rivers.txt" "$d/workshop.txt" "$dir/words.txt" "$dir/gen.txt"

"$seq" unionfind 20000 15000 >"$dir/unionfind"
each_shape "unionfind 20000 15000 1000" "$dir/unionfind" "cat" "$e/unionfind" 20000 15000 1000
# bench-cost's two-thread bound computes the same: thread 1 with no edges (fewer than a
# chunk of 4096), with some, and with many joins merged while it still runs
for size in "20000 3000" "20000 15000" "200000 500000"; do
  if [ "$("$seq" unionfind-threads $size)" = "$("$seq" unionfind $size)" ]; then
    echo "ok: unionfind-threads $size"
  else fail "examples_seq unionfind-threads $size differs from unionfind $size"; fi
done

"$seq" loopdemo 20000 1 >"$dir/loopdemo"
each_shape "loopdemo 20000 1" "$dir/loopdemo" \
  "awk '/records/ { r += \$3; s += \$5 } END { printf \"%.0f records, %.0f steps\\n\", r, s }'" \
  "$e/loopdemo" 20000 1

# distinct: workers 0 and 1 send fixed lists; every value once, at worker value % workers
printf '%s\n' 0 1 2 3 4 >"$dir/distinct1"
printf '%s\n' 0 1 2 3 4 5 7 >"$dir/distinct2"
for shape in "1 1 1" "1 2 2" "1 3 3" "2 1 2" "3 1 3" "2 2 4"; do
  set -- $shape; np=$1 w=$2 peers=$3
  if [ "$np" = 1 ]; then timeout 60 "$e/distinct" -w "$w" --bind none >"$dir/raw"
  else per_rank "$np" "$e/distinct" -w "$w" --bind none >"$dir/raw"; fi
  want=$dir/distinct2; [ "$peers" = 1 ] && want=$dir/distinct1
  misplaced=$(awk -v p="$peers" '{ w = $2 + 0; if ($4 % p != w) print }' "$dir/raw")
  if awk '{ print $4 }' "$dir/raw" | sort -n | diff -u "$want" - && [ -z "$misplaced" ]; then
    echo "ok: distinct -n $np -w $w"
  else cat "$dir/raw"; fail "distinct -n $np -w $w"; fi
done

# pagerank: per time, the rank changes' count, sum and largest over all workers
totals="awk -F'\t' '\$3 > 0 { c[\$2] += \$3; s[\$2] += \$4; if (\$5 > m[\$2]) m[\$2] = \$5 }
  END { for (t in c) print t, c[t], s[t], m[t] }' | sort -n"
"$seq" pagerank 1000 5000 >"$dir/pagerank"
[ "$(wc -l <"$dir/pagerank")" -ge 999 ] || fail "sequential pagerank reported too few times"
each_shape "pagerank 1000 5000" "$dir/pagerank" "$totals" "$e/pagerank" 1000 5000
# an edge list: a ring of 300 with chords, comments and blank lines
awk 'BEGIN { print "# a test graph"; for (i = 0; i < 300; i++) { print i, (i + 1) % 300;
  if (i % 7 == 0) print i, (i * 13) % 300; if (i % 50 == 0) print "" } }' >"$dir/graph.txt"
"$seq" pagerank "$dir/graph.txt" >"$dir/pagerank-file"
[ -s "$dir/pagerank-file" ] || fail "sequential pagerank of the edge list printed nothing"
each_shape "pagerank graph.txt" "$dir/pagerank-file" "$totals" "$e/pagerank" "$dir/graph.txt"

expect_failure "pagerank with a missing edge list" "pagerank: cannot open '$dir/none.txt'" \
  timeout 20 "$e/pagerank" "$dir/none.txt" -w 2 --bind none
printf '1 2\n3 x\n' >"$dir/bad.txt"
expect_failure "pagerank with a bad edge list" "pagerank: $dir/bad.txt:2: expected two node ids" \
  timeout 20 "$e/pagerank" "$dir/bad.txt" -w 1 --bind none
# the bad line read by a worker whose slice of the file starts after it (the second of 2
# or 3): the message still numbers the line from the start of the file
printf '1 2\n3 4\n5 6\n7 8\n9 9\n# 10 x\n2 3\n4 5\n6 x\n' >"$dir/bad2.txt"
for w in 2 3; do
  expect_failure "pagerank with a bad edge list -w $w" "pagerank: $dir/bad2.txt:9: expected two node ids" \
    timeout 20 "$e/pagerank" "$dir/bad2.txt" -w $w --bind none
done
expect_failure "pagerank with a bad edge list -n 2" "pagerank: $dir/bad2.txt:9: expected two node ids" \
  "$run" 2 "$e/pagerank" "$dir/bad2.txt" -w 1 --bind none
# hashjoin keeps an entry per key below KEYS (its share on each worker): too many keys for
# the memory is a message, not a crash
expect_failure "hashjoin with 2^62 keys" "hashjoin: no memory for the entries of" \
  timeout 20 "$e/hashjoin" 4611686018427387904 10 10 -w 2 --bind none
for p in "bfs 10" "hashjoin 1 2" "unionfind 5 5 0" "loopdemo x 1" "distinct extra"; do
  set -- $p
  expect_failure "$p" "usage: $1" timeout 20 "$e/$@"
done
exit $status
