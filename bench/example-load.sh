#!/usr/bin/env bash
# Load on the example service (examples/pokeproxy) in front of a local
# nginx: wrk drives it, nginx's access log counts the upstream requests,
# and the proxy's own /stats gives the lateness of its loop (a 1 ms
# uv_timer on the loop that also runs asyncdl and the HTTP server).
#
#   bench/example-load.sh [--build=DIR] [--duration=S] [--connections=C]
#                         [--threads=T] [--burst=N] [--out=FILE.md]
#
# Defaults: --build=build (configured and built here when missing),
# --duration=10, --connections=64, --threads=1, --burst=100,
# --out=bench/results/example.md (a section is appended). Phases:
#   idle      the proxy alone for 2 s: its loop lateness baseline
#   burst     5 bursts of N concurrent identical requests for cold names
#             (curl -Z): upstream requests per burst (target: 1)
#   hot       wrk on one name: cache hits (max-age 1 s: about one 304
#             revalidation per second)
#   mixed     wrk over the 151 names in turn, max-age 1 s: hits, and
#             revalidations answered 304
# Each wrk phase reports requests/s, p50/p99 latency, errors, upstream
# requests (and how many were 304) and the loop's lateness p99 and max.
# PASS/FAIL lines: one upstream request per burst; no errors; loop
# lateness p99 <= 2 ms under load. The proxy runs at real-time priority
# where allowed (chrt -f 5), like bench/sched.sh, so the lateness measured
# is its own work, not other processes preempting it on a small machine.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BUILD=$SRC/build DURATION=10 CONNS=64 THREADS=1 BURST=100
OUT=$SRC/bench/results/example.md
for a in "$@"; do
  case $a in
  --build=*) BUILD=${a#*=} ;;
  --duration=*) DURATION=${a#*=} ;;
  --connections=*) CONNS=${a#*=} ;;
  --threads=*) THREADS=${a#*=} ;;
  --burst=*) BURST=${a#*=} ;;
  --out=*) OUT=${a#*=} ;;
  *) sed -n '2,25p' "$0" >&2; exit 2 ;;
  esac
done
for t in wrk nginx curl python3; do
  command -v "$t" >/dev/null 2>&1 || { [ "$t" = nginx ] && [ -x /usr/sbin/nginx ]; } ||
    { echo "example-load: $t is not installed" >&2; exit 77; }
done
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" --wrap-mode=nodownload --buildtype=debugoptimized ||
    exit 1
fi
ninja -C "$BUILD" examples/pokeproxy src/fixture/adl-fixture-gen >/dev/null ||
  { echo "example-load: build failed" >&2; exit 1; }
PROXY=$BUILD/examples/pokeproxy

W=$(mktemp -d)
PXPID=''
cleanup() {
  [ -n "$PXPID" ] && kill "$PXPID" 2>/dev/null && wait "$PXPID" 2>/dev/null
  stop_nginx
  rm -rf "$W"
}
trap cleanup EXIT INT TERM
. "$SRC/tests/system/nginx.sh"
"$BUILD/src/fixture/adl-fixture-gen" "$W/www" >/dev/null || exit 1
start_nginx "$W" "$W/www" || { echo "example-load: nginx did not start" >&2; exit 1; }
LOG=$W/access.log
DOCS=$W/www/api/v2/pokemon
ls "$DOCS" >"$W/names"

RT=(chrt -f 5)
chrt -f 5 true 2>/dev/null || RT=()
"${RT[@]}" "$PROXY" --upstream="http://127.0.0.1:$HTTP_PORT" \
  --listen=127.0.0.1:0 --max-age-ms=1000 >"$W/px.out" 2>"$W/px.err" &
