#!/bin/sh
# SPDX-License-Identifier: MIT
# --trace FILE (doc/observing.md): the Chrome/Perfetto JSON trace of hello and pagerank,
# in threads and on 2 ranks x 2 workers, parses (python3's json); it names one process
# per rank and one thread per worker; every event is complete ("X") with a non-negative
# duration, after the job's zero (clocks aligned across ranks), and a worker's events do
# not overlap; hello's Inspect took exactly the 10 records hello sent; a worker that
# waits parks and the park is there. Bad --trace arguments stop the program naming them.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
e=$b/examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$out"' EXIT
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }

# check NAME RANKS WORKERS FILE [OPERATOR=RECORDS] [park]: the checks above on FILE.
check() {
  name=$1; shift
  if python3 - "$@" >"$tmp/py" 2>&1 <<'EOF'
import json, sys
ranks, workers, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
want = sys.argv[4:]
ev = json.load(open(path))["traceEvents"]
procs = {e["pid"]: e["args"]["name"] for e in ev if e["name"] == "process_name"}
assert procs == {r: "rank %d" % r for r in range(ranks)}, procs
threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e["name"] == "thread_name"}
assert threads == {(w // workers, w): "worker %d" % w for w in range(ranks * workers)}, threads
xs = [e for e in ev if e["ph"] != "M"]
assert xs and all(e["ph"] == "X" for e in xs), "events other than X"
assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in xs), "negative ts or dur"
for key in threads:
    mine = sorted((e for e in xs if (e["pid"], e["tid"]) == key), key=lambda e: e["ts"])
    for a, b in zip(mine, mine[1:]):
        # 3 decimals each: allow a nanosecond of rounding
        assert a["ts"] + a["dur"] <= b["ts"] + 0.002, ("overlap", key, a, b)
for w in want:
    if w == "park":
        assert any(e["name"] == "park" and e["dur"] > 0 for e in xs), "no park"
        continue
    op, n = w.split("=")
    got = sum(e["args"]["records"] for e in xs if e["name"] == op)
    assert got == int(n), "%s took %d records, not %s" % (op, got, n)
print("%d events, %d threads" % (len(xs), len(threads)))
EOF
  then echo "ok: $name: $(cat "$tmp/py")"
  else cat "$tmp/py"; fail "$name"; fi
}

echo "== hello -w 2"
timeout 60 "$e/hello" -w 2 --bind none --trace "$tmp/h.json" >/dev/null &&
  check "hello -w 2" 1 2 "$tmp/h.json" hello/Inspect=10 hello/Exchange=10 ||
  fail "hello -w 2 --trace: exit status"

echo "== mpirun -n 2 hello -w 2"
"$run" 2 "$e/hello" -w 2 --bind none --trace "$tmp/h2.json" >/dev/null &&
  check "mpirun -n 2 hello -w 2" 2 2 "$tmp/h2.json" hello/Inspect=10 ||
  fail "mpirun -n 2 hello --trace: exit status"

echo "== mpirun -n 2 pagerank 2000 20000 -w 2"
"$run" 2 "$e/pagerank" 2000 20000 -w 2 --bind none --trace "$tmp/p.json" >/dev/null &&
  check "mpirun -n 2 pagerank -w 2" 2 2 "$tmp/p.json" ||
  fail "mpirun -n 2 pagerank --trace: exit status"

echo "== scripts/trace-timeline draws the pagerank trace"
if python3 "${TIDE_SRCDIR:-.}/scripts/trace-timeline" "$tmp/p.json" "$tmp/p.svg" &&
   python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
boxes = [c for c in r if c.tag.endswith("rect") and c.find("{http://www.w3.org/2000/svg}title") is not None]
assert len(boxes) > 100, len(boxes)
print(len(boxes), "boxes")' "$tmp/p.svg"; then echo "ok: trace-timeline"
else fail "trace-timeline on the pagerank trace"; fi

echo "== a worker that waits parks"
timeout 60 "$b/tests/stuck" open-input 0.5 -w 2 --bind none --trace "$tmp/s.json" >/dev/null &&
  check "stuck -w 2: parks" 1 2 "$tmp/s.json" park ||
  fail "stuck --trace: exit status"

expect_failure "--trace without a file" "hello: --trace needs a file name" timeout 30 "$e/hello" --trace
expect_failure "--trace FILE.otf2" "OTF2 archives are not written yet" \
  timeout 30 "$e/hello" --trace "$tmp/x.otf2"
expect_failure "--trace to a directory that does not exist" \
  "fatal: --trace: cannot write '$tmp/no/x.json': No such file or directory" \
  timeout 30 "$e/hello" -w 2 --bind none --trace "$tmp/no/x.json"
expect_failure "--trace on one rank only" "ranks disagree on --trace (given or not): rank 0 has no, rank 1 has yes" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$e/hello" --bind none : -n 1 "$e/hello" --bind none --trace "$tmp/y.json"
exit $status
