#!/usr/bin/env bash
# The tool's request options, compression, reruns, proxies and multiplex
# against the tests' nginx (tests/with-nginx.sh; every request in one access
# log: port, connection serial, status, User-Agent, Accept-Encoding,
# If-None-Match, X-Asyncdl-Test):
#   - -H sends the header, -A the User-Agent; URLs and names as arguments;
#   - Accept-Encoding by default, none with --no-compress; the gzip port's
#     documents saved decoded, byte-identical, fewer bytes on the wire;
#   - --update: a second run revalidates (If-None-Match), nginx answers 304,
#     the files stay as they were (inode, mtime) and the run says "not
#     modified"; a changed file, a garbled sidecar, a changed document are
#     downloaded again;
#   - --skip-existing makes no request for the files already there;
#   - credentials in a URL or a proxy never printed (stdout, stderr, JSON
#     report, HAR, waterfall);
#   - --proxy through a forward proxy (a small python one, counting);
#     http_proxy in the environment ignored without --proxy=env, used with;
#   - multiplex over nginx's HTTPS (HTTP/2): 151 documents byte-identical
#     over one connection; over its HTTP/1.1-only port it runs as parallel
#     and says so; --strategy=all shows the multiplex row only over HTTP/2;
#   - bad input: exit 2 with a message naming it.
#   - every report written matches docs/report.schema.json (when python3
#     has jsonschema).
# Usage: with-nginx.sh FIXTURE_GEN 0 test-cli-http.sh ASYNCDL SCHEMA
set -u
ASYNCDL=$1 SCHEMA=${2:-}
for v in ADL_NGINX_HTTP ADL_NGINX_HTTPS ADL_NGINX_HTTPS1 ADL_NGINX_GZIP \
         ADL_NGINX_CA ADL_NGINX_ROOT ADL_NGINX_LOG; do
  [ -n "${!v:-}" ] || { echo "SKIP: $v not set (run under with-nginx.sh)"; exit 77; }
done
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 77; }
d=$(mktemp -d)
proxy_pid=
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
  rm -rf "$d"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
