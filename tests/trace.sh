#!/bin/sh
# SPDX-License-Identifier: MIT
# --trace FILE (doc/observing.md): the Chrome/Perfetto JSON trace of hello and pagerank,
# in threads and on 2 ranks x 2 workers, parses (python3's json); it names one process
# per rank and one thread per worker; every event is complete ("X", non-negative
# duration), a counter ("C") or one of each worker's two instants (its start and end,
# with all its events between), after the job's zero (clocks aligned across ranks); a
# worker's runs do not overlap and its messages sit inside them; every message between
# workers is a flow with both ends (send and receive slices with equal records, the
# receive inside a run of the operator it went to, not before the send), and the flows
# carry exactly the records that changed worker (hello: those printed by a worker other
# than 0, which sent them all); queue counters are per worker, and pagerank queues some;
# hello's Inspect took exactly the 10 records hello sent; a worker that waits parks and
# the park is there. Bad --trace arguments stop the program naming them.
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
clock_err = {e["pid"]: e["args"]["clock_error_us"] for e in ev if e["name"] == "process_name"}
assert clock_err.get(0) == 0 and all(v >= 0 for v in clock_err.values()), clock_err
assert procs == {r: "rank %d" % r for r in range(ranks)}, procs
threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e["name"] == "thread_name"}
assert threads == {(w // workers, w): "worker %d" % w for w in range(ranks * workers)}, threads
xs = [e for e in ev if e["ph"] == "X"]
cs = [e for e in ev if e["ph"] == "C"]
inst = [e for e in ev if e["ph"] == "i"]
assert xs and len(xs) + len(cs) + len(inst) == len([e for e in ev if e["ph"] != "M"]), \
    "events other than X, C, i"
# each worker starts once and ends once, and everything it recorded lies between
for key in threads:
    mine = [e for e in inst if (e["pid"], e["tid"]) == key]
    names = sorted(e["name"] for e in mine)
    assert names == ["worker end", "worker start"], (key, names)
    t0 = min(e["ts"] for e in mine if e["name"] == "worker start")
    t1 = max(e["ts"] for e in mine if e["name"] == "worker end")
    for e in xs + cs:
        if (e["pid"], e["tid"]) == key:
            assert t0 - 0.002 <= e["ts"] and e["ts"] + e.get("dur", 0) <= t1 + 0.002, ("outside", key, e)
# a rank's zero is rank 0's, known within that rank's clock error: its first events may lie
# up to that far before it
EPS = 0.002  # 3 decimals each: allow a nanosecond of rounding
assert all(e["dur"] >= 0 and e["ts"] >= -clock_err[e["pid"]] - EPS for e in xs), "negative ts or dur"
# a worker's operator runs and parks follow one another; messages are instants, inside
# the operator run that sent or took them or (input sent by the program) between runs
def inside(e, o):
    return o["ts"] - EPS <= e["ts"] and e["ts"] + e["dur"] <= o["ts"] + o["dur"] + EPS
for key in threads:
    mine = sorted((e for e in xs if (e["pid"], e["tid"]) == key), key=lambda e: (e["ts"], -e["dur"]))
    last = None  # the operator run or park open at this point, if any
    for e in mine:
        if last and not inside(e, last):
            assert e["ts"] >= last["ts"] + last["dur"] - EPS, ("overlap", key, last, e)
            last = None
        if last:
            assert e["cat"] == "message", ("nested", key, last, e)
        elif e["cat"] != "message":
            last = e
# every message between workers is one flow: a send on the sender's thread, a receive on
# the receiver's, the same records at both ends, the receive inside a run of the operator
# it went to, and not before the send (across ranks: within the clock alignment)
sends = {e["bind_id"]: e for e in xs if e.get("flow_out")}
recvs = {e["bind_id"]: e for e in xs if e.get("flow_in")}
assert len(sends) == sum(1 for e in xs if e.get("flow_out")), "a flow started twice"
assert len(recvs) == sum(1 for e in xs if e.get("flow_in")), "a flow ended twice"
assert sends.keys() == recvs.keys(), ("flows with one end", len(sends), len(recvs))
ops = {}
for e in xs:
    if e["cat"] == "operator":
        ops.setdefault((e["pid"], e["tid"]), []).append(e)
for k, s in sends.items():
    r = recvs[k]
    assert s["args"]["to"] == r["tid"] and r["args"]["from"] == s["tid"], ("ends", s, r)
    assert s["args"]["records"] == r["args"]["records"] > 0, ("records", s, r)
    assert s["args"]["into"] == r["args"]["into"], ("operator", s, r)
    # across ranks, within what the clock alignment vouches for (each rank's bound)
    slack = EPS if s["pid"] == r["pid"] else clock_err[s["pid"]] + clock_err[r["pid"]] + EPS
    assert r["ts"] >= s["ts"] - slack, ("received before it was sent", s, r)
    assert any(o["name"] == r["args"]["into"] and o["ts"] - EPS <= r["ts"] <= o["ts"] + o["dur"] + EPS
               for o in ops.get((r["pid"], r["tid"]), [])), ("a receive outside its operator", r)
# queue samples: one counter per worker, on its own thread
for c in cs:
    assert c["name"] == "queued at worker %d" % c["tid"] and (c["pid"], c["tid"]) in threads, c
    assert c["args"]["records"] >= 0 and c["args"]["bytes"] >= 0, c
for w in want:
    if w == "park":
        assert any(e["name"] == "park" and e["dur"] > 0 for e in xs), "no park"
        continue
    if w == "queued":
        assert any(c["args"]["records"] > 0 for c in cs), "no records ever queued"
        continue
    op, n = w.split("=")
    if op == "flows":  # records carried between workers, all flows together
        got = sum(s["args"]["records"] for s in sends.values())
        assert got == int(n), "flows carried %d records, not %s" % (got, n)
        continue
    got = sum(e["args"]["records"] for e in xs if e["name"] == op)
    assert got == int(n), "%s took %d records, not %s" % (op, got, n)
print("%d events, %d flows, %d counter samples, %d threads" % (len(xs), len(sends), len(cs),
      len(threads)))
EOF
  then echo "ok: $name: $(cat "$tmp/py")"
  else cat "$tmp/py"; fail "$name"; fi
}

echo "== hello -w 2"
timeout 60 "$e/hello" -w 2 --bind none --trace "$tmp/h.json" >"$tmp/h.out" &&
  check "hello -w 2" 1 2 "$tmp/h.json" hello/Inspect=10 hello/Exchange=10 \
    flows="$(grep -vc '^worker 0:' "$tmp/h.out")" ||
  fail "hello -w 2 --trace: exit status"

echo "== mpirun -n 2 hello -w 2"
per_rank 2 "$e/hello" -w 2 --bind none --trace "$tmp/h2.json" >"$tmp/h2.out" &&
  check "mpirun -n 2 hello -w 2" 2 2 "$tmp/h2.json" hello/Inspect=10 \
    flows="$(grep -vc '^worker 0:' "$tmp/h2.out")" ||
  fail "mpirun -n 2 hello --trace: exit status"

echo "== mpirun -n 2 pagerank 2000 20000 -w 2"
"$run" 2 "$e/pagerank" 2000 20000 -w 2 --bind none --trace "$tmp/p.json" >/dev/null &&
  check "mpirun -n 2 pagerank -w 2" 2 2 "$tmp/p.json" queued ||
  fail "mpirun -n 2 pagerank --trace: exit status"

echo "== scripts/trace-timeline draws the pagerank trace"
if python3 "${TIDE_SRCDIR:-.}/scripts/trace-timeline" "$tmp/p.json" "$tmp/p.svg" &&
   python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
boxes = [c for c in r if c.tag.endswith("rect") and c.find("{http://www.w3.org/2000/svg}title") is not None]
assert len(boxes) > 100, len(boxes)
print(len(boxes), "boxes")' "$tmp/p.svg"; then echo "ok: trace-timeline"
else fail "trace-timeline on the pagerank trace"; fi
if python3 "${TIDE_SRCDIR:-.}/scripts/trace-timeline" "$tmp/h2.json" "$tmp/h2.svg" &&
   python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
lines = [c for c in r if c.tag.endswith("line")]
assert len(lines) == int(sys.argv[2]), (len(lines), sys.argv[2])
print(len(lines), "flows drawn")' "$tmp/h2.svg" "$(grep -vc '^worker 0:' "$tmp/h2.out")"
then echo "ok: trace-timeline draws hello's messages"
else fail "trace-timeline on the hello trace: one line per message"; fi

echo "== a worker that waits parks"
timeout 60 "$b/tests/stuck" open-input 0.5 -w 2 --bind none --trace "$tmp/s.json" >/dev/null &&
  check "stuck -w 2: parks" 1 2 "$tmp/s.json" park ||
  fail "stuck --trace: exit status"

expect_failure "--trace without a file" "hello: --trace needs a file name (FILE.json or FILE.otf2)" timeout 30 "$e/hello" --trace
# otf2 NAME RANKS WORKERS JSON ARCHIVE: the archive, read back with otf2-print, has one
# location per worker in one group per rank, and the JSON trace's events of the same run:
# an ENTER and a LEAVE per operator run or park, an MPI_SEND per send, an MPI_RECV per
# receive.
otf2() {
  name=$1; shift
  if otf2-print -G "$4" >"$tmp/defs" 2>&1 && otf2-print "$4" >"$tmp/evts" 2>&1 &&
     python3 - "$@" "$tmp/defs" "$tmp/evts" >"$tmp/py" 2>&1 <<'EOF2'
import collections, json, sys
ranks, workers, path, _, defs, evts = sys.argv[1:]
ranks, workers = int(ranks), int(workers)
ev = json.load(open(path))["traceEvents"]
runs = sum(1 for e in ev if e["ph"] == "X" and e["cat"] != "message")
sends = sum(1 for e in ev if e.get("flow_out"))
recvs = sum(1 for e in ev if e.get("flow_in"))
d = [l.split() for l in open(defs)]
locs = [l for l in d if l and l[0] == "LOCATION"]
groups = [l for l in d if l and l[0] == "LOCATION_GROUP"]
assert len(locs) == ranks * workers and len(groups) == ranks, (len(locs), len(groups))
c = collections.Counter(l.split()[0] for l in open(evts) if l.strip())
got = (c["ENTER"], c["LEAVE"], c["MPI_SEND"], c["MPI_RECV"])
assert got == (runs, runs, sends, recvs), ("otf2", got, "json", (runs, runs, sends, recvs))
print("%d runs, %d sends, %d receives, %d locations" % (runs, sends, recvs, len(locs)))
EOF2
  then echo "ok: $name: $(cat "$tmp/py")"
  else cat "$tmp/defs" "$tmp/py" 2>/dev/null | tail -5; fail "$name"; fi
}

if ! grep -q "^[^#]*-DTIDE_HAVE_OTF2" "$b/Makefile"; then
  echo "== built without OTF2"
  expect_failure "--trace FILE.otf2 without OTF2" "this tide was built without OTF2" \
    timeout 30 "$e/hello" --trace "$tmp/x.otf2"
elif ! command -v otf2-print >/dev/null; then
  fail "tide was built with OTF2 but there is no otf2-print (Debian: otf2-tools)"
else
  echo "== mpirun -n 2 hello -w 2, JSON and OTF2 at once"
  "$run" 2 "$e/hello" -w 2 --bind none --trace "$tmp/o.json" --trace "$tmp/o.otf2" >/dev/null &&
    otf2 "hello: OTF2 as JSON" 2 2 "$tmp/o.json" "$tmp/o.otf2" ||
    fail "mpirun -n 2 hello, two traces: exit status"
  echo "== mpirun -n 2 pagerank 2000 20000 -w 2, OTF2"
  "$run" 2 "$e/pagerank" 2000 20000 -w 2 --bind none --trace "$tmp/po.json" \
    --trace "$tmp/po.otf2" >/dev/null &&
    otf2 "pagerank: OTF2 as JSON" 2 2 "$tmp/po.json" "$tmp/po.otf2" ||
    fail "mpirun -n 2 pagerank, two traces: exit status"
  echo "== hello -w 2, OTF2 only"
  timeout 60 "$e/hello" -w 2 --bind none --trace "$tmp/w2.otf2" >/dev/null &&
    otf2-print "$tmp/w2.otf2" | grep -q "MPI_SEND" && echo "ok: OTF2 alone" ||
    fail "hello -w 2 --trace FILE.otf2 alone"
  expect_failure "--trace over an existing archive" \
    "fatal: --trace: '$tmp/o.otf2' (or its directory '$tmp/o') exists already" \
    timeout 30 "$e/hello" --trace "$tmp/o.otf2"
  expect_failure "--trace .otf2 into a directory that does not exist" \
    "fatal: --trace: cannot write '$tmp/no/x.otf2': No such file or directory" \
    timeout 30 "$e/hello" -w 2 --bind none --trace "$tmp/no/x.otf2"
fi
expect_failure "--trace JSON twice" "--trace given twice for JSON files ('$tmp/a.json' and '$tmp/b.json')" \
  timeout 30 "$e/hello" --trace "$tmp/a.json" --trace "$tmp/b.json"
expect_failure "--trace to a directory that does not exist" \
  "fatal: --trace: cannot write '$tmp/no/x.json': No such file or directory" \
  timeout 30 "$e/hello" -w 2 --bind none --trace "$tmp/no/x.json"
expect_failure "--trace on one rank only" "ranks disagree on --trace (given or not): rank 0 has no, rank 1 has yes" \
  env TIDE_TEST_TIMEOUT=30 "$run" 1 "$e/hello" --bind none : -n 1 "$e/hello" --bind none --trace "$tmp/y.json"
exit $status
