#!/usr/bin/env bash
# The example service (examples/pokeproxy) in front of the tests' nginx.
# Run by tests/with-nginx.sh, which exports ADL_NGINX_* (see there):
#   test-example.sh POKEPROXY
# Checks, each against nginx's access log (one line per upstream request,
# with its status and If-None-Match) and the proxy's /stats:
#   1. 50 concurrent identical requests: 1 upstream request, 50 identical
#      bodies equal to the file (over plain HTTP, and over TLS from nginx's
#      slow location, where all 50 join the one fetch in flight)
#   2. a later request is a cache hit: no upstream request
#   3. a stale entry is revalidated: If-None-Match upstream, 304, and the
#      client still gets 200 with the body; a changed document is a 200
#   4. the cache stays inside its entry and byte bounds (LRU)
#   5. a client that stops reading a large streamed body does not stall
#      the others: they complete while it is stalled, it is dropped
#   6. upstream refusing connections: 502 with a reason; upstream that
#      never answers: 504 with a reason
# Every proxy must exit 0 on SIGTERM (under ASan: no leaks).
# PX_WRAPPER (e.g. "valgrind --error-exitcode=3") wraps the proxy.
set -u
proxy=$1
: "${ADL_NGINX_HTTP:?run me through with-nginx.sh}"
root=$ADL_NGINX_ROOT
docs=$root/api/v2/pokemon
log=$ADL_NGINX_LOG
http_base=${ADL_NGINX_HTTP%/api/v2/pokemon/}
https_base=${ADL_NGINX_HTTPS%/api/v2/pokemon/}
w=$(mktemp -d)
pids=()
failures=0

cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$w"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# upstream_count URI: requests nginx logged for that URI (field 7).
upstream_count() { awk -v u="$1" '$7 == u' "$log" | wc -l; }
# upstream_lines URI: those lines.
upstream_lines() { awk -v u="$1" '$7 == u' "$log"; }

# pxstat PORT FIELD: a number from the proxy's /stats ("lateness_us.p99").
pxstat() {
  timeout 5 curl -sf "http://127.0.0.1:$1/stats" | python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$2"
}

# start_proxy NAME ARGS...: starts it and sets PORT (the proxy picks a free
# one and prints it) and PID.
start_proxy() {
  local name=$1 i
  shift
  ${PX_WRAPPER:-} "$proxy" --listen=127.0.0.1:0 "$@" >"$w/$name.out" \
    2>"$w/$name.err" &
  PID=$!
  pids+=("$PID")
  for i in $(seq 1 200); do # 20 s: slow under valgrind
    PORT=$(sed -n 's|^pokeproxy: listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' \
      "$w/$name.out")
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$w/$name.err" >&2
  die "$name did not start"
}

# stop_proxy NAME PID: SIGTERM, then it must exit 0 within 10 s.
stop_proxy() {
  local name=$1 pid=$2 i rc
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid"
    fail "$name did not exit within 10 s of SIGTERM"
    return
  fi
  wait "$pid"
  rc=$?
  if [ "$rc" -eq 0 ]; then ok "$name exited 0"; else
    fail "$name exited $rc"
    cat "$w/$name.err" >&2
  fi
}

# burst PORT NAME N DIR: N concurrent GETs; bodies DIR/b<i>, heads DIR/h<i>.
burst() {
  local port=$1 name=$2 n=$3 dir=$4 i
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do
    [ "$i" -gt 1 ] && echo next
    printf 'url = "http://127.0.0.1:%s/pokemon/%s"\noutput = "%s/b%d"\n' \
      "$port" "$name" "$dir" "$i"
    printf 'dump-header = "%s/h%d"\n' "$dir" "$i"
  done >"$dir/curl.cfg"
  timeout 60 curl -s --no-progress-meter -Z --parallel-immediate --parallel-max "$n" \
    -K "$dir/curl.cfg" || fail "burst of $n for $name: curl exit $?"
}

# same_bodies DIR N FILE: every body equals FILE and every status was 200.
same_bodies() {
  local dir=$1 n=$2 file=$3 i bad=0
  for i in $(seq 1 "$n"); do
    cmp -s "$dir/b$i" "$file" || bad=$((bad + 1))
    head -1 "$dir/h$i" 2>/dev/null | grep -q '^HTTP/1.1 200' || bad=$((bad + 1))
  done
  echo "$bad"
}

# get PORT PATH FILE [CURL ARGS]: prints "status time_total"; body in FILE,
# head in FILE.h.
get() {
  local port=$1 path=$2 out=$3
  shift 3
  timeout 20 curl -s -o "$out" -D "$out.h" -w '%{http_code} %{time_total}' \
    "$@" "http://127.0.0.1:$port$path"
}