DOCS=$ADL_NGINX_ROOT/api/v2/pokemon
CA=--cacert=$ADL_NGINX_CA
# The tool never reads the environment's proxies unless asked; make sure a
# developer's own does not reach the runs that should not see one.
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
port_of() { local p=${1#*://127.0.0.1:}; echo "${p%%/*}"; }

# The access log from a mark on: mark, then log_since.
mark() { mark_at=$(wc -l <"$ADL_NGINX_LOG"); }
log_since() { tail -n +"$((mark_at + 1))" "$ADL_NGINX_LOG"; }
# log_py EXPR: EXPR over rows = the new log lines as dicts, must hold.
log_py() {
  log_since >"$d/log.new"
  python3 - "$d/log.new" "$1" <<'PY' || { cat "$d/log.new" | head -5 >&2; fail "access log: $1"; }
import re, sys
rx = re.compile(r'^(\d+) (\d+) (\d+) (\d+) (\d+) (\S+) (\S+) "(.*?)" "(.*?)" "(.*?)" "(.*?)"$')
rows = []
for line in open(sys.argv[1], encoding='utf-8', errors='replace'):
    m = rx.match(line.rstrip('\n'))
    assert m, line
    k = ['port', 'conn', 'nreq', 'status', 'bytes', 'proto', 'uri', 'ua', 'ae', 'inm', 'x']
    r = dict(zip(k, m.groups()))
    for n in ('port', 'conn', 'nreq', 'status', 'bytes'):
        r[n] = int(r[n])
    rows.append(r)
ok = eval("(" + sys.argv[2] + ")")
assert ok, (sys.argv[2], len(rows), rows[:3])
PY
}
# run NAME ARGS...: the tool, its stdout and stderr kept as $d/NAME.out/.err.
run() {
  local name=$1
  shift
  "$ASYNCDL" "$@" >"$d/$name.out" 2>"$d/$name.err"
  rc=$?
}
must() { # run that must exit 0
  run "$@"
  [ "$rc" = 0 ] || { cat "$d/$1.err" >&2; fail "$1: exit $rc"; }
}
# json REPORT EXPR
json() {
  python3 - "$1" "$2" <<'PY' || fail "report $1: $2"
import json, sys
doc = json.load(open(sys.argv[1]))
runs = doc["runs"]
items = [i for r in runs for i in r["items"]]
out = {}
for i in items:
    out[i["outcome"]] = out.get(i["outcome"], 0) + 1
assert eval("(" + sys.argv[2] + ")"), (sys.argv[2], out, [r.get("summary") for r in runs][:1])
PY
}
same_docs() { # OUTDIR [N]: every file equals the served document
  local out=$1 want=${2:-151} n=0 f
  for f in "$out"/*.json; do
    cmp -s "$f" "$DOCS/$(basename "$f" .json)" || fail "$out: $(basename "$f") differs"
    n=$((n + 1))
  done
  [ "$n" = "$want" ] || fail "$out: $n documents, want $want"
  ls -A "$out" | grep -q 'tmp\|part' && fail "$out: temporary file left"
  return 0
}

# --- request options ----------------------------------------------------------
tag="h4-$$-$RANDOM"
mark
must hdr --strategy=session --base-url="$ADL_NGINX_HTTP" -q \
  -H "X-Asyncdl-Test: $tag" --header='X-Other: 1' -A "h4-agent/1.0 ($tag)" \
  pikachu "${ADL_NGINX_HTTP}mew" bulbasaur
log_py "len(rows) == 3 and all(r['x'] == '$tag' and r['ua'] == 'h4-agent/1.0 ($tag)' for r in rows)
 and sorted(r['uri'].rsplit('/', 1)[1] for r in rows) == ['bulbasaur', 'mew', 'pikachu']"
pass "-H and -A reach the server; URLs and names as arguments"
mark
must ua --strategy=serial --base-url="$ADL_NGINX_HTTP" -q mew
log_py "len(rows) == 1 and rows[0]['ua'].startswith('asyncdl/') and rows[0]['x'] == '-'"
pass "default User-Agent asyncdl/VERSION, no extra header"

# --- compression --------------------------------------------------------------
mark
must ae --strategy=parallel --base-url="$ADL_NGINX_HTTP" -q mew pikachu
log_py "len(rows) == 2 and all('gzip' in r['ae'] for r in rows)"
ae=$(log_since | head -n 1 | sed 's/.*" "\(.*\)" ".*" ".*"$/\1/')
mark
must noae --strategy=parallel --base-url="$ADL_NGINX_HTTP" --no-compress -q mew pikachu
log_py "len(rows) == 2 and all(r['ae'] == '-' for r in rows)"
pass "Accept-Encoding: $ae by default, none with --no-compress"

mark
must gz --strategy=parallel --base-url="$ADL_NGINX_GZIP" --out="$d/gz" \
  --json="$d/gz.json"
same_docs "$d/gz"
log_py "len(rows) == 151 and all(r['port'] == $(port_of "$ADL_NGINX_GZIP") for r in rows)"
# nginx counts the chunked framing of its gzip answers too (a few bytes a
# chunk); the tool counts the compressed body itself.
sent=$(log_since | awk '{s += $5} END {print s}')
decoded=$(cat "$DOCS"/* | wc -c)
json "$d/gz.json" "out == {'ok': 151}
 and $sent - 151 * 64 <= sum(i['wire_bytes'] for i in items) <= $sent
 and sum(i['bytes'] for i in items) == $decoded
 and runs[0]['summary']['wire_bytes'] == sum(i['wire_bytes'] for i in items)
 and doc['comparison'][0]['wire_bytes'] == runs[0]['summary']['wire_bytes']"
wire=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["runs"][0]["summary"]["wire_bytes"])' "$d/gz.json")
[ "$wire" -lt $((decoded / 3)) ] || fail "gzip: $wire bytes on the wire for $decoded decoded"
grep -q "wire MB" "$d/gz.out" || fail "gzip: no wire MB column"
pass "gzip port: 151 documents saved decoded and byte-identical; $wire bytes on the wire for $decoded"
mark
must gz0 --strategy=parallel --base-url="$ADL_NGINX_GZIP" --no-compress \
  --out="$d/gz0" --json="$d/gz0.json" -q
same_docs "$d/gz0"
json "$d/gz0.json" "sum(i['wire_bytes'] for i in items) == $decoded"
pass "gzip port with --no-compress: $decoded bytes on the wire"

# --- --update: revalidation -----------------------------------------------------
snap() { (cd "$1" && stat -c '%n %i %Y.%y %s' *.json) >"$2"; }
mark
must up1 --strategy=parallel --base-url="$ADL_NGINX_HTTP" --out="$d/up" --update -q
same_docs "$d/up"
[ "$(ls -A "$d/up/.asyncdl" | grep -c '\.json\.validators$')" = 151 ] ||
  fail "--update: sidecars missing: $(ls -A "$d/up/.asyncdl" | head)"
ls -A "$d/up/.asyncdl" | grep -v '\.json\.validators$' && fail "--update: stray files in .asyncdl"
grep -q '^etag "' "$d/up/.asyncdl/mew.json.validators" || fail "--update: no ETag kept"
log_py "len(rows) == 151 and all(r['status'] == 200 and r['inm'] == '-' for r in rows)"
snap "$d/up" "$d/up.before"
mark
must up2 --strategy=parallel --base-url="$ADL_NGINX_HTTP" --out="$d/up" --update \
  --json="$d/up2.json"
# (nginx logs the ETag's quotes as \x22.)
log_py "len(rows) == 151 and all(r['status'] == 304 and r['inm'].startswith('\\\\x22') for r in rows)"
snap "$d/up" "$d/up.after"
cmp -s "$d/up.before" "$d/up.after" || { diff "$d/up.before" "$d/up.after" | head >&2; fail "--update: a file was touched by a 304"; }
same_docs "$d/up"
grep -q "151/151 ok, 151 not modified" "$d/up2.err" || { cat "$d/up2.err" >&2; fail "--update: no 'not modified' in the run line"; }
json "$d/up2.json" "out == {'not_modified': 151} and runs[0]['summary']['not_modified'] == 151
 and all(i['http_status'] == 304 and i['bytes'] == 0 for i in items)"
pass "--update: 151 revalidated with If-None-Match, 304, files untouched (inode, mtime)"

# A file changed here, a garbled sidecar, a document changed on the server:
# each downloaded again (200), the rest 304.
echo ' ' >>"$d/up/mew.json"
printf 'asyncdl-validators 1\nsize 1' >"$d/up/.asyncdl/pikachu.json.validators"
cp "$DOCS/bulbasaur" "$d/bulbasaur.orig"
printf ' ' >>"$DOCS/bulbasaur"
mark
must up3 --strategy=parallel --base-url="$ADL_NGINX_HTTP" --out="$d/up" --update -q
log_py "len(rows) == 151 and sorted(r['uri'].rsplit('/', 1)[1] for r in rows if r['status'] == 200) == ['bulbasaur', 'mew', 'pikachu']
 and sum(r['status'] == 304 for r in rows) == 148
 and [r['inm'] for r in rows if r['uri'].endswith(('/mew', '/pikachu'))] == ['-', '-']"
cmp -s "$d/up/mew.json" "$DOCS/mew" && cmp -s "$d/up/bulbasaur.json" "$DOCS/bulbasaur" ||
  fail "--update: changed documents not downloaded again"
cp "$d/bulbasaur.orig" "$DOCS/bulbasaur"
cp "$DOCS/bulbasaur" "$d/up/bulbasaur.json"
pass "--update: a changed file, a garbled sidecar, a changed document: downloaded again"

# --- --skip-existing --------------------------------------------------------------
mark
must sk1 --strategy=parallel --base-url="$ADL_NGINX_HTTP" --out="$d/up" --skip-existing \
  --json="$d/sk1.json"
log_py "len(rows) == 0"
grep -q "0/0 ok, 151 skipped" "$d/sk1.err" || { cat "$d/sk1.err" >&2; fail "--skip-existing: run line"; }
json "$d/sk1.json" "out == {'skipped': 151} and runs[0]['summary']['skipped'] == 151
 and runs[0]['summary']['requests'] == 0"
grep -q "skipped" "$d/sk1.out" || fail "--skip-existing: no skipped column in the table"
rm "$d/up/mew.json" "$d/up/onix.json"
mark
must sk2 --strategy=all --base-url="$ADL_NGINX_HTTP" --out="$d/up" --skip-existing -q
# Decided once: every strategy fetches the same two (multiplex runs as
# parallel over plain http and is left out of the table).
log_py "len(rows) == 8 and sorted(set(r['uri'].rsplit('/', 1)[1] for r in rows)) == ['mew', 'onix']"
same_docs "$d/up"
pass "--skip-existing: no request for files already there; 2 missing fetched by each strategy"

# --- credentials never printed ------------------------------------------------------
hp=$(port_of "$ADL_NGINX_HTTP")
run cred --strategy=parallel --json="$d/cred.json" --har="$d/cred.har" \
  --waterfall="$d/cred.svg" --out="$d/cred" \
  "http://alice:s3cr3t-pw@127.0.0.1:$hp/api/v2/pokemon/mew" \
  "http://tok3n-value@127.0.0.1:$hp/api/v2/pokemon/pikachu" \
  "http://bob:s3cr3t-pw@127.0.0.1:1/refused"
[ "$rc" = 1 ] || { cat "$d/cred.err" >&2; fail "credentials: exit $rc, want 1"; }
if grep -l -e 's3cr3t' -e 'tok3n' "$d/cred.out" "$d/cred.err" "$d/cred.json" \
     "$d/cred.har" "$d/cred.svg"; then
  fail "a credential was printed"
fi
grep -q "http://bob:\*\*\*@127.0.0.1:1/refused" "$d/cred.err" || { cat "$d/cred.err" >&2; fail "credentials: masked URL not in the failure line"; }
json "$d/cred.json" "sorted(i['url'] for i in items) == ['http://***@127.0.0.1:$hp/api/v2/pokemon/pikachu',
 'http://alice:***@127.0.0.1:$hp/api/v2/pokemon/mew', 'http://bob:***@127.0.0.1:1/refused']"
grep -q 'alice:\*\*\*@' "$d/cred.har" && grep -q 'alice:\*\*\*@' "$d/cred.svg" ||
  fail "credentials: HAR or waterfall lacks the masked URL"
run cred2 "http://u:s3cr3t-pw@127.0.0.1:$hp/a b"
[ "$rc" = 2 ] && grep -q "argument 1" "$d/cred2.err" && ! grep -q s3cr3t "$d/cred2.err" ||
  { cat "$d/cred2.err" >&2; fail "credentials: a bad URL's message"; }
pass "credentials masked in stdout, stderr, report, HAR and waterfall"

# --- proxies ---------------------------------------------------------------------
cat >"$d/proxy.py" <<'PY'
# A forward proxy for plain http: one log line per request it relays
# ("METHOD URL AUTH", AUTH = the Proxy-Authorization it got, or "-").
import http.client, http.server, socketserver, sys, urllib.parse
log = open(sys.argv[1], 'a', buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        log.write('%s %s %s\n' % (self.command, self.path,
                  self.headers.get('Proxy-Authorization', '-').replace(' ', '_')))
        c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
        hop = {'proxy-authorization', 'proxy-connection', 'connection', 'keep-alive'}
        c.request('GET', u.path + ('?' + u.query if u.query else ''),
                  headers={k: v for k, v in self.headers.items() if k.lower() not in hop})
        r = c.getresponse()
        body = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in hop | {'transfer-encoding', 'content-length'}:
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$d/proxy.py" "$d/proxy.log" >"$d/proxy.port" &
proxy_pid=$!
for _ in $(seq 1 100); do [ -s "$d/proxy.port" ] && break; sleep 0.05; done
pp=$(head -n 1 "$d/proxy.port")
[ -n "$pp" ] || fail "the test proxy did not start"
: >"$d/proxy.log"
must px1 --strategy=parallel --base-url="$ADL_NGINX_HTTP" \
  --proxy="http://pu:pr0xy-pw@127.0.0.1:$pp" --out="$d/px" --json="$d/px.json"
[ "$(wc -l <"$d/proxy.log")" = 151 ] || fail "--proxy: $(wc -l <"$d/proxy.log") requests through the proxy, want 151"
grep -vq 'GET http://127.0.0.1:.* Basic_' "$d/proxy.log" && fail "--proxy: a request without the proxy's credentials"
same_docs "$d/px"
grep -q "proxy: http://pu:\*\*\*@127.0.0.1:$pp (--proxy)" "$d/px1.err" || { cat "$d/px1.err" >&2; fail "--proxy: banner"; }
grep -l pr0xy-pw "$d/px1.out" "$d/px1.err" "$d/px.json" && fail "--proxy: the proxy's password was printed"
pass "--proxy: 151 requests through the proxy with its credentials, banner masked"
: >"$d/proxy.log"
mark
http_proxy="http://127.0.0.1:$pp" run px2 --strategy=parallel --base-url="$ADL_NGINX_HTTP" pikachu mew
[ "$rc" = 0 ] || { cat "$d/px2.err" >&2; fail "http_proxy set: exit $rc"; }
[ ! -s "$d/proxy.log" ] || fail "http_proxy used without --proxy=env"
log_py "len(rows) == 2"
grep -q "note: http_proxy is set but ignored" "$d/px2.err" || { cat "$d/px2.err" >&2; fail "http_proxy: no note"; }
http_proxy="http://e:env-pw@127.0.0.1:$pp" run px3 --proxy=env --strategy=parallel \
  --base-url="$ADL_NGINX_HTTP" pikachu mew
[ "$rc" = 0 ] || { cat "$d/px3.err" >&2; fail "--proxy=env: exit $rc"; }
[ "$(wc -l <"$d/proxy.log")" = 2 ] || fail "--proxy=env: $(wc -l <"$d/proxy.log") through the proxy, want 2"
grep -q "proxies from the environment (--proxy=env): http_proxy=http://e:\*\*\*@127.0.0.1:$pp" "$d/px3.err" ||
  { cat "$d/px3.err" >&2; fail "--proxy=env: banner"; }
grep -q env-pw "$d/px3.err" "$d/px3.out" && fail "--proxy=env: password printed"
: >"$d/proxy.log"
NO_PROXY=127.0.0.1 http_proxy="http://127.0.0.1:$pp" run px4 --proxy=env \
  --strategy=parallel --base-url="$ADL_NGINX_HTTP" pikachu
[ "$rc" = 0 ] && [ ! -s "$d/proxy.log" ] || fail "--proxy=env: NO_PROXY not honoured"
pass "http_proxy ignored without --proxy=env (and said so), honoured with it, NO_PROXY too"
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null; proxy_pid=

# --- multiplex ------------------------------------------------------------------
sp=$(port_of "$ADL_NGINX_HTTPS")
mark
must mx --strategy=multiplex --base-url="$ADL_NGINX_HTTPS" "$CA" --out="$d/mx" \
  --json="$d/mx.json"
same_docs "$d/mx"
log_py "len(rows) == 151 and len(set(r['conn'] for r in rows)) == 1
 and all(r['proto'] == 'HTTP/2.0' and r['port'] == $sp for r in rows)"
json "$d/mx.json" "out == {'ok': 151} and all(i['http_version'] == '2' for i in items)
 and runs[0]['summary']['ran_as'] is None and runs[0]['summary']['connections_opened'] == 1"
grep -q "does not speak HTTP/2" "$d/mx.err" && fail "multiplex over h2 said no HTTP/2"
pass "multiplex over nginx https: 151 documents byte-identical over one connection (HTTP/2)"
mark
must mx1 --strategy=multiplex --base-url="$ADL_NGINX_HTTPS1" "$CA" --json="$d/mx1.json"
grep -q "multiplex: https://127.0.0.1:$(port_of "$ADL_NGINX_HTTPS1") does not speak HTTP/2: multiplex ran as parallel" "$d/mx1.err" ||
  { cat "$d/mx1.err" >&2; fail "multiplex over HTTP/1.1: not said"; }
json "$d/mx1.json" "out == {'ok': 151} and runs[0]['summary']['ran_as'] == 'parallel'
 and doc['comparison'][0]['ran_as'] == 'parallel'"
log_py "len(rows) == 151 and 2 <= len(set(r['conn'] for r in rows)) <= 6"
pass "multiplex over an HTTP/1.1-only server: ran as parallel, said and recorded"
must all1 --strategy=all --base-url="$ADL_NGINX_HTTPS1" "$CA" -q --json="$d/all1.json"
rows_re='^(serial|session|parallel|multiplex) +[0-9]+\.[0-9]{3} '
grep -qE '^multiplex +[0-9]+\.[0-9]{3} ' "$d/all1.out" && fail "--strategy=all: a multiplex row without HTTP/2"
grep -q "its row is left out of the table" "$d/all1.err" || fail "--strategy=all: the left-out row not said"
json "$d/all1.json" "len(runs) == 4 and [c['strategy'] for c in doc['comparison']] == ['serial', 'session', 'parallel']"
must all2 --strategy=all --base-url="$ADL_NGINX_HTTPS" "$CA" -q --json="$d/all2.json"
[ "$(grep -cE "$rows_re" "$d/all2.out")" = 4 ] ||
  { cat "$d/all2.out" "$d/all2.err" >&2; fail "--strategy=all over HTTP/2: not four rows"; }
json "$d/all2.json" "[c['strategy'] for c in doc['comparison']] == ['serial', 'session', 'parallel', 'multiplex']"
pass "--strategy=all: four rows over HTTP/2, three (and a word) without"

# --- bad input ---------------------------------------------------------------------
bad() { # CODE PATTERN ARGS...
  local code=$1 pattern=$2
  shift 2
  run bad "$@"
  [ "$rc" = "$code" ] && grep -q -- "$pattern" "$d/bad.err" ||
    { cat "$d/bad.err" >&2; fail "$*: exit $rc (want $code) or no '$pattern'"; }
}
bad 2 "argument 2: name 'pika chu'" mew "pika chu"
bad 2 "argument 1: unsupported scheme 'ftp'" ftp://h/x
bad 2 "not both" --list="$d/none.txt" mew
bad 2 "--proxy: 'bogus' is not a proxy URL" --proxy=bogus mew
bad 2 "--header: the header starting 'Authorization' has no ':'" -H 'Authorization Bearer x' mew
bad 2 "--update: needs --out" --update mew
bad 2 "--streams: only meaningful" --strategy=serial --streams=4 mew
pass "bad input: exit 2, the input named"

# --- the reports against the schema ------------------------------------------------
if [ -n "$SCHEMA" ] && python3 -c 'import jsonschema' 2>/dev/null; then
  python3 - "$SCHEMA" "$d"/*.json <<'PY' || fail "a report does not match the schema"
import json, sys
import jsonschema
v = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))
bad = 0
for p in sys.argv[2:]:
    for e in list(v.iter_errors(json.load(open(p))))[:5]:
        bad += 1
        print('%s: %s: %s' % (p, '/'.join(map(str, e.absolute_path)), e.message[:200]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  pass "$(ls "$d"/*.json | wc -l) reports (skipped, not modified, ran as parallel, masked) match the schema"
else
  echo "jsonschema not available: reports not validated"
fi
