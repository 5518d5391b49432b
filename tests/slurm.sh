#!/bin/sh
# SPDX-License-Identifier: MIT
# A real single-node Slurm (munge, slurmctld and slurmd from Debian's packages, configured in
# a temporary directory, started and stopped here) runs the batch scripts of scripts/slurm
# with sbatch: wordcount under srun and under mpirun (-w taken from SLURM_CPUS_PER_TASK),
# pagerank under srun, and a job that must fail (a missing edge list). Each job's output and
# final state are checked. Skipped, saying why, where Slurm is not installed or not root.
set -u
. "${TIDE_SRCDIR:-.}/tests/mpi_lib.sh"
# Under the sanitizers the programs it launches are the ones every other MPI suite runs; what
# this adds is the launcher, which the plain build covers (and it kept CI past 45 minutes).
[ "${TIDE_SANITIZED:-0}" = 1 ] && { echo "skipped: sanitizer build"; exit 77; }
src=$(cd "${TIDE_SRCDIR:-.}" && pwd)
build=$(cd "$b" && pwd)
for cmd in slurmctld slurmd sbatch squeue scontrol munged; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    echo "SKIP: $cmd is not installed (apt-get install slurmctld slurmd slurm-client munge)"
    exit 77
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: starting Slurm's daemons needs root"; exit 77
fi

d=$(mktemp -d /tmp/tide-slurm.XXXXXX)
chmod 755 "$d"
host=$(hostname -s)
port=$((20000 + $$ % 10000))
export SLURM_CONF=$d/slurm.conf
started_munge=

cleanup() {
  pids=$(cat "$d/slurmctld.pid" "$d/slurmd.pid" 2>/dev/null)
  scontrol shutdown >/dev/null 2>&1
  i=0 # wait for the daemons (and the job steps they end) to be gone
  while [ $i -lt 50 ] && { pgrep -x slurmstepd >/dev/null || kill -0 $pids 2>/dev/null; }; do
    sleep 0.2; i=$((i + 1))
  done
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  [ -n "$started_munge" ] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null
  rm -rf "$d" "$out"
}
[ -n "${TIDE_SLURM_KEEP:-}" ] || trap cleanup EXIT

# munge: the machine's if it answers, else ours (as user munge, as Debian runs it)
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
  if [ ! -f /etc/munge/munge.key ]; then
    mungekey --create >/dev/null 2>&1 || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  runuser -u munge -- /usr/sbin/munged --force || { echo "FAIL: munged did not start"; exit 1; }
  started_munge=1
  i=0
  until munge -n 2>/dev/null | unmunge >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 50 ] && { echo "FAIL: munged does not answer"; exit 1; }
    sleep 0.1
  done
fi

node=$(slurmd -C | head -1)
cat >"$SLURM_CONF" <<EOF
ClusterName=tidetest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
EnforcePartLimits=ALL
MinJobAge=300
KillWait=5
$node
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p "$d/state" "$d/spool"
slurmctld -f "$SLURM_CONF" || { cat "$d/slurmctld.log"; echo "FAIL: slurmctld did not start"; exit 1; }
slurmd -f "$SLURM_CONF" || { cat "$d/slurmd.log"; echo "FAIL: slurmd did not start"; exit 1; }
i=0
until sinfo -h -o %t 2>/dev/null | grep -q idle; do
  i=$((i + 1)); [ $i -gt 100 ] && { sinfo; tail "$d/slurmctld.log"; echo "FAIL: the node never became idle"; exit 1; }
  sleep 0.2
done
echo "slurm up on $host (port $port)"

