#!/usr/bin/env bash
# Shards and merge on the tool's real output (--local, no network):
#   - the 151 built-in names in 4 shards (--shard=I/4, every strategy, two
#     repeats) against one whole run: the shards are disjoint, their union
#     is the list, in every run; each URL sits in the shard that an
#     independent FNV-1a 64 (python, here) gives; a shard run again holds
#     the same URLs (--local's port changes every run: it must not matter);
#   - `asyncdl merge` of the shards: counts, bytes and connections are the
#     shards' sums, each histogram bucket the sum of the shards' buckets, the
#     percentiles those python computes from the summed buckets; against
#     the whole run, requests, ok, failed and bytes are equal exactly (the
#     latencies of two runs differ, so only their sample count is); each
#     report's own p50/p95 are the ones its buckets give (the CLI's buckets
#     are the library's);
#   - the environment: SLURM_ARRAY_TASK_ID/COUNT and JOB_COMPLETION_INDEX
#     with --shards pick the same shard as --shard;
#   - --shard-by=host over a list of four origins: each origin whole in one
#     shard, shards with no URL still give reports that merge;
#   - bad input: exit 2 with a message naming it;
#   - every report, merged ones included, matches docs/report.schema.json
#     (when python3-jsonschema is installed).
# Usage: test-merge.sh ASYNCDL SCHEMA
set -u
ASYNCDL=$1 SCHEMA=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN \
  SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP JOB_COMPLETION_INDEX

run() { # NAME ARGS...: asyncdl --local, report NAME.json, stderr NAME.err
  local name=$1
  shift
  "$ASYNCDL" --local --rtt=0 --no-progress --json="$d/$name.json" "$@" \
    >"$d/$name.out" 2>"$d/$name.err"
}

# --- the whole list and its four shards --------------------------------------
run whole --strategy=all --repeat=2 || { cat "$d/whole.err" >&2; fail "whole run exited $?"; }
for i in 0 1 2 3; do
  run "s$i" --strategy=all --repeat=2 --shard=$i/4 ||
    { cat "$d/s$i.err" >&2; fail "shard $i/4 exited $?"; }
  grep -q "^asyncdl: shard $i/4 (numbered from 0) by url, from --shard=$i/4: [0-9]* of the list's 151 URLs" "$d/s$i.err" ||
    { cat "$d/s$i.err" >&2; fail "shard $i/4: no banner line"; }
done
run again --strategy=parallel --shard=1/4 || fail "shard 1/4 again exited $?"
# The job engines' variables, and the same shard as --shard.
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 \
  SLURM_ARRAY_TASK_MAX=3 run slurm1 --strategy=parallel ||
  { cat "$d/slurm1.err" >&2; fail "Slurm task 1 of 4 exited $?"; }
grep -q "shard 1/4 (numbered from 0) by url, from SLURM_ARRAY_TASK_ID=1 of SLURM_ARRAY_TASK_COUNT=4" "$d/slurm1.err" ||
  { cat "$d/slurm1.err" >&2; fail "Slurm: the banner does not say where the shard came from"; }
SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=1 \
  SLURM_ARRAY_TASK_MAX=4 run slurm4 --strategy=parallel ||
  fail "Slurm --array=1-4 task 4 exited $?"
JOB_COMPLETION_INDEX=2 run k8s2 --strategy=parallel --shards=4 ||
  { cat "$d/k8s2.err" >&2; fail "JOB_COMPLETION_INDEX=2 --shards=4 exited $?"; }
grep -q "from JOB_COMPLETION_INDEX=2 with --shards=4" "$d/k8s2.err" ||
  fail "Kubernetes: the banner does not say where the shard came from"