PXPID=$!
for i in $(seq 1 100); do
  PORT=$(sed -n 's|^pokeproxy: listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$W/px.out")
  [ -n "$PORT" ] && break
  sleep 0.05
done
[ -n "$PORT" ] || { cat "$W/px.err" >&2; echo "example-load: proxy did not start" >&2; exit 1; }
BASE=http://127.0.0.1:$PORT
FAILS=0
LINES=$W/lines
say() { printf '%s\n' "$*" | tee -a "$LINES"; }
stats() { timeout 5 curl -sf "$BASE/stats${1:-}"; }
js() { python3 -c 'import json,sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[k]
print(v)' "$1"; }
loglines() { wc -l <"$LOG"; }
verdict() { if [ "$1" = 1 ]; then echo PASS; else FAILS=$((FAILS + 1)); echo FAIL; fi; }

# ---- idle ----------------------------------------------------------------
stats '?reset=1' >/dev/null
sleep 2
s=$(stats)
IDLE_P99=$(js lateness_us.p99 <<<"$s") IDLE_MAX=$(js lateness_us.max <<<"$s")
say "INFO idle: loop lateness p99 $IDLE_P99 us, max $IDLE_MAX us ($(js lateness_us.ticks <<<"$s") ticks)"

# ---- bursts --------------------------------------------------------------
ups=()
for name in $(sed -n '100,104p' "$W/names"); do
  : >"$W/cfg"
  for i in $(seq 1 "$BURST"); do
    [ "$i" -gt 1 ] && echo next >>"$W/cfg"
    printf 'url = "%s/pokemon/%s"\noutput = "%s/b%d"\n' "$BASE" "$name" "$W" "$i" >>"$W/cfg"
  done
  timeout 60 curl -s --no-progress-meter -Z --parallel-immediate \
    --parallel-max "$BURST" -K "$W/cfg" || { echo "burst: curl failed" >&2; FAILS=$((FAILS + 1)); }
  bad=0
  for i in $(seq 1 "$BURST"); do cmp -s "$W/b$i" "$DOCS/$name" || bad=$((bad + 1)); done
  [ "$bad" -eq 0 ] || { echo "burst $name: $bad bodies differ" >&2; FAILS=$((FAILS + 1)); }
  ups+=("$(awk -v u="/api/v2/pokemon/$name" '$7 == u' "$LOG" | wc -l)")
done
s=$(stats)
all1=1
for u in "${ups[@]}"; do [ "$u" = 1 ] || all1=0; done
say "$(verdict $all1) burst: ${#ups[@]} bursts of $BURST concurrent identical requests: upstream requests per burst ${ups[*]} (target 1); coalesced $(js coalesced <<<"$s"), cache hits $(js cache_hits <<<"$s")"

# ---- wrk phases ------------------------------------------------------------
cat >"$W/names.lua" <<LUA
local names = {}
for n in io.lines("$W/names") do names[#names + 1] = n end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/pokemon/" .. names[(i % #names) + 1])
end
LUA
# wrk_phase NAME URL [SCRIPT]
wrk_phase() {
  local name=$1 url=$2 script=${3:-} before after s out rps p50 p99 errs non2xx n304 ok
  before=$(loglines)
  stats '?reset=1' >/dev/null
  out=$W/wrk-$name.txt
  timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
    ${script:+-s "$script"} "$url" >"$out" 2>&1
  s=$(stats)
  after=$(loglines)
  rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out")
  p50=$(awk '$1 == "50%" { print $2 }' "$out")
  p99=$(awk '$1 == "99%" { print $2 }' "$out")
  errs=$(sed -n 's/.*Socket errors: \(.*\)/\1/p' "$out")
  non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")
  n304=$(tail -n $((after - before)) "$LOG" | awk '$4 == 304' | wc -l)
  ok=$([ -n "$rps" ] && [ -z "$errs" ] && [ -z "$non2xx" ] && echo 1 || echo 0)
  say "$(verdict "$ok") $name: wrk -t$THREADS -c$CONNS ${DURATION}s: $rps req/s, latency p50 $p50 p99 $p99, errors ${errs:-none}${non2xx:+, non-2xx $non2xx}; upstream requests $((after - before)) ($n304 answered 304); cache hits $(js cache_hits <<<"$s"), revalidations $(js revalidations <<<"$s")"
  ok=$(awk -v p="$(js lateness_us.p99 <<<"$s")" 'BEGIN { print (p <= 2000) }')
  say "$(verdict "$ok") $name: loop lateness under load p99 $(js lateness_us.p99 <<<"$s") us <= 2000 us (p50 $(js lateness_us.p50 <<<"$s"), p99.9 $(js lateness_us.p999 <<<"$s"), max $(js lateness_us.max <<<"$s") us, $(js lateness_us.ticks <<<"$s") ticks)"
  sed 's/^/    /' "$out" >>"$W/details"
}
wrk_phase hot "$BASE/pokemon/pikachu"
wrk_phase mixed "$BASE/" "$W/names.lua"

# ---- report ----------------------------------------------------------------
{
  [ -s "$OUT" ] || printf '# The example service under load (bench/example-load.sh)\n\nAppended by every run of bench/example-load.sh; see examples/README.md.\n'
  printf '\n## %s: %s CPUs, %s, wrk %s\n\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
    "$(nproc)" "Linux $(uname -r)" "$(wrk --version 2>&1 | head -1 | awk '{print $2}')"
  printf 'pokeproxy --max-age-ms=1000 in front of nginx (151 documents, 2-20 KB), all on 127.0.0.1%s.\n\n```\n' \
    "${RT:+; the proxy at chrt -f 5}"
  cat "$LINES"
  printf '```\n\nwrk output:\n\n'
  cat "$W/details"
} >>"$OUT"
echo "example-load: appended to $OUT"
kill -TERM "$PXPID"
wait "$PXPID"
rc=$?
PXPID=''
[ "$rc" -eq 0 ] || { echo "example-load: the proxy exited $rc" >&2; FAILS=$((FAILS + 1)); }
[ "$FAILS" -eq 0 ]
