#!/usr/bin/env bash
# asyncdl on a real Slurm: a single-node cluster on 127.0.0.1 started here
# (munged, slurmctld, slurmd as plain processes, configuration generated
# into a temporary directory; see ../../shared/FIELD-NOTES.md "A single-node
# Slurm on this machine"), the batch script docs/slurm-array.sh submitted as
# a 4-task array (sbatch --parsable --array=0-3), each task fetching its
# shard of 400 documents from the tests' nginx; then:
#   - every task ended COMPLETED with ExitCode 0:0 (scontrol), and each says
#     in its output which shard it ran, taken from the Slurm variables;
#   - `asyncdl merge` of the four reports: the whole list, each URL once,
#     totals that add up (checked again here in python: union of the
#     per-URL outcomes = the list, no duplicates, requests/ok/bytes sums);
#   - nginx's access log: each document requested exactly once over the
#     four tasks.
# Every Slurm client call runs under `timeout`; the daemons are stopped
# (scancel, TERM, KILL) on every exit path. Exit 77 only when Slurm or
# munge is not installed or the cluster does not come up.
# Usage: slurm.sh ASYNCDL FIXTURE_GEN BATCH_SCRIPT
set -u
# The tasks run in another directory: absolute paths.
asyncdl=$(realpath "$1") fixture_gen=$(realpath "$2") batch=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nginx.sh"
PATH=$PATH:/usr/sbin:/sbin
t0=$(date +%s.%N)
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "[$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%5.1f", a - b}') s] $*"; }
for p in munged slurmctld slurmd sbatch squeue scontrol sinfo scancel; do
  command -v "$p" >/dev/null 2>&1 || skip "$p not installed (Debian: slurm-wlm munge)"
done
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || skip "nginx not installed"
command -v python3 >/dev/null 2>&1 || skip "no python3"