python3 - "$d" <<'PY' || fail "the shards are not a partition of the list"
import json, sys
d = sys.argv[1]
load = lambda n: json.load(open('%s/%s.json' % (d, n)))
def fnv1a64(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h
def key(url):  # the URL without its origin: every URL here is on the base's
    rest = url.split('://', 1)[1]
    return rest[rest.index('/'):]
whole = load('whole')
names = sorted(key(i['url']) for i in whole['runs'][0]['items'])
assert len(names) == 151 == len(set(names)), len(names)
shards = [load('s%d' % i) for i in range(4)]
for r in range(len(whole['runs'])):
    run = whole['runs'][r]
    union = []
    for i, s in enumerate(shards):
        sr = s['runs'][r]
        assert (sr['strategy'], sr['repeat']) == (run['strategy'], run['repeat'])
        keys = [key(x['url']) for x in sr['items']]
        assert len(keys) == s['shard']['urls'], (i, len(keys))
        for k in keys:  # the shard an independent FNV-1a 64 gives
            assert fnv1a64(k.encode()) % 4 == i, (k, i)
        union += keys
    assert sorted(union) == names, 'run %d: union is not the list' % r
sizes = [s['shard']['urls'] for s in shards]
assert sum(sizes) == 151 and min(sizes) > 0, sizes
assert len({s['shard']['list_digest'] for s in shards}) == 1
ports = {s['shard']['base_origin'] for s in shards}
assert len(ports) == 4, ports  # four runs, four ports: the shards agree anyway
same = lambda a, b: sorted(key(x['url']) for x in load(a)['runs'][0]['items']) == \
                    sorted(key(x['url']) for x in load(b)['runs'][0]['items'])
assert same('again', 's1') and same('slurm1', 's1') and same('slurm4', 's3') and same('k8s2', 's2')
assert load('slurm1')['shard']['source'] == 'slurm' and load('k8s2')['shard']['source'] == 'kubernetes'
print('shard sizes', sizes)
PY
# --strategy=all: every strategy the tool has, twice.
nruns=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["runs"]))' "$d/whole.json")
strategies=$(python3 -c 'import json, sys; print(" ".join(c["strategy"] for c in json.load(open(sys.argv[1]))["comparison"]))' "$d/whole.json")
pass "4 shards: disjoint, union = the 151 URLs in all $nruns runs ($strategies, twice), stable across runs, ports and engines (Slurm 0- and 1-based, Kubernetes)"

# --- merge ----------------------------------------------------------------------
"$ASYNCDL" merge "$d/s3.json" "$d/s1.json" --json="$d/merged.json" "$d/s0.json" "$d/s2.json" \
  >"$d/merge.out" 2>"$d/merge.err" || { cat "$d/merge.err" >&2; fail "merge exited $?"; }
grep -q "^asyncdl merge: 4 shard reports (shards 0-3 of 4, by url): 151 URLs, the whole list, each once; $nruns runs" "$d/merge.err" ||
  { cat "$d/merge.err" >&2; fail "merge: no summary line"; }
for st in $strategies; do
  grep -q "^$st " "$d/merge.out" || { cat "$d/merge.out" >&2; fail "merge: no $st row in the table"; }
done
python3 - "$d" <<'PY' || fail "the merge is not exact"
import json, math, sys
d = sys.argv[1]
load = lambda n: json.load(open('%s/%s.json' % (d, n)))
def upper(i):  # the library's bucket bound (src/histogram.c)
    o, s = divmod(i, 64)
    return s if o == 0 else ((64 + s + 1) << (o - 1)) - 1
def index(v):
    if v < 64:
        return v
    o = v.bit_length() - 6
    return o * 64 + (v >> (o - 1)) - 64
def quantile(buckets, count, mx, q):
    if count == 0:
        return 0
    rank = max(1, math.ceil(q * count))
    seen = 0
    for up, n in sorted(buckets.items()):
        seen += n
        if seen >= rank:
            return min(up, mx)
    return mx
us = lambda ms: round(ms * 1000)
def hist(summary):
    h = summary['latency_histogram']
    b = {}
    for up, n in h['buckets']:
        assert upper(index(up)) == up and n > 0, (up, n)
        b[up] = b.get(up, 0) + n
    assert sum(b.values()) == h['count'] == summary['requests']
    return b, h['count'], h['max_us']
def own_percentiles(doc, name):
    for r in doc['runs']:
        s = r['summary']
        b, c, mx = hist(s)
        assert quantile(b, c, mx, 0.5) == us(s['p50_ms']), (name, s['p50_ms'])
        assert quantile(b, c, mx, 0.95) == us(s['p95_ms']), (name, s['p95_ms'])
        assert mx == us(s['max_ms']), name
m, whole = load('merged'), load('whole')
shards = [load('s%d' % i) for i in range(4)]
for doc, name in [(whole, 'whole')] + [(s, 's%d' % i) for i, s in enumerate(shards)] + [(m, 'merged')]:
    own_percentiles(doc, name)