# sbatch_wait NAME EXPECTED-STATE SBATCH-ARGS...: submits, waits with squeue, then checks the
# job's state; leaves the job's output file in $job_out.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TIDE_BUILD=$build TIDE_SRC=$src
sbatch_wait() {
  name=$1 want=$2; shift 2
  job_out=$d/$(echo "$name" | tr -c 'a-z0-9\n' '-').out
  id=$(sbatch --parsable --chdir="$d" --output="$job_out" "$@") || { fail "$name: sbatch refused"; return 1; }
  i=0
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do
    i=$((i + 1)); [ $i -gt 600 ] && { scancel "$id"; fail "$name: still queued or running after 120 s"; return 1; }
    sleep 0.2
  done
  state=$(scontrol show job "$id" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  code=$(scontrol show job "$id" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p')
  if [ "$state" != "$want" ]; then
    cat "$job_out"; fail "$name: job $id ended $state (exit $code), want $want"; return 1
  fi
  echo "ok: $name: job $id $state (exit $code)"
}

# wordcount's top 10 words of the three bundled files, computed here
export LC_ALL=C
top10() {
  tr -cs 'A-Za-z' '\n' <"$1" | tr 'A-Z' 'a-z' | grep -v '^$' | sort | uniq -c |
    sort -k1,1nr -k2,2 | head -10 | awk '{ printf "  %7d %s\n", $1, $2 }'
}
check_wordcount() {
  for f in "$src"/examples/data/*.txt; do
    top10 "$f" >"$d/want"
    if ! grep -A10 "($f)" "$job_out" | tail -10 | diff -u "$d/want" - >/dev/null; then
      cat "$job_out"; fail "$1: wrong counts for $f"; return
    fi
  done
  grep -q "on $2 workers" "$job_out" || { cat "$job_out"; fail "$1: not on $2 workers"; return; }
  echo "ok: $1: counts right, $(grep -m1 'workers' "$job_out")"
}

# Two cores here: each job asks for two (Slurm's --overcommit does not share a task's
# cpus-per-task), as 2 ranks x 1 core or 1 rank x 2 cores (then -w 2 comes from
# SLURM_CPUS_PER_TASK).
wc=$src/scripts/slurm/wordcount.sbatch pr=$src/scripts/slurm/pagerank.sbatch
sbatch_wait "wordcount under srun, 2 ranks x 1 core" COMPLETED -c 1 "$wc" &&
  check_wordcount "wordcount under srun, 2 ranks x 1 core" 2
sbatch_wait "wordcount under srun, 1 rank x 2 cores" COMPLETED --ntasks-per-node=1 -c 2 "$wc" &&
  check_wordcount "wordcount under srun, 1 rank x 2 cores" 2
TIDE_LAUNCH=mpirun sbatch_wait "wordcount under mpirun, 2 ranks x 1 core" COMPLETED -c 1 "$wc" &&
  check_wordcount "wordcount under mpirun, 2 ranks x 1 core" 2
TIDE_LAUNCH=mpirun sbatch_wait "wordcount under mpirun, 1 rank x 2 cores" COMPLETED \
  --ntasks-per-node=1 -c 2 "$wc" && check_wordcount "wordcount under mpirun, 1 rank x 2 cores" 2
if sbatch_wait "pagerank under srun" COMPLETED -c 1 "$pr" 2000 10000; then
  n=$(grep -c 's:' "$job_out")
  [ "$n" -ge 999 ] && echo "ok: pagerank printed $n lines" || { cat "$job_out"; fail "pagerank printed $n lines"; }
fi
if sbatch_wait "pagerank of a missing edge list" FAILED -c 1 "$pr" "$d/no-such-graph.txt"; then
  grep -q "pagerank: cannot open '$d/no-such-graph.txt'" "$job_out" &&
    echo "ok: the failed job says why: $(grep -m1 'cannot open' "$job_out")" ||
    { cat "$job_out"; fail "the failed job's output does not say why"; }
fi

# A rank killed under srun: --kill-on-bad-exit (in the script) ends the whole step and job.
# The graph size (300002) is this test's own: processes are found by their command line,
# and tests/faults.sh may run a pagerank of its own at the same time.
echo "== kill -9 of rank 1 of a pagerank job under srun"
id=$(sbatch --parsable --chdir="$d" --output="$d/killed.out" -c 1 "$pr" 300002 3000000)
i=0
# the first line can take a while under the sanitizers on a loaded machine
while ! grep -q 's:' "$d/killed.out" 2>/dev/null && [ $i -lt 1200 ] &&
      squeue -h -j "$id" 2>/dev/null | grep -q .; do
  sleep 0.1; i=$((i + 1))
done
victim=$(pid_with "examples/.*pagerank 300002 3000000" SLURM_PROCID=1)
if [ -z "$victim" ]; then
  cat "$d/killed.out"; fail "no rank 1 of job $id to kill"; scancel "$id"
else
  start=$(date +%s)
  kill -9 "$victim"
  i=0
  while squeue -h -j "$id" 2>/dev/null | grep -q . && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
  took=$(($(date +%s) - start))
  state=$(scontrol show job "$id" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  left=$(pgrep -f "examples/.*pagerank 300002 3000000" | wc -l)
  if [ "$state" != FAILED ] || [ "$took" -gt 20 ] || [ "$left" -ne 0 ]; then
    tail -5 "$d/killed.out"; fail "killed rank: job $id $state after $took s, $left processes left"
    pkill -9 -f "examples/.*pagerank 300002 3000000"
  else
    echo "ok: job $id $state $took s after the kill, nothing left: $(grep -m1 -i 'task 1\|killed' "$d/killed.out")"
  fi
fi
exit $status