# ---- 1-4: coalescing, hits, revalidation, bounds (plain HTTP) -----------
start_proxy a --upstream="$http_base" --cache-entries=16 \
  --cache-bytes=200000 --max-age-ms=600000
pa=$PORT pida=$PID
n=50
burst "$pa" pikachu "$n" "$w/burst1"
bad=$(same_bodies "$w/burst1" "$n" "$docs/pikachu")
up=$(upstream_count /api/v2/pokemon/pikachu)
[ "$bad" -eq 0 ] || fail "burst: $bad of $n bodies or statuses differ"
[ "$up" -eq 1 ] || fail "burst: $up upstream requests for $n identical ones"
[ "$bad" -eq 0 ] && [ "$up" -eq 1 ] &&
  ok "$n concurrent identical requests: 1 upstream request, $n identical bodies" \
     "(coalesced $(pxstat "$pa" coalesced), hits $(pxstat "$pa" cache_hits))"

r=$(get "$pa" /pokemon/pikachu "$w/hit")
up=$(upstream_count /api/v2/pokemon/pikachu)
if [ "${r%% *}" = 200 ] && cmp -s "$w/hit" "$docs/pikachu" &&
   grep -qi '^X-Cache: HIT' "$w/hit.h" && [ "$up" -eq 1 ]; then
  ok "a later request is a cache hit, no upstream request (log still $up)"
else
  fail "cache hit: status $r, upstream $up"; cat "$w/hit.h" >&2
fi

etag=$(sed -n 's/^ETag: *\(.*\)\r$/\1/Ip' "$w/hit.h")
r=$(get "$pa" /pokemon/pikachu "$w/inm" -H "If-None-Match: $etag")
if [ -n "$etag" ] && [ "${r%% *}" = 304 ] && [ ! -s "$w/inm" ] &&
   [ "$(upstream_count /api/v2/pokemon/pikachu)" -eq 1 ]; then
  ok "the client's If-None-Match $etag: 304 from the cache"
else
  fail "client If-None-Match: status $r, etag '$etag'"
fi

# Bounds: 20 more names through a cache of 16 entries and 200000 bytes.
names=$(ls "$docs" | grep -vxE "pikachu|mew|bulbasaur" | head -20)
for name in $names; do
  r=$(get "$pa" "/pokemon/$name" "$w/one")
  [ "${r%% *}" = 200 ] && cmp -s "$w/one" "$docs/$name" ||
    fail "GET $name: $r"
done
entries=$(pxstat "$pa" cache_entries)
bytes=$(pxstat "$pa" cache_bytes)
ev=$(pxstat "$pa" evictions)
if [ "$entries" -le 16 ] && [ "$bytes" -le 200000 ] && [ "$ev" -ge 5 ]; then
  ok "cache bounds hold: $entries entries, $bytes bytes, $ev evictions"
else
  fail "cache bounds: $entries entries, $bytes bytes, $ev evictions"
fi
# pikachu was the least recently used: evicted, so fetched again.
get "$pa" /pokemon/pikachu "$w/again" >/dev/null
up=$(upstream_count /api/v2/pokemon/pikachu)
[ "$up" -eq 2 ] && ok "the LRU entry was evicted: fetched again" ||
  fail "after eviction: $up upstream requests for pikachu, want 2"
echo "stats a: $(timeout 5 curl -s "http://127.0.0.1:$pa/stats")"
stop_proxy a "$pida"

# Revalidation: --max-age-ms=0, every hit after the first is stale.
start_proxy c --upstream="$http_base" --max-age-ms=0
pc=$PORT pidc=$PID
get "$pc" /pokemon/mew "$w/m1" >/dev/null
r=$(get "$pc" /pokemon/mew "$w/m2")
last=$(upstream_lines /api/v2/pokemon/mew | tail -1)
# $4 status; the 3rd quoted field is If-None-Match (nginx escapes " as \x22)
st=$(echo "$last" | awk '{print $4}')
inm=$(echo "$last" | awk -F'"' '{print $6}')
if [ "$(upstream_count /api/v2/pokemon/mew)" -eq 2 ] && [ "$st" = 304 ] &&
   [ -n "$inm" ] && [ "$inm" != - ] && [ "${r%% *}" = 200 ] && cmp -s "$w/m2" "$docs/mew" &&
   grep -qi '^X-Cache: REVALIDATED' "$w/m2.h"; then
  ok "stale entry revalidated: upstream 304 (If-None-Match $inm), client 200 with the body"
else
  fail "revalidation: client $r, upstream: $last"
fi
# A changed document: the revalidation is a 200 and the new body is served.
cp "$docs/mew" "$w/mew.orig"
printf '{"name":"changed","pad":"%s"}' "$(head -c 300 /dev/zero | tr '\0' x)" \
  >"$docs/mew"
