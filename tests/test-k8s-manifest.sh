#!/usr/bin/env bash
# docs/k8s-indexed-job.yaml, without a cluster:
#   - parsed with python3-yaml: one batch/v1 Job, completionMode Indexed,
#     parallelism <= completions, restartPolicy Never or OnFailure, one
#     container running asyncdl with --shards equal to completions, its
#     report named by $(JOB_COMPLETION_INDEX), JOB_COMPLETION_INDEX taken
#     from the completion-index annotation, every volume mount a volume;
#   - the checker refuses mutated copies (no completionMode, --shards not
#     equal to completions, no JOB_COMPLETION_INDEX);
#   - the container's arguments, as Kubernetes would expand them for each
#     index, run through the real asyncdl on its --local server (the list
#     and report paths moved to a temporary directory), and `asyncdl merge`
#     of the pods' reports finds the whole list, each URL once.
# Skipped (77) without python3-yaml.
# Usage: test-k8s-manifest.sh MANIFEST ASYNCDL
set -u
manifest=$1 asyncdl=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: no python3-yaml"; exit 77; }
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT JOB_COMPLETION_INDEX

# check FILE: prints the completions, then the container's args one a line;
# exits 1 with the reasons on stderr.
check() {
  python3 - "$1" <<'PY'
import re, sys, yaml
docs = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x is not None]
bad = []
def need(cond, why):
    if not cond:
        bad.append(why)
    return cond
need(len(docs) == 1, 'want one YAML document, found %d' % len(docs))
job = docs[0] if docs else {}
need(job.get('apiVersion') == 'batch/v1' and job.get('kind') == 'Job', 'not a batch/v1 Job')
spec = job.get('spec') or {}
need(spec.get('completionMode') == 'Indexed', 'spec.completionMode is not Indexed')
n = spec.get('completions')
need(isinstance(n, int) and n >= 1, 'spec.completions is not a positive integer')
n = n if isinstance(n, int) else 0
p = spec.get('parallelism', n)
need(isinstance(p, int) and 1 <= p <= max(n, 1), 'parallelism is not in 1..completions')
pod = (spec.get('template') or {}).get('spec') or {}
need(pod.get('restartPolicy') in ('Never', 'OnFailure'), 'restartPolicy must be Never or OnFailure for a Job')
cs = pod.get('containers') or []
need(len(cs) == 1, 'want one container')
c = cs[0] if cs else {}
cmd = (c.get('command') or []) + (c.get('args') or [])
need(cmd[:1] == ['asyncdl'], 'the container does not run asyncdl')
need(('--shards=%d' % n) in cmd, '--shards=%d (= completions) is not among the arguments' % n)
need(not any(a.startswith('--shard=') for a in cmd), '--shard=I/N would give every pod the same shard')
need(any(a.startswith('--json=') and '$(JOB_COMPLETION_INDEX)' in a for a in cmd),
     'no --json report named by $(JOB_COMPLETION_INDEX): the pods would overwrite one report')
env = {e.get('name'): e for e in c.get('env') or []}
ref = ((env.get('JOB_COMPLETION_INDEX') or {}).get('valueFrom') or {}).get('fieldRef') or {}
need(ref.get('fieldPath') == "metadata.annotations['batch.kubernetes.io/job-completion-index']",
     'JOB_COMPLETION_INDEX is not taken from the completion-index annotation')
vols = {v.get('name') for v in pod.get('volumes') or []}
for m in c.get('volumeMounts') or []:
    need(m.get('name') in vols, 'volume mount %r has no volume' % m.get('name'))
for b in bad:
    print('manifest: ' + b, file=sys.stderr)
if bad:
    sys.exit(1)
print(n)
for a in cmd[1:]:
    print(a)
PY
}

check "$manifest" >"$d/parsed" || fail "$manifest does not pass the checks"
n=$(head -n 1 "$d/parsed")
echo "ok: $manifest: an Indexed Job of $n completions running asyncdl --shards=$n"

# The checker refuses what it should.
mutant() { # WHY SED-EXPRESSION
  sed "$2" "$manifest" >"$d/mutant.yaml"
  ! cmp -s "$manifest" "$d/mutant.yaml" || fail "mutation '$1' no longer applies"
  if check "$d/mutant.yaml" >/dev/null 2>"$d/mutant.err"; then
    fail "the checker passes a manifest with $1"
  fi
  echo "ok: a manifest with $1 is refused: $(head -n 1 "$d/mutant.err")"
}
mutant "no completionMode" '/completionMode: Indexed/d'
mutant "--shards other than completions" 's/--shards=4/--shards=3/'
mutant "no JOB_COMPLETION_INDEX" 's/name: JOB_COMPLETION_INDEX/name: JOB_INDEX/'
mutant "one report for every pod" 's/shard-$(JOB_COMPLETION_INDEX).json/shard.json/'

# Each pod's command, as Kubernetes expands it, against --local.
mkdir -p "$d/reports"
for i in $(seq 0 $((n - 1))); do
  args=()
  while IFS= read -r a; do
    a=${a//\$(JOB_COMPLETION_INDEX)/$i}
    case $a in
    --list=*) continue ;; # the ConfigMap's list: the built-in one here
    --json=/reports/*) a="--json=$d/reports/${a#--json=/reports/}" ;;
    esac
    args+=("$a")
  done < <(tail -n +2 "$d/parsed")
  JOB_COMPLETION_INDEX=$i "$asyncdl" "${args[@]}" --local --rtt=0 \
    >"$d/pod-$i.out" 2>"$d/pod-$i.err" ||
    { cat "$d/pod-$i.err" >&2; fail "pod $i: asyncdl ${args[*]} exited $?"; }
  grep -q "from JOB_COMPLETION_INDEX=$i with --shards=$n" "$d/pod-$i.err" ||
    { cat "$d/pod-$i.err" >&2; fail "pod $i: the banner does not name JOB_COMPLETION_INDEX"; }
done
"$asyncdl" merge "$d"/reports/*.json >"$d/merge.out" 2>"$d/merge.err" ||
  { cat "$d/merge.err" >&2; fail "merge of the pods' reports exited $?"; }
grep -q "$n shard reports (shards 0-$((n - 1)) of $n, by url): 151 URLs, the whole list, each once" "$d/merge.err" ||
  { cat "$d/merge.err" >&2; fail "the pods' reports are not the whole list"; }
echo "ok: the $n pods' commands, run on --local, fetch the whole list once: $(cat "$d/merge.err")"
