#!/bin/sh
# SPDX-License-Identifier: MIT
# Real multi-host runs on one machine: two network namespaces ("hosts" with their own
# hostnames) joined by a veth pair, mpirun reaching the second through an rsh agent that
# enters its namespace instead of ssh, ranks talking over TCP. wordcount and pagerank give
# the same results as a sequential computation; --report-bindings names both hosts.
# Skipped, saying why, without root or ip/unshare.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
# Under the sanitizers the programs it launches are the ones every other MPI suite runs; what
# this adds is the launcher, which the plain build covers (and it kept CI past 45 minutes).
[ "${TIDE_SANITIZED:-0}" = 1 ] && { echo "skipped: sanitizer build"; exit 77; }
src=$(cd "${TIDE_SRCDIR:-.}" && pwd)
build=$(cd "$b" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: network namespaces need root"; exit 77; fi
for cmd in ip unshare; do
  command -v $cmd >/dev/null 2>&1 || { echo "SKIP: $cmd is not installed (apt-get install iproute2 util-linux)"; exit 77; }
done
mpirun=$(sed -n 's/^exec timeout -k 5 "$TIDE_TEST_TIMEOUT" \([^ ]*\) .*/\1/p' "$run")
[ -n "$mpirun" ] || mpirun=mpirun

tag=$$
na=tidea$tag nb=tideb$tag
ia=10.213.$((tag % 200)).1 ib=10.213.$((tag % 200)).2
d=$(mktemp -d /tmp/tide-multihost.XXXXXX)
cleanup() {
  ip netns del "$na" 2>/dev/null
  ip netns del "$nb" 2>/dev/null
  rm -rf "$d" "$out"
}
trap cleanup EXIT
if ! ip netns add "$na" 2>"$d/err" || ! ip netns add "$nb" 2>>"$d/err"; then
  echo "SKIP: cannot create network namespaces here: $(cat "$d/err")"; exit 77
fi
ip link add "va$tag" type veth peer name "vb$tag" || { echo "FAIL: no veth pair"; exit 1; }
ip link set "va$tag" netns "$na"
ip link set "vb$tag" netns "$nb"
ip -n "$na" addr add "$ia/24" dev "va$tag"
ip -n "$nb" addr add "$ib/24" dev "vb$tag"
for ns in "$na" "$nb"; do ip -n "$ns" link set lo up; done
ip -n "$na" link set "va$tag" up
ip -n "$nb" link set "vb$tag" up

# The rsh agent: runs the daemon's command inside the namespace of the address it is given,
# under its own hostname (or Open MPI's shared-memory segments of the two hosts collide).
cat >"$d/agent" <<EOF
#!/bin/sh
host=\$1; shift
case \$host in
  $ia|hosta) ns=$na name=hosta ;;
  $ib|hostb) ns=$nb name=hostb ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
# TIDE_HIDE_ON_HOSTB=DIR: DIR is empty on hostb (a file that only one host has)
if [ \$name = hostb ] && [ -n "\${TIDE_HIDE_ON_HOSTB:-}" ]; then
  exec ip netns exec \$ns unshare --uts --mount sh -c \
    "hostname \$name; mount -t tmpfs none \$TIDE_HIDE_ON_HOSTB; \$*"
fi
exec ip netns exec \$ns unshare --uts sh -c "hostname \$name; \$*"
EOF
chmod +x "$d/agent"
printf '%s slots=2\n%s slots=2\n' "$ia" "$ib" >"$d/hosts"

