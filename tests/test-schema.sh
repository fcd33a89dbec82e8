#!/usr/bin/env bash
# The JSON report against its schema (docs/report.schema.json, draft-07),
# on the tool's real output from its --local fixture server:
#   - every strategy, all ok (exit 0);
#   - --repeat=2 over a list with successes and failures (a 404 -> EHTTP,
#     a closed port -> ECONNREFUSED) and --out, so "file" is set (exit 1);
#   - --json=-: stdout is the report alone and parses, the table is on
#     stderr.
# Each report is validated with python3-jsonschema (Draft7Validator, no
# format checker); any error fails the test. Negative controls first show
# that the validator does reject a mutated report and a mutated schema.
# Skipped (77) without python3 or its jsonschema module.
# Usage: test-schema.sh ASYNCDL SCHEMA
set -u
ASYNCDL=$1
SCHEMA=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
python3 -c 'import jsonschema' 2>/dev/null ||
  { echo "SKIP: no python3 jsonschema module (Debian: python3-jsonschema)"; exit 77; }

# validate SCHEMA REPORT...: prints one line per report, each error on
# stderr; exit 1 when any report (or the schema itself) is invalid.
validate() {
  python3 - "$@" <<'PY'
import json, sys
import jsonschema

schema = json.load(open(sys.argv[1], encoding='utf-8'))
jsonschema.Draft7Validator.check_schema(schema)

# Every field is documented: each property of each object has a description.
def undocumented(node, where):
    if isinstance(node, dict):
        for name, sub in node.get('properties', {}).items():
            if 'description' not in sub:
                yield where + '/' + name
        for key, sub in node.items():
            yield from undocumented(sub, where + '/' + key)
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from undocumented(sub, '%s/%d' % (where, i))
missing = list(undocumented(schema, '#'))
for m in missing:
    print('%s: property without a description: %s' % (sys.argv[1], m), file=sys.stderr)

v = jsonschema.Draft7Validator(schema)  # format_checker off
bad = bool(missing)
for path in sys.argv[2:]:
    doc = json.load(open(path, encoding='utf-8'))
    errs = sorted(v.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    for e in errs[:20]:
        print('%s: %s: %s' % (path, '/'.join(str(p) for p in e.absolute_path) or '(root)',
                              e.message[:300]), file=sys.stderr)
    if len(errs) > 20:
        print('%s: ... and %d more' % (path, len(errs) - 20), file=sys.stderr)
    print('%s: %s' % (path, 'valid' if not errs else '%d schema errors' % len(errs)))
    bad = bad or bool(errs)
sys.exit(1 if bad else 0)
PY
}

# check REPORT PYTHON-EXPR: what the schema cannot say (counts agree).
check() {
  python3 - "$1" "$2" <<'PY' || fail "$1: $2"
import json, sys
doc = json.load(open(sys.argv[1], encoding='utf-8'))
runs = doc['runs']
items = [i for r in runs for i in r['items']]
outcomes = {}
for i in items:
    outcomes[i['outcome']] = outcomes.get(i['outcome'], 0) + 1
for r in runs:
    s = r['summary']
    assert s is not None and s['requests'] == len(r['items']) == s['ok'] + s['failed'], r['strategy']
    assert s['ok'] == sum(i['outcome'] == 'ok' for i in r['items'])
    assert s['bytes'] == sum(i['bytes'] for i in r['items'])
    assert s['strategy'] == r['strategy'] and s['max_connections'] == r['max_connections']
assert eval(sys.argv[2]), (sys.argv[2], outcomes, [(r['strategy'], r['repeat']) for r in runs])
PY
}

# --- the reports ------------------------------------------------------------
"$ASYNCDL" --strategy=all --local --rtt=0 --json="$d/all.json" >"$d/all.out" 2>"$d/all.err" ||
  { cat "$d/all.err" >&2; fail "--strategy=all --local exited $?"; }
check "$d/all.json" 'outcomes == {"ok": 604} and [r["repeat"] for r in runs] == [1, 1, 1, 1]'

printf 'pikachu\nno-such-pokemon\nmew\nhttp://127.0.0.1:1/refused\n' >"$d/mixed.txt"
"$ASYNCDL" --strategy=all --repeat=2 --local --rtt=0 --list="$d/mixed.txt" \
  --out="$d/out" --json="$d/mixed.json" >"$d/mixed.out" 2>"$d/mixed.err"
rc=$?
[ $rc = 1 ] || { cat "$d/mixed.err" >&2; fail "mixed list: exit $rc, want 1"; }
check "$d/mixed.json" '(outcomes == {"ok": 16, "EHTTP": 8, "ECONNREFUSED": 8}
 and sorted(r["repeat"] for r in runs) == [1, 1, 1, 1, 2, 2, 2, 2]
 and all(c["repeats"] == 2 for c in doc["comparison"])
 and all(i["file"].startswith(sys.argv[1].rsplit("/", 1)[0] + "/out/") for i in items))'
grep -q "run 2/2" "$d/mixed.err" || fail "mixed: no 'run 2/2' progress line"

# --json=-: the report alone on stdout, the table with the progress lines.
"$ASYNCDL" --strategy=session --local --rtt=0 --json=- >"$d/stdout.json" 2>"$d/stdout.err" ||
  { cat "$d/stdout.err" >&2; fail "--json=- exited $?"; }
python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$d/stdout.json" ||
  { head -c 2000 "$d/stdout.json" >&2; fail "--json=-: stdout is not one JSON document"; }
grep -q '^strategy  wall s' "$d/stdout.err" || fail "--json=-: no table on stderr"
grep -q '1 connection$' "$d/stdout.err" || fail "--json=-: progress line not singular"
check "$d/stdout.json" 'outcomes == {"ok": 151} and len(runs) == 1'
pass "--json=- writes only the report to stdout (table on stderr), and it parses"

# --- negative controls: the validator does fail -----------------------------
python3 - "$d/all.json" "$d/bad-report.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc['runs'][0]['connections'] = doc['runs'][0].pop('max_connections')  # a renamed field
doc['runs'][1]['repeat'] = 0                                            # counted from 0
json.dump(doc, open(sys.argv[2], 'w'))
PY
if validate "$SCHEMA" "$d/bad-report.json" >"$d/neg.out" 2>"$d/neg.err"; then
  fail "a mutated report passed validation"
fi
grep -q "max_connections' is a required property" "$d/neg.err" &&
  grep -q "'connections' was unexpected" "$d/neg.err" &&
  grep -q "runs/1/repeat: 0 is less than the minimum of 1" "$d/neg.err" ||
  { cat "$d/neg.err" >&2; fail "the mutated report failed for other reasons"; }
python3 - "$SCHEMA" "$d/bad-schema.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s['definitions']['item']['required'].append('retry_after_ms')  # a field the tool does not write
del s['definitions']['summary']['properties']['ok_per_s']['description']
json.dump(s, open(sys.argv[2], 'w'))
PY
if validate "$d/bad-schema.json" "$d/all.json" >"$d/neg.out" 2>"$d/neg.err"; then
  fail "a mutated schema passed"
fi
grep -q "'retry_after_ms' is a required property" "$d/neg.err" &&
  grep -q "property without a description: .*ok_per_s" "$d/neg.err" ||
  { cat "$d/neg.err" >&2; fail "the mutated schema failed for other reasons"; }
pass "the validator rejects a mutated report and a mutated schema"

# --- the real reports -------------------------------------------------------
validate "$SCHEMA" "$d/all.json" "$d/mixed.json" "$d/stdout.json" ||
  fail "a report does not match $SCHEMA"
pass "every report matches the schema"
