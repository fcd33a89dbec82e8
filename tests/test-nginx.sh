#!/usr/bin/env bash
# asyncdl against a real nginx (HTTP/1.1 and TLS 1.3 + HTTP/2, private CA)
# with names resolved by c-ares through a private dnsmasq (ADL_DNS_SERVER,
# from with-dnsmasq.sh). Every strategy downloads the 151 documents, which
# must be byte-identical to the files nginx serves; TLS must be refused
# without the CA and accepted with --cacert. Exit 77 without nginx.
# Usage: with-dnsmasq.sh test-nginx.sh ASYNCDL FIXTURE_GEN
set -u
ASYNCDL=$1
FIXTURE_GEN=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/system/nginx.sh"
[ -n "${ADL_DNS_SERVER:-}" ] || { echo "no ADL_DNS_SERVER" >&2; exit 77; }
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
  { echo "nginx not installed: skipping" >&2; exit 77; }

d=$(mktemp -d)
cleanup() { stop_nginx; rm -rf "$d"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$FIXTURE_GEN" "$d/www" >/dev/null || fail "fixture generation"
start_nginx "$d" "$d/www" || fail "nginx did not start"
dns="--dns-server=$ADL_DNS_SERVER"

check_dir() { # every downloaded file equals the served one
  local out=$1 n=0 f
  for f in "$d/www/api/v2/pokemon/"*; do
    cmp -s "$f" "$out/$(basename "$f").json" || fail "$out: $(basename "$f") differs"
    n=$((n + 1))
  done
  [ "$n" = 151 ] || fail "expected 151 documents, saw $n"
  ls "$out" | grep -q part && fail "temporary file left in $out"
  return 0
}

# Full TLS handshakes and resumed ones, counted by nginx ("r" = resumed),
# per connection, for the run just made.
tls_counts() {
  [ -f "$d/tls.log" ] || { echo "0 0"; return; }
  sort -u "$d/tls.log" | awk '$2 == "r" {r++} $2 != "r" {f++}
    END {print f + 0, r + 0}'
  : >"$d/tls.log"
}

for scheme in http https; do
  if [ $scheme = http ]; then port=$HTTP_PORT; tls=; else port=$HTTPS_PORT; tls="--cacert=$d/ca.pem"; fi
  base="$scheme://pokeapi.test:$port/api/v2/pokemon/"
  for s in serial session parallel; do
    out="$d/out-$scheme-$s"
    : >"$d/tls.log"
    "$ASYNCDL" --strategy=$s --base-url="$base" $dns $tls --out="$out" \
      --json="$d/$scheme-$s.json" >"$d/stdout" 2>"$d/stderr" ||
      { cat "$d/stderr" >&2; fail "$scheme $s exited $?"; }
    check_dir "$out"
    python3 - "$d/$scheme-$s.json" "$s" <<'PY' || fail "$scheme $s: report"
import json, sys
doc = json.load(open(sys.argv[1]))
run = doc["runs"][0]
items = run["items"]
assert len(items) == 151, len(items)
assert all(i["outcome"] == "ok" for i in items)
assert all(i["http_version"] == "1.1" for i in items)  # the default
conns = sum(i["new_connections"] for i in items)
want = {"serial": (151, 151), "session": (1, 1), "parallel": (2, 6)}[sys.argv[2]]
assert want[0] <= conns <= want[1], (sys.argv[2], conns)
PY
    if [ $scheme = https ]; then
      # serial models a fresh client per request: never a resumed TLS
      # session; parallel's later connections resume the first ones'.
      read -r full resumed < <(tls_counts)
      echo "ok: https $s: $full full TLS handshakes, $resumed resumed"
      case $s in
        serial) [ "$resumed" = 0 ] && [ "$full" = 151 ] ||
          fail "serial resumed TLS sessions ($full full, $resumed resumed)" ;;
        session) [ $((full + resumed)) = 1 ] ||
          fail "session: $full + $resumed TLS connections" ;;
      esac
    fi
    echo "ok: $scheme $s: 151 documents byte-identical"
  done
done

# --http2 over TLS: ALPN h2, still one request per connection at a time,
# so parallel K opens K connections rather than multiplexing on one.
"$ASYNCDL" --strategy=parallel --http2 --base-url="https://pokeapi.test:$HTTPS_PORT/api/v2/pokemon/" \
  $dns --cacert="$d/ca.pem" --out="$d/out-h2" --json="$d/h2.json" >/dev/null 2>"$d/stderr" ||
  { cat "$d/stderr" >&2; fail "--http2 run failed"; }
check_dir "$d/out-h2"
python3 - "$d/h2.json" <<'PY' || fail "--http2: report"
import json, sys
items = json.load(open(sys.argv[1]))["runs"][0]["items"]
assert len(items) == 151 and all(i["outcome"] == "ok" for i in items)
assert all(i["http_version"] == "2" for i in items)
conns = sum(i["new_connections"] for i in items)
assert 2 <= conns <= 6, conns
PY
echo "ok: --http2: 151 documents over HTTP/2, one stream per connection"

# --connections=1000 through the CLI: 3,000 distinct URLs (query strings),
# all ok, and the pool went wide, but never past K. New connections are
# paced (4 per loop iteration), so at RTT 0 answers arrive fast enough
# that many requests reuse one: about a hundred, not 1,000.
for i in $(seq 1 3000); do
  echo "http://pokeapi.test:$HTTP_PORT/api/v2/pokemon/mew?i=$i"
done >"$d/wide.txt"
"$ASYNCDL" --strategy=parallel --connections=1000 --list="$d/wide.txt" $dns \
  --json="$d/wide.json" -q >/dev/null 2>"$d/stderr" ||
  { cat "$d/stderr" >&2; fail "--connections=1000 run failed"; }
python3 - "$d/wide.json" <<'PY' || fail "--connections=1000: report"
import json, sys
items = json.load(open(sys.argv[1]))["runs"][0]["items"]
assert len(items) == 3000 and all(i["outcome"] == "ok" for i in items)
conns = sum(i["new_connections"] for i in items)
assert 20 <= conns <= 1000, conns
print("ok: --connections=1000: 3000 URLs, %d connections" % conns)
PY

# TLS without the private CA: refused, reported per URL, exit 1, no files.
"$ASYNCDL" --strategy=session --base-url="https://pokeapi.test:$HTTPS_PORT/api/v2/pokemon/" \
  $dns --out="$d/untrusted" >/dev/null 2>"$d/stderr"
rc=$?
[ $rc = 1 ] || fail "untrusted certificate: exit $rc, expected 1"
grep -q "ETLS" "$d/stderr" || fail "untrusted certificate: no ETLS outcome"
[ -z "$(ls -A "$d/untrusted")" ] || fail "untrusted certificate: files written"
echo "ok: untrusted certificate refused"

# --insecure must be explicit and is announced.
"$ASYNCDL" --strategy=parallel --base-url="https://pokeapi.test:$HTTPS_PORT/api/v2/pokemon/" \
  $dns --insecure >/dev/null 2>"$d/stderr" || fail "--insecure run failed"
grep -q "WARNING" "$d/stderr" || fail "--insecure printed no warning"
echo "ok: --insecure works and warns"
exit 0