assert 'shard' not in m and m['merged']['shards'] == 4 and m['merged']['list_urls'] == 151
assert [x['file'].rsplit('/', 1)[1] for x in m['merged']['reports']] == ['s3.json', 's1.json', 's0.json', 's2.json']
for r, mr in enumerate(m['runs']):
    ms = mr['summary']
    parts = [s['runs'][r]['summary'] for s in shards]
    for f in ['requests', 'ok', 'failed', 'bytes', 'connections_opened',
              'wire_bytes', 'skipped', 'not_modified', 'http2_responses']:
        if f in parts[0] or f in ms:  # the feed's counters, where written
            assert ms[f] == sum(p[f] for p in parts), (r, f)
    assert us(ms['dns_ms_total']) == sum(us(p['dns_ms_total']) for p in parts)
    assert us(ms['wall_ms']) == max(us(p['wall_ms']) for p in parts)
    assert us(ms['max_ms']) == max(us(p['max_ms']) for p in parts)
    want = {}
    for p in parts:
        for up, n in p['latency_histogram']['buckets']:
            want[up] = want.get(up, 0) + n
    got, c, mx = hist(ms)
    assert got == want, 'run %d: buckets are not the sums of the shards\'' % r
    assert us(ms['p50_ms']) == quantile(want, c, mx, 0.5)
    assert us(ms['p95_ms']) == quantile(want, c, mx, 0.95)
    # against the whole run: the same URLs, the same outcomes and bytes
    ws = whole['runs'][r]['summary']
    for f in ['requests', 'ok', 'failed', 'bytes', 'wire_bytes']:
        if f in ws or f in ms:
            assert ms[f] == ws[f], (r, f, ms.get(f), ws.get(f))
    assert ms['latency_histogram']['count'] == ws['latency_histogram']['count'] == 151
    assert len(mr['items']) == 151
    items = [x for s in shards for x in s['runs'][r]['items']]
    assert sorted(json.dumps(x, sort_keys=True) for x in mr['items']) == \
           sorted(json.dumps(x, sort_keys=True) for x in items)