touch -d '+1 minute' "$docs/mew" # a new mtime: a new ETag
r=$(get "$pc" /pokemon/mew "$w/m3")
st=$(upstream_lines /api/v2/pokemon/mew | tail -1 | awk '{print $4}')
if [ "${r%% *}" = 200 ] && cmp -s "$w/m3" "$docs/mew" && [ "$st" = 200 ]; then
  ok "changed upstream document: revalidation answered 200, new body served"
else
  fail "changed document: client $r, upstream status $st"
fi
cp "$w/mew.orig" "$docs/mew"
[ "$(pxstat "$pc" upstream_304)" -eq 1 ] || fail "upstream_304 is not 1"
stop_proxy c "$pidc"

# ---- 1 again: coalescing while the fetch is in flight (slow upstream) ---
# nginx's /slow/ location (TLS port) sends 10 KB/s: the fetch takes about
# a second, so all 50 requests arrive while it is in flight.
start_proxy b --upstream="$https_base" --path-prefix=/slow/ \
  --cacert="$ADL_NGINX_CA"
pb=$PORT pidb=$PID
burst "$pb" bulbasaur "$n" "$w/burst2"
bad=$(same_bodies "$w/burst2" "$n" "$docs/bulbasaur")
up=$(upstream_count /slow/bulbasaur)
co=$(pxstat "$pb" coalesced)
if [ "$bad" -eq 0 ] && [ "$up" -eq 1 ] && [ "$co" -eq $((n - 1)) ]; then
  ok "$n concurrent requests during a slow fetch: 1 upstream request, $co joined it"
else
  fail "slow burst: $bad bad bodies, $up upstream requests, $co coalesced"
fi
stop_proxy b "$pidb"

# ---- 5: stalled clients -------------------------------------------------
# A 48 MB document streams through (max-object 1 MB: never cached). A
# stalled client asks for it and never reads (client.py stall: a 4 KB
# receive buffer, reads only once released, then reports what it got).
head -c $((48 << 20)) /dev/urandom >"$docs/big"
ln "$docs/big" "$docs/big0"
ln "$docs/big" "$docs/big1"
cat >"$w/client.py" <<'PY'
import os, socket, sys, time
port, name, out, release = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /pokemon/%s HTTP/1.1\r\nHost: x\r\n\r\n" % name.encode())
deadline = time.time() + 60
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)  # never reads meanwhile
s.settimeout(10)
n, closed, first = 0, False, b""
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            closed = True
            break
        first += b[:4096] if len(first) < 4096 else b""
        n += len(b)
except OSError as e:
    print("error", e, file=sys.stderr)
tag = [l for l in first.split(b"\r\n") if l.lower().startswith(b"x-cache")]
with open(out, "w") as o:
    o.write("%d %s %s\n" % (n, "closed" if closed else "open",
                             tag[0].decode() if tag else "-"))
PY
# stall PORT NAME TAG: starts a stalled client; its report goes to $w/TAG.
stall() {
  python3 "$w/client.py" "$1" "$2" "$w/$3" "$w/$3.release" &
  pids+=("$!")
  eval "pid_$3=$!"
}
# wait_stat PORT FIELD MIN: polls /stats (10 s at most) until FIELD >= MIN.
wait_stat() {
  local i v
  for i in $(seq 1 200); do
    v=$(pxstat "$1" "$2")
    [ "${v:-0}" -ge "$3" ] && return 0
    sleep 0.05
  done
  fail "$2 stayed at ${v:-?}, below $3"
  return 1
}
# release TAG: lets the stalled client read; its report: N closed|open TAG.
release() {
  local i p
  touch "$w/$1.release"
  eval "p=\$pid_$1"
  for i in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  cat "$w/$1" 2>/dev/null
}
truncated() { # REPORT: fewer bytes than the body, then the close
  set -- $1
  [ "${2:-}" = closed ] && [ "${1:-0}" -lt $((48 << 20)) ]
}

# 5a. Others are served while a client stalls: the stalled client's fetch
# is paused for it (no one else reads it), later requests, for the same
# document and for others, get their own fetches and complete.
start_proxy d --upstream="$http_base" --write-bound=262144 --stall-ms=1000 \
  --max-object=1048576
pd=$PORT pidd=$PID
stall "$pd" big s1
wait_stat "$pd" upstream_pauses 1 # s1 is over its bound, its fetch paused
r=$(get "$pd" /pokemon/big "$w/bigfast")
slow=0 smalls=0
for name in $(ls "$docs" | grep -v '^big' | head -9); do
  r2=$(get "$pd" "/pokemon/$name" "$w/small")
  smalls=$((smalls + 1))
  if [ "${r2%% *}" != 200 ] || ! cmp -s "$w/small" "$docs/$name" ||
     awk -v t="${r2#* }" 'BEGIN { exit !(t > 2.0) }'; then
    slow=$((slow + 1)); echo "small $name: $r2" >&2
  fi
