#!/usr/bin/env bash
# --har=FILE end to end on the --local fixture: every strategy over the
# built-in list, and a list with failures (a 404 and a refused connection
# whose URL has a query string). The archives are checked with python3
# (pages, entries, references, timings adding up to `time`) and with the
# npm package har-validator (the HAR 1.2 JSON schema), which must also
# reject a broken copy. npm is installed with apt when missing; the test is
# skipped (77) only when the npm registry cannot be reached.
# Usage: test-har.sh ASYNCDL
set -u
ASYNCDL=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# --- the runs ---------------------------------------------------------------
"$ASYNCDL" --strategy=all --local --rtt=2 --har="$d/all.har" -q \
  >/dev/null 2>"$d/err" || { cat "$d/err" >&2; fail "--strategy=all exit $?"; }
printf 'pikachu\nno-such-pokemon\nmew\nhttp://127.0.0.1:1/refused?a=1&b=x%%20y&flag\n' \
  >"$d/mixed.txt"
"$ASYNCDL" --strategy=all --local --rtt=2 --list="$d/mixed.txt" \
  --har="$d/mixed.har" -q >/dev/null 2>"$d/err"
rc=$?
[ $rc = 1 ] || { cat "$d/err" >&2; fail "mixed list: exit $rc, want 1"; }
[ "$(ls "$d" | grep -c tmp)" = 0 ] || fail "temporary file left: $(ls "$d")"
pass "--har written for a clean run and a run with failures"

# --- structure and timings (python3) ----------------------------------------
# har_check FILE PAGES PER-PAGE: the common checks, then prints a summary.
har_check() {
  python3 - "$@" "$("$ASYNCDL" --version | head -1)" <<'PY' || fail "python check of $1"
import json, re, sys
path, npages, per_page, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
log = json.load(open(path, encoding="utf-8"))["log"]
assert log["version"] == "1.2", log["version"]
assert log["creator"]["name"] == "asyncdl"
assert version.split()[:2] == ["asyncdl", log["creator"]["version"]], (version, log["creator"])
date = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
pages = log["pages"]
assert len(pages) == npages, len(pages)
ids = [p["id"] for p in pages]
assert len(set(ids)) == len(ids), ids
for p in pages:
    assert date.match(p["startedDateTime"]), p
    assert p["pageTimings"]["onContentLoad"] == -1
    assert p["pageTimings"]["onLoad"] > 0, p
count = {i: 0 for i in ids}
phases = ("blocked", "dns", "connect", "send", "wait", "receive")
for e in log["entries"]:
    count[e["pageref"]] += 1
    assert date.match(e["startedDateTime"]), e
    t = e["timings"]
    assert all(t[k] >= -1 for k in phases + ("ssl",)), t
    assert all(t[k] >= 0 for k in ("send", "wait", "receive", "blocked")), t
    assert t["ssl"] == -1 or 0 <= t["ssl"] <= t["connect"], t
    total = sum(t[k] for k in phases if t[k] >= 0)
    assert abs(e["time"] - total) <= 1, (e["time"], total, t)
    q, r = e["request"], e["response"]
    assert q["method"] == "GET" and q["url"].startswith("http://"), q
    assert q["httpVersion"] in ("HTTP/1.0", "HTTP/1.1", "HTTP/2"), q
    assert r["bodySize"] == (r["content"]["size"] - r["content"].get("compression", 0)
                             if r["status"] else -1), r
    assert ("_error" in r) == (r["status"] != 200), r
    assert r["content"]["mimeType"] in ("application/json", ""), r
assert all(n == per_page for n in count.values()), count
print(json.dumps({i: count[i] for i in ids}))
PY
}
# all: serial, session, parallel and multiplex (the fixture speaks HTTP/2).
har_check "$d/all.har" 4 151
har_check "$d/mixed.har" 4 4
python3 - "$d/all.har" "$d/mixed.har" <<'PY' || fail "run-specific checks"
import json, sys
entries = json.load(open(sys.argv[1]))["log"]["entries"]
assert all(e["response"]["status"] == 200 for e in entries)
# one connection per request with serial, all on one with session
ports = {}
for e in entries:
    ports.setdefault(e["pageref"], set()).add(e.get("connection"))