rows = {c['strategy']: c for c in m['comparison']}
for st, row in rows.items():
    runs = [x for x in m['runs'] if x['strategy'] == st]
    med = [x for x in runs if x['repeat'] == row['median_repeat']][0]['summary']
    walls = sorted(us(x['summary']['wall_ms']) for x in runs)
    assert us(row['wall_ms']) == walls[(len(walls) - 1) // 2] == us(med['wall_ms'])
    assert row['p50_ms'] == med['p50_ms'] and row['bytes'] == med['bytes']
print('merged:', {st: (r['requests'], r['bytes'], r['p50_ms'], r['p95_ms']) for st, r in rows.items()})
PY
pass "merge: sums and buckets exact, percentiles from the summed buckets, equal to the whole run's counts and bytes"

# --json=-: the merged report alone on stdout, the table on stderr.
"$ASYNCDL" merge "$d/s3.json" "$d/s1.json" "$d/s0.json" "$d/s2.json" --json=- \
  >"$d/stdout.json" 2>"$d/stdout.err" ||
  fail "merge --json=- exited $?"
cmp -s "$d/stdout.json" "$d/merged.json" || fail "merge --json=- wrote another report than --json=FILE"
grep -q '^strategy  *wall s' "$d/stdout.err" || fail "merge --json=-: no table on stderr"
pass "merge --json=-: the same report on stdout, the table on stderr"

# --- --shard-by=host: an origin is never split -----------------------------------
{ for n in pikachu mew ditto eevee snorlax; do echo "$n"; done
  for h in 127.0.0.2 127.0.0.3 127.0.0.4; do
    for k in 1 2 3; do echo "http://$h:1/doc$k"; done
  done; } >"$d/hosts.txt"
for i in 0 1 2 3; do
  run "h$i" --strategy=parallel --list="$d/hosts.txt" --shard=$i/4 --shard-by=host --retries=0
  rc=$?
  [ $rc = 0 ] || [ $rc = 1 ] || { cat "$d/h$i.err" >&2; fail "host shard $i exited $rc"; }
done
"$ASYNCDL" merge "$d"/h[0-3].json --json="$d/hmerged.json" >"$d/hmerge.out" 2>"$d/hmerge.err"
[ $? = 1 ] || { cat "$d/hmerge.err" >&2; fail "host merge: want exit 1 (refused URLs)"; }
python3 - "$d" <<'PY' || fail "--shard-by=host split an origin"
import json, sys
d = sys.argv[1]
where = {}
for i in range(4):
    doc = json.load(open('%s/h%d.json' % (d, i)))
    assert doc['shard']['by'] == 'host'
    for x in doc['runs'][0]['items']:
        o = x['url'].split('/')[2]
        where.setdefault(o, set()).add(i)
assert len(where) == 4 and all(len(s) == 1 for s in where.values()), where
m = json.load(open('%s/hmerged.json' % d))
assert m['runs'][0]['summary']['requests'] == 14 and m['runs'][0]['summary']['failed'] == 9
print('origins per shard:', {o: sorted(s)[0] for o, s in where.items()})
PY
# The built-in list is one origin: one shard holds it all, three are empty.
for i in 0 1 2 3; do
  run "e$i" --strategy=session --shard=$i/4 --shard-by=host ||
    { cat "$d/e$i.err" >&2; fail "host shard $i of the built-in list exited $?"; }
done
sizes=$(for i in 0 1 2 3; do sed -n 's/.*: \([0-9]*\) of the list.s 151 URLs$/\1/p' "$d/e$i.err"; done | sort -n | tr '\n' ' ')
[ "$sizes" = "0 0 0 151 " ] || fail "--shard-by=host split one origin: shard sizes $sizes"
"$ASYNCDL" merge "$d"/e[0-3].json --json="$d/emerged.json" >"$d/emerge.out" 2>"$d/emerge.err" ||
  { cat "$d/emerge.err" >&2; fail "merging three empty shards and a full one exited $?"; }
grep -q "151 URLs, the whole list, each once" "$d/emerge.err" || fail "empty shards: not the whole list"
pass "--shard-by=host: each of 4 origins whole in one shard; one origin in one shard, three empty shards, merged"

# --- bad input ------------------------------------------------------------------------
expect_usage() { # WANT-IN-STDERR CMD...
  local want=$1
  shift
  "$@" >"$d/bad.out" 2>"$d/bad.err"
  local rc=$?
  [ $rc = 2 ] && grep -qF -- "$want" "$d/bad.err" ||
    { cat "$d/bad.err" >&2; fail "$* exited $rc, want 2 with '$want'"; }
}
expect_usage "shard 2 of 4 is missing" "$ASYNCDL" merge "$d/s0.json" "$d/s1.json" "$d/s3.json"
expect_usage "is given twice" "$ASYNCDL" merge "$d/s0.json" "$d/s1.json" "$d/s1.json" "$d/s2.json" "$d/s3.json"
expect_usage "no-such.json: No such file" "$ASYNCDL" merge "$d/no-such.json"
expect_usage "no report given" "$ASYNCDL" merge
expect_usage "unknown option '--frobnicate'" "$ASYNCDL" merge --frobnicate "$d/s0.json"
expect_usage "are not shards of one list" "$ASYNCDL" merge "$d"/s[0-3].json "$d"/h[0-3].json
expect_usage "--shard: '4/4' has I = 4, not below N = 4" "$ASYNCDL" --local --shard=4/4
expect_usage "--shards=4: neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID" "$ASYNCDL" --local --shards=4
expect_usage "not evenly spaced" env SLURM_ARRAY_TASK_ID=9 SLURM_ARRAY_TASK_COUNT=3 \
  SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 "$ASYNCDL" --local
pass "bad input: exit 2, each message naming the input"

# --- the schema ----------------------------------------------------------------------
if python3 -c 'import jsonschema' 2>/dev/null; then
  python3 - "$SCHEMA" "$d"/*.json <<'PY' || fail "a report does not match the schema"
import json, sys, jsonschema
v = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
bad = 0
for p in sys.argv[2:]:
    for e in list(v.iter_errors(json.load(open(p))))[:5]:
        print('%s: %s: %s' % (p, '/'.join(map(str, e.absolute_path)), e.message[:200]), file=sys.stderr)
        bad = 1
sys.exit(bad)
PY
  pass "$(ls "$d"/*.json | wc -l) reports, shards and merges, match the schema"
else
  echo "python3-jsonschema not installed: the schema check is skipped"
fi