done
if [ "${r%% *}" = 200 ] && cmp -s "$w/bigfast" "$docs/big" && [ "$slow" -eq 0 ] &&
   awk -v t="${r#* }" 'BEGIN { exit !(t < 5.0) }'; then
  ok "while a client stalls: 48 MB to another client in ${r#* } s," \
     "$smalls small documents each under 2 s"
else
  fail "a stalled client stalled others: big $r, $slow of $smalls small slow"
fi
wait_stat "$pd" clients_dropped 1
got=$(release s1)
if truncated "$got"; then
  ok "the stalled client was dropped: it got ${got%% *} bytes of 48 MB, then the close"
else
  fail "stalled client s1: it saw '$got'"
fi
echo "stats d: $(timeout 5 curl -s "http://127.0.0.1:$pd/stats")"
stop_proxy d "$pidd"

# 5b. A stalled reader and a fast one on one fetch. With one upstream
# connection, held by s0's paused fetch (a paused request keeps its slot),
# the fetch for big1 waits in asyncdl's queue (2 s: longer than starting
# the clients takes), so s2 and the fast reader surely join the same one. The stalled reader holds it (paused) for at
# most --stall-ms, is dropped, and the fast reader gets the whole body.
start_proxy g --upstream="$http_base" --write-bound=262144 --stall-ms=2000 \
  --max-object=1048576 --upstream-connections=1
pg=$PORT pidg=$PID
stall "$pg" big0 s0
wait_stat "$pg" upstream_pauses 1
stall "$pg" big1 s2
wait_stat "$pg" misses 2 # s2's request started the (queued) fetch
r=$(get "$pg" /pokemon/big1 "$w/bigf")
tag=$(sed -n 's/^X-Cache: *\([A-Z]*\).*/\1/Ip' "$w/bigf.h")
dropped=$(pxstat "$pg" clients_dropped)
ups=$(upstream_count /api/v2/pokemon/big0)/$(upstream_count /api/v2/pokemon/big1)
if [ "${r%% *}" = 200 ] && cmp -s "$w/bigf" "$docs/big" && [ "$tag" = COALESCED ] &&
   [ "$dropped" -ge 2 ] && [ "$ups" = 1/1 ]; then
  ok "a fast reader sharing a fetch with a stalled one: 48 MB in ${r#* } s" \
     "(X-Cache $tag; the stalled ones dropped: $dropped)"
else
  fail "shared fetch: $r X-Cache '$tag', dropped $dropped, upstream big0/big1 $ups"
fi
got0=$(release s0) got2=$(release s2)
if truncated "$got0" && truncated "$got2" && [ "${got2##* }" = MISS ]; then
  ok "both stalled clients were cut short: s0 '$got0', s2 '$got2'"
else
  fail "stalled clients: s0 '$got0', s2 '$got2'"
fi
echo "stats g: $(timeout 5 curl -s "http://127.0.0.1:$pg/stats")"
rm -f "$docs/big" "$docs/big0" "$docs/big1"
stop_proxy g "$pidg"

# ---- 6: upstream failures -----------------------------------------------
. "$(dirname "$0")/system/nginx.sh" # free_port
dead=$(free_port)
start_proxy e --upstream="http://127.0.0.1:$dead"
r=$(get "$PORT" /pokemon/pikachu "$w/e502")
if [ "${r%% *}" = 502 ] && grep -q '"reason":"upstream failed: [^"]' "$w/e502"; then
  ok "upstream down: 502, $(cat "$w/e502")"
else
  fail "upstream down: $r $(cat "$w/e502")"
fi
stop_proxy e "$PID"

# An upstream that accepts and never answers.
hole=$(free_port)
python3 - "$hole" "$w/hole.ready" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
open(sys.argv[2], "w").close()
keep, deadline = [], time.time() + 60
s.settimeout(0.2)
while time.time() < deadline:
    try:
        keep.append(s.accept()[0])
    except socket.timeout:
        pass
PY
hpid=$!
pids+=("$hpid")
for i in $(seq 1 100); do [ -e "$w/hole.ready" ] && break; sleep 0.05; done
start_proxy f --upstream="http://127.0.0.1:$hole" --upstream-timeout-ms=500
r=$(get "$PORT" /pokemon/pikachu "$w/e504")
t=${r#* }
if [ "${r%% *}" = 504 ] && grep -q '"reason":"upstream timed out after 500 ms' "$w/e504" &&
   awk -v t="$t" 'BEGIN { exit !(t >= 0.4 && t < 5) }'; then
  ok "upstream silent: 504 after ${t} s, $(cat "$w/e504")"
else
  fail "upstream silent: $r $(cat "$w/e504")"
fi
stop_proxy f "$PID"
kill "$hpid" 2>/dev/null

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all checks passed"