d=$(mktemp -d)
chmod 755 "$d" # munge's socket must be reachable by every user (FIELD-NOTES)
pids=()
jobid=
cleanup() {
  [ -n "$jobid" ] && timeout 5 scancel "$jobid" >/dev/null 2>&1
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 1 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  stop_nginx
  rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
show_logs() {
  local f
  for f in "$d"/munged.log "$d"/slurmctld.log "$d"/slurmd.log "$d"/task-*.out; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
}

# --- munge ---------------------------------------------------------------
mkdir -m 755 "$d/munge"
head -c 1024 /dev/urandom >"$d/munge.key"
chmod 400 "$d/munge.key"
munged --foreground --key-file="$d/munge.key" --socket="$d/munge/munge.socket" \
  --pid-file="$d/munged.pid" --seed-file="$d/munged.seed" >"$d/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -S "$d/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$d/munge/munge.socket" ] || { show_logs; skip "munged did not start"; }

# --- slurm.conf ----------------------------------------------------------
node=$(hostname -s)
mem=$(timeout 10 slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ -n "$mem" ] || mem=1000
mkdir -p "$d/state" "$d/spool"
export SLURM_CONF=$d/slurm.conf
cat >"$SLURM_CONF" <<CONF
ClusterName=asyncdltest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
MinJobAge=300
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=asyncdl Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i -f "$SLURM_CONF" >>"$d/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -N "$node" -f "$SLURM_CONF" >>"$d/slurmd.log" 2>&1 &
pids+=($!)
alive() { kill -0 "${pids[1]}" 2>/dev/null && kill -0 "${pids[2]}" 2>/dev/null; }
state=
deadline=$((SECONDS + 30)) # measured here: idle after 1.2 s
while [ $SECONDS -lt $deadline ] && alive; do
  state=$(timeout 5 sinfo -h -N -n "$node" -o '%T' 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.25
done
[ "$state" = idle ] || { show_logs; skip "the single-node Slurm did not come up (node state '$state')"; }
say "Slurm up: node $node idle ($(timeout 5 sinfo --version))"

# --- nginx and the list ---------------------------------------------------
"$fixture_gen" "$d/www" --count-extra 249 >/dev/null || fail "fixture generation"
mkdir -p "$d/nginx"
start_nginx "$d/nginx" "$d/www" || fail "nginx did not start"
ls "$d/www/api/v2/pokemon" | sort >"$d/list.txt"
n=$(wc -l <"$d/list.txt")
[ "$n" = 400 ] || fail "expected 400 fixture documents, found $n"
base="http://127.0.0.1:$HTTP_PORT/api/v2/pokemon/"
say "nginx on 127.0.0.1:$HTTP_PORT serving $n documents"

# --- the array job ------------------------------------------------------------
mkdir -p "$d/reports"
jobid=$(timeout 10 sbatch --parsable --array=0-3 --chdir="$d" \
  --output="$d/task-%a.out" \
  --export=ALL,ASYNCDL="$asyncdl",LIST="$d/list.txt",BASE_URL="$base",REPORTS="$d/reports",ASYNCDL_ARGS="--connections=4" \
  "$batch") || { show_logs; fail "sbatch failed"; }
jobid=${jobid%%;*}
say "submitted $batch as array job $jobid (tasks 0-3)"
left=unknown
deadline=$((SECONDS + 90)) # measured here: about 4 s
while [ $SECONDS -lt $deadline ] && alive; do
  # squeue lists the tasks still pending or running; none left: done.
  if left=$(timeout 5 squeue -h -j "$jobid" -o '%i %T' 2>/dev/null) &&
    [ -z "$left" ]; then
    break
  fi
  left=${left:-unknown}
  sleep 0.2
done
[ -z "$left" ] || { show_logs; fail "the array did not finish in 90 s: $left"; }
say "array finished"

# --- each task: COMPLETED, 0:0, and the shard it ran -------------------------------
timeout 10 scontrol -o show job "$jobid" >"$d/jobs.txt" 2>&1 || { cat "$d/jobs.txt" >&2; fail "scontrol show job"; }
for i in 0 1 2 3; do
  line=$(grep -E "(^| )ArrayTaskId=$i( |$)" "$d/jobs.txt")
  [ -n "$line" ] || { cat "$d/jobs.txt" >&2; fail "no record of task $i"; }
  st=$(echo "$line" | grep -o 'JobState=[A-Z_]*')
  ec=$(echo "$line" | grep -o ' ExitCode=[0-9:]*' | tr -d ' ')
  echo "  task $i: $st $ec"
  [ "$st" = JobState=COMPLETED ] && [ "$ec" = ExitCode=0:0 ] ||
    { show_logs; fail "task $i: $st $ec"; }
  grep -q "^asyncdl: shard $i/4 (numbered from 0) by url, from SLURM_ARRAY_TASK_ID=$i of SLURM_ARRAY_TASK_COUNT=4" "$d/task-$i.out" ||
    { cat "$d/task-$i.out" >&2; fail "task $i: no banner line naming the Slurm shard"; }
  sed -n 's/^\(asyncdl: shard .*\)/  \1/p; s/^\(asyncdl: parallel *run .*\)/  \1/p' "$d/task-$i.out"
done

# --- merge -------------------------------------------------------------------
"$asyncdl" merge "$d"/reports/shard-{0,1,2,3}.json --json="$d/merged.json" \
  >"$d/merge.out" 2>"$d/merge.err" || { cat "$d/merge.err" >&2; fail "asyncdl merge exited $?"; }
sed 's/^/  /' "$d/merge.err" "$d/merge.out"
grep -q "4 shard reports (shards 0-3 of 4, by url): 400 URLs, the whole list, each once" "$d/merge.err" ||
  fail "merge did not find the whole list"
python3 - "$d" "$base" "$HTTP_PORT" <<'PY' || fail "the shards do not add up to the list"
import json, sys
d, base, port = sys.argv[1], sys.argv[2], sys.argv[3]
want = sorted(base + l.strip() for l in open(d + '/list.txt'))
shards = [json.load(open('%s/reports/shard-%d.json' % (d, i))) for i in range(4)]
merged = json.load(open(d + '/merged.json'))
got = []
for i, s in enumerate(shards):
    assert s['shard']['index'] == i and s['shard']['count'] == 4, s['shard']
    assert s['shard']['source'] == 'slurm', s['shard']
    got += [x['url'] for x in s['runs'][0]['items']]
assert len(got) == len(set(got)), 'a URL in two shards'
assert sorted(got) == want, 'the union of the shards is not the list'
mi = merged['runs'][0]['items']
assert sorted(x['url'] for x in mi) == want
assert all(x['outcome'] == 'ok' for x in mi)
ms = merged['runs'][0]['summary']
for f in ['requests', 'ok', 'bytes', 'connections_opened']:
    assert ms[f] == sum(s['runs'][0]['summary'][f] for s in shards), f
assert ms['requests'] == ms['ok'] == 400 and ms['failed'] == 0
assert ms['latency_histogram']['count'] == 400
# nginx saw each document once, over the four tasks
seen = {}
for line in open(d + '/nginx/access.log'):
    f = line.split()
    if f[0] == port and f[6].startswith('/api/v2/pokemon/'):
        seen[f[6]] = seen.get(f[6], 0) + 1
assert sorted(seen) == sorted(u[u.index('/api/'):] for u in want), 'nginx saw other URLs'
assert set(seen.values()) == {1}, 'a document requested twice'
print('  checked: 4 shards of %s, union = the %d URLs, none twice; nginx served each once; %d bytes'
      % ([s['shard']['urls'] for s in shards], len(want), ms['bytes']))
PY
say "ok: a 4-task Slurm array of docs/slurm-array.sh fetched the 400-URL list, each URL once, and merged"