assert len(ports["serial-1"]) == 151 and len(ports["session-1"]) == 1, \
    {k: len(v) for k, v in ports.items()}
reused = [e for e in entries if e["pageref"] == "session-1" and e["timings"]["connect"] == -1]
assert len(reused) == 150, len(reused)
mixed = json.load(open(sys.argv[2]))["log"]["entries"]
by_url = {}
for e in mixed:
    by_url.setdefault(e["request"]["url"].rsplit("/", 1)[-1], []).append(e)
assert all(e["response"]["status"] == 404 and e["response"]["_error"] == "EHTTP"
           for e in by_url["no-such-pokemon"]), by_url["no-such-pokemon"]
refused = by_url["refused?a=1&b=x%20y&flag"]
assert all(e["response"]["status"] == 0 and e["response"]["_error"] == "ECONNREFUSED"
           for e in refused), refused
want = [{"name": "a", "value": "1"}, {"name": "b", "value": "x%20y"},
        {"name": "flag", "value": ""}]
assert all(e["request"]["queryString"] == want for e in refused), refused
assert all(e["response"]["content"]["mimeType"] == "application/json"
           for e in by_url["mew"] + by_url["pikachu"])
PY
pass "python3: pages, entries, timings add up to time, failures and queries"

# --- an unwritable --har is refused before any download (exit 2) -----------
"$ASYNCDL" --strategy=serial --local --rtt=0 --list="$d/mixed.txt" \
  --har="$d/no/such/dir.har" -q >/dev/null 2>"$d/err"
rc=$?
[ $rc = 2 ] || fail "--har into a missing directory: exit $rc, expected 2"
grep -q -- "--har: cannot write in '$d/no/such'" "$d/err" || { cat "$d/err" >&2; fail "--har error does not name the directory"; }
grep -q "run 1/1" "$d/err" && fail "--har into a missing directory: downloads ran anyway"
pass "--har into a missing directory: refused before any download (exit 2)"

# --- har-validator (npm) ----------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >"$d/apt.log" 2>&1 ||
      cat "$d/apt.log" >&2
  fi
  command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit 77; }
fi
mkdir "$d/npm"
if ! (cd "$d/npm" && npm install --no-audit --no-fund --no-save \
        --cache="$d/npm-cache" har-validator) >"$d/npm.log" 2>&1; then
  if ! npm ping --cache="$d/npm-cache" >/dev/null 2>&1; then
    echo "SKIP: the npm registry cannot be reached"; exit 77
  fi
  cat "$d/npm.log" >&2
  fail "npm install har-validator"
fi
cat >"$d/npm/validate.js" <<'JS'
// node validate.js FILE: "valid", or the schema errors and exit 1.
const fs = require("fs");
const validator = require("har-validator");
const file = process.argv[2];
const data = JSON.parse(fs.readFileSync(file, "utf8"));
validator.har(data).then(
  () => console.log(`${file}: valid HAR (${data.log.entries.length} entries)`),
  (e) => {
    console.log(`${file}: INVALID`);
    for (const x of e.errors || [e]) console.log(JSON.stringify(x));
    process.exit(1);
  });
JS
for h in all mixed; do
  node "$d/npm/validate.js" "$d/$h.har" || fail "har-validator rejected $h.har"
done
# The validator can fail: an entry without "request", a page without "id".
python3 - "$d/mixed.har" "$d/broken.har" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
del doc["log"]["entries"][1]["request"]
json.dump(doc, open(sys.argv[2], "w"))
PY
node "$d/npm/validate.js" "$d/broken.har" >"$d/broken.out" && fail "broken HAR accepted"
cat "$d/broken.out"
grep -q "request" "$d/broken.out" || fail "the error does not name the missing request"
pass "har-validator accepts both archives and rejects a broken copy"