# across NP PROGRAM ARGS...: NP ranks, alternating between the two hosts, every rank's
# stdout in rank order.
across() {
  np=$1; shift
  rm -rf "$d/out"
  ip netns exec "$na" unshare --uts sh -c "hostname hosta; exec timeout -k 5 120 $mpirun \
    --hostfile $d/hosts --map-by node --bind-to none -n $np \
    --mca plm_rsh_agent $d/agent --mca btl tcp,self --mca btl_tcp_if_include $ia/24 \
    --mca oob_tcp_if_include $ia/24 -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
    -x LSAN_OPTIONS -x ASAN_OPTIONS --output-filename $d/out $*" >"$d/mpirun.log" 2>&1
  rc=$?
  cat "$d"/out/1/rank.*/stdout 2>/dev/null
  cat "$d"/out/1/rank.*/stderr >"$d/stderr" 2>/dev/null
  return $rc
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export LSAN_OPTIONS=${LSAN_OPTIONS:-} ASAN_OPTIONS=${ASAN_OPTIONS:-}

check() { # check NAME WANT GOT
  if diff -u "$2" "$3" >"$d/diff"; then echo "ok: $1"
  else head -20 "$d/diff"; cat "$d/mpirun.log" | tail -20; fail "$1"; fi
}

# wordcount: the counts of a sequential tr | sort | uniq
export LC_ALL=C
for f in "$src"/examples/data/*.txt; do
  tr -cs 'A-Za-z' '\n' <"$f" | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c |
    awk '{ print $1, $2 }' | sort -k1,1nr -k2,2
done | awk '{ c[$2] += $1 } END { for (w in c) print c[w], w }' | sort >"$d/want-words"
# -w 1 unpinned; -w 2 with tide's pinning: each host's two workers on its two cores
for w in 1 2; do
  bind=none; [ $w = 2 ] && bind=core
  across 2 "$build/examples/wordcount" --all "$src"/examples/data/*.txt -w $w --bind $bind \
    --report-bindings >"$d/got" || { cat "$d/mpirun.log"; fail "wordcount across 2 hosts -w $w exited non-zero"; continue; }
  grep '^ *[0-9]* [a-z]*$' "$d/got" | awk '{ c[$2] += $1 } END { for (w in c) print c[w], w }' |
    sort >"$d/got-words"
  check "wordcount across 2 hosts, 2 ranks x $w workers" "$d/want-words" "$d/got-words"
  for r in 0 1; do
    for k in $(seq 0 $((w - 1))); do
      h=hosta; [ $r = 1 ] && h=hostb
      pus="0-1 (not pinned)"; [ $w = 2 ] && pus=$k
      line="tide: rank $r worker $((r * w + k)) host $h pus $pus"
      grep -qx "$line" "$d/stderr" || { cat "$d/stderr"; fail "--report-bindings lacks '$line'"; }
    done
  done
done
echo "placement: $(grep -c 'host host' "$d/stderr") workers reported:"; sed 's/^/  /' "$d/stderr"

# pagerank: per-time totals equal to the sequential implementation's
"$b/tests/examples_seq" pagerank 1000 5000 >"$d/want-pr"
across 2 "$build/examples/pagerank" 1000 5000 -w 2 --bind none >"$d/raw" ||
  { cat "$d/mpirun.log"; fail "pagerank across 2 hosts exited non-zero"; }
awk -F'\t' '$3 > 0 { c[$2] += $3; s[$2] += $4; if ($5 > m[$2]) m[$2] = $5 }
  END { for (t in c) print t, c[t], s[t], m[t] }' "$d/raw" | sort -n >"$d/got-pr"
check "pagerank across 2 hosts, 2 ranks x 2 workers" "$d/want-pr" "$d/got-pr"

# Two ranks on each host: a rank's frames go through the shared rings to the rank of its
# host and through MPI (TCP) to the other two, in one job (--stats counts both ways).
across 4 "$build/examples/pagerank" 1000 5000 -w 1 --bind none --stats >"$d/raw" ||
  { cat "$d/mpirun.log"; fail "pagerank on 4 ranks, 2 a host, exited non-zero"; }
awk -F'\t' '$3 > 0 { c[$2] += $3; s[$2] += $4; if ($5 > m[$2]) m[$2] = $5 }
  END { for (t in c) print t, c[t], s[t], m[t] }' "$d/raw" | sort -n >"$d/got-pr"
check "pagerank on 4 ranks, 2 a host" "$d/want-pr" "$d/got-pr"
mixed=$(grep -c 'tide stats: .* sends [1-9][0-9]* .* shm_frames [1-9]' "$d/stderr")
if [ "$mixed" = 4 ]; then echo "ok: each of the 4 ranks sent through MPI and through its host's rings"
else grep 'tide stats' "$d/stderr"; fail "pagerank on 4 ranks, 2 a host: $mixed of 4 ranks sent both ways"; fi

# An input file that only one host has: the rank on the other stops the whole job.
mkdir -p "$d/only-a"
cp "$src/examples/data/rivers.txt" "$d/only-a/"
if TIDE_HIDE_ON_HOSTB=$d/only-a across 2 "$build/examples/wordcount" "$d/only-a/rivers.txt" \
     -w 1 --bind none >"$d/got"; then
  fail "wordcount with its file missing on hostb: exit 0"
elif grep -q "wordcount: cannot open '$d/only-a/rivers.txt'" "$d/stderr" "$d/mpirun.log"; then
  echo "ok: a file missing on hostb stops the job: $(cat "$d/stderr" "$d/mpirun.log" | grep -m1 'cannot open')"
else
  cat "$d/stderr" "$d/mpirun.log"; fail "wordcount with its file missing on hostb: no message naming it"
fi
exit $status
