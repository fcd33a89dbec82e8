#!/bin/bash
# Smoke version of bench/run.sh: a few documents, a few ms of RTT, one
# repetition, every installed contender over http and https, plus a tiny
# scale run, the multiplex rows and the compression cell. Asserts only that
# every download is correct and that the harness writes its tables, CSVs and
# chart (and, for asyncdl, that compression shows in the server's wire
# bytes); timings are not judged here.
#   test-bench-smoke.sh ASYNCDL ADL-FIXTURE-GEN ADL-DELAYER
# Exit 77 (skip) where the bench cannot run (not root, no netns, no nginx...).
set -u
[ $# -eq 3 ] || { echo "usage: $0 ASYNCDL FIXTURE-GEN DELAYER" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/adl-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT

"$src/bench/run.sh" --no-build --asyncdl="$1" --fixture-gen="$2" --delayer="$3" \
  --rtt=3 --reps=1 --count=6 --scale=300 --ks=4 --out="$out" >"$out/log" 2>&1
rc=$?
cat "$out/log"
[ $rc -eq 77 ] && exit 77
fail() { echo "FAIL: $*"; exit 1; }
[ $rc -eq 0 ] || fail "bench/run.sh exited $rc"
for f in bench.md bench.csv bench.svg scale.csv; do
  [ -s "$out/$f" ] || fail "$f not written"
done
grep -q FAILED "$out/bench.md" && fail "a contender failed"

# Every installed contender must have its row, over both protocols.
want="asyncdl-serial asyncdl-session asyncdl-parallel"
if /usr/bin/python3 -c 'import requests' 2>/dev/null; then want="$want requests-get requests-session"; fi
if /usr/bin/python3 -c 'import aiohttp' 2>/dev/null; then want="$want aiohttp"; fi
if command -v curl >/dev/null; then want="$want curl-per-url curl-one-proc curl-Z"; fi
for proto in http https; do
  for c in $want; do
    grep -q "^3.0,$proto,$c,[a-z]*,1,ok," "$out/bench.csv" || fail "no correct $proto row for $c"
  done
done
# The multiplex rows (https only) and the compression cell (issue 10).
mux=""
"$1" --help 2>&1 | grep -q -- --streams && mux="asyncdl-multiplex"
command -v curl >/dev/null && mux="$mux curl-Z-h2-mux"
command -v h2load >/dev/null && mux="$mux h2load-m"
for c in $mux; do
  grep -q "^3.0,https,$c,multiplex,1,ok," "$out/bench.csv" || fail "no correct https row for $c"
done
[ -z "$mux" ] || [ -s "$out/multiplex.md" ] || fail "multiplex.md not written"
for f in compress.md compress.csv; do [ -s "$out/$f" ] || fail "$f not written"; done
gz="asyncdl-serial asyncdl-session asyncdl-parallel"
case $mux in asyncdl-multiplex*) gz="$gz asyncdl-multiplex" ;; esac
if /usr/bin/python3 -c 'import requests' 2>/dev/null; then gz="$gz requests-session"; fi
if /usr/bin/python3 -c 'import aiohttp' 2>/dev/null; then gz="$gz aiohttp"; fi
if command -v curl >/dev/null; then gz="$gz curl-one-proc curl-Z curl-Z-h2-mux"; fi
for c in $gz; do
  grep -q "^3.0,$c,[a-z]*,1,ok," "$out/compress.csv" || fail "no correct compression row for $c"
done
# Once asyncdl can turn compression off, it asks for it by default: its
# wire bytes (nginx's log) are below the decoded bytes, and equal to them
# with --no-compress.
if "$1" --help 2>&1 | grep -q -- --no-compress; then
  awk -F, '$2 ~ /^asyncdl-(serial|session|parallel|multiplex)$/ && !($7 < $8) { bad = 1 }
           $2 == "asyncdl-parallel-identity" && $7 != $8 { bad = 1 }
           END { exit bad }' "$out/compress.csv" ||
    fail "asyncdl wire bytes do not show compression (compress.csv)"
fi
grep -q '^300,asyncdl-parallel,4,.*,ok$' "$out/scale.csv" || fail "no correct asyncdl scale row"
grep -q '<svg' "$out/bench.svg" || fail "bench.svg is not an SVG"
echo "bench smoke: ok ($want; multiplex: $mux; compression: $gz)"
