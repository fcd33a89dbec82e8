#!/usr/bin/env bash
# The asyncdl tool end to end, on its --local fixture server: help and
# version, usage errors (exit 2, one line naming the input), list abuse,
# output directory checks, outcome accounting in the JSON report, signals
# (SIGINT/SIGTERM: graceful, report written, no temporary file; a second
# SIGINT quits at once), the open-file limit, and a full disk (tmpfs; that
# part is skipped when mounting is not allowed).
# Usage: test-cli.sh ASYNCDL
set -u
ASYNCDL=$1
d=$(mktemp -d)
mnt=""
cleanup() {
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
  rm -rf "$d"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# expect CODE PATTERN ARGS...: exit status CODE and PATTERN on stderr.
expect() {
  local code=$1 pattern=$2
  shift 2
  "$ASYNCDL" "$@" >"$d/out" 2>"$d/err"
  local rc=$?
  [ "$rc" = "$code" ] || { cat "$d/err" >&2; fail "$* exited $rc, want $code"; }
  grep -q -- "$pattern" "$d/err" || { cat "$d/err" >&2; fail "$*: no '$pattern' on stderr"; }
}

# json_check FILE PYTHON-EXPR: the report parses and the expression holds.
json_check() {
  python3 - "$1" "$2" <<'PY' || fail "report check: $2"
import json, sys
doc = json.load(open(sys.argv[1]))
runs = doc["runs"]
items = [i for r in runs for i in r["items"]]
outcomes = {}
for i in items:
    outcomes[i["outcome"]] = outcomes.get(i["outcome"], 0) + 1
assert eval(sys.argv[2]), (sys.argv[2], outcomes, len(items))
PY
}

# --- help, version, usage errors ------------------------------------------
"$ASYNCDL" --help >"$d/out" 2>"$d/err" || fail "--help exit $?"
grep -q "Usage: asyncdl" "$d/out" || fail "--help not on stdout"
[ -s "$d/err" ] && fail "--help wrote to stderr"
"$ASYNCDL" --version | grep -q "^asyncdl [0-9]" || fail "--version"
for bad in --connections=0 --connections=-1 --connections=abc \
           --connections=99999999999999999999 --repeat=0 --timeout=-3 \
           --strategy=fastest --bogus --dns-server=999.1.1.1 \
           --max-size=12Q; do
  expect 2 "${bad%%=*}" "$bad"
  [ "$(wc -l <"$d/err")" -le 2 ] || fail "$bad: more than one error line"
done
expect 2 "Try 'asyncdl --help'" --connections=0
pass "help, version and bad option values"

# --- list abuse: every bad list is refused before any download --------------
printf 'pikachu\r\n\xef\xbb\xbfmew\n' >"$d/bom-late.txt"
printf '\xef\xbb\xbfpikachu\r\n# comment\r\n\r\nmew\r\n' >"$d/crlf.txt"
printf 'pikachu\nftp://127.0.0.1/x\n' >"$d/ftp.txt"
printf 'pikachu\nfile:///etc/passwd\n' >"$d/file.txt"
printf 'pikachu\nbad\xffname\n' >"$d/utf8.txt"
printf 'pikachu\nhttp://\n' >"$d/url.txt"
printf '# nothing here\n\n' >"$d/empty.txt"
head -c 10000 /dev/zero | tr '\0' a >"$d/long.txt"
printf 'mew\nhttp://127.0.0.1:1/x/mew\n' >"$d/dup.txt"
expect 2 "bom-late.txt:2" --local --rtt=0 --list="$d/bom-late.txt"
expect 2 "ftp.txt:2" --local --rtt=0 --list="$d/ftp.txt"
expect 2 "file.txt:2" --local --rtt=0 --list="$d/file.txt"
expect 2 "utf8.txt:2" --local --rtt=0 --list="$d/utf8.txt"
expect 2 "url.txt:2" --local --rtt=0 --list="$d/url.txt"
expect 2 "empty.txt" --local --rtt=0 --list="$d/empty.txt"
expect 2 "long.txt:1" --local --rtt=0 --list="$d/long.txt"
expect 2 "missing.txt" --local --rtt=0 --list="$d/missing.txt"
expect 2 "dup.txt:2" --local --rtt=0 --list="$d/dup.txt" --out="$d/dup-out"
[ -z "$(ls -A "$d/dup-out" 2>/dev/null)" ] || fail "duplicates: files written"
"$ASYNCDL" --local --rtt=0 --strategy=session --list="$d/crlf.txt" -q \
  --json="$d/crlf.json" 2>"$d/err" || fail "CRLF + BOM list refused"
json_check "$d/crlf.json" 'outcomes == {"ok": 2}'
printf 'pikachu\nmew\n' | "$ASYNCDL" --local --rtt=0 --strategy=parallel \
  --list=- -q --json="$d/stdin.json" 2>"$d/err" || fail "list on stdin"
json_check "$d/stdin.json" 'outcomes == {"ok": 2}'
pass "list errors name file:line; CRLF, BOM and stdin lists work"

# A 1,000,000-line list is read as a stream: checking it (before any
# download) stays in bounded memory. A bad last line makes it stop there.
python3 -c "
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(999999): f.write('extra-%d\n' % (i % 999999 + 1))
    f.write('ftp://127.0.0.1/x\n')" "$d/million.txt"
/usr/bin/time -f "%M" -o "$d/rss" "$ASYNCDL" --local --rtt=0 \
  --list="$d/million.txt" >/dev/null 2>"$d/err"
rc=$?
[ $rc = 2 ] || fail "million-line list: exit $rc"
grep -q "million.txt:1000000" "$d/err" || fail "million-line list: no line number"
rss=$(tail -n 1 "$d/rss")
head -n 9999 "$d/million.txt" >"$d/small.txt"
echo "ftp://127.0.0.1/x" >>"$d/small.txt"
/usr/bin/time -f "%M" -o "$d/rss" "$ASYNCDL" --local --rtt=0 \
  --list="$d/small.txt" >/dev/null 2>&1
rss_small=$(tail -n 1 "$d/rss")
if [ -n "${ADL_SANITIZED:-}" ]; then
  # ASan keeps freed memory in quarantine: RSS says nothing here.
  echo "skip: RSS bound under sanitizers (${rss} KB for 1M lines)"
else
  [ "$rss" -lt 65536 ] || fail "million-line list: peak RSS ${rss} KB"
  [ "$rss" -lt $((rss_small + rss_small / 4 + 1024)) ] ||
    fail "memory grows with the list: ${rss_small} KB for 10k lines, ${rss} KB for 1M"
fi
# With --out every name must make its own file: the duplicate check keeps
# 64-bit fingerprints, not names, sized once (82 MB before, for 1M lines).
mkdir -p "$d/mout"
/usr/bin/time -f "%M" -o "$d/rss" "$ASYNCDL" --local --rtt=0 \
  --list="$d/million.txt" --out="$d/mout" >/dev/null 2>"$d/err"
rc=$?
[ $rc = 2 ] || fail "million-line list with --out: exit $rc"
grep -q "million.txt:1000000" "$d/err" || fail "million-line list with --out: no line number"
rss_out=$(tail -n 1 "$d/rss")
if [ -z "${ADL_SANITIZED:-}" ]; then
  [ "$rss_out" -lt 32768 ] || fail "million-line list with --out: peak RSS ${rss_out} KB (32 MB allowed)"
fi
[ -z "$(ls "$d/mout")" ] || fail "million-line list with --out: files written"
pass "1,000,000-line list checked in ${rss} KB peak RSS, ${rss_out} KB with --out (10,000 lines: ${rss_small} KB)"

# One snapshot: lines appended to the list while it runs are not fetched,
# and the banner's count is the run's. 30 names: more than serial reads
# ahead (18), so the reader is still inside the file when it grows.
"$ASYNCDL" --local --rtt=0 --strategy=parallel --json="$d/names.json" -q \
  >/dev/null 2>&1 || fail "names run"
python3 -c "
import json, sys
items = json.load(open(sys.argv[1]))['runs'][0]['items']
names = [i['url'].rsplit('/', 1)[1] for i in items][:30]
assert 'eevee' not in names
open(sys.argv[2], 'w').write(''.join(n + '\\n' for n in names))" \
  "$d/names.json" "$d/grow.txt"
"$ASYNCDL" --local --rtt=20 --strategy=serial --list="$d/grow.txt" \
  --out="$d/grow" --json="$d/grow.json" >/dev/null 2>"$d/grow.err" &
pid=$!
for i in $(seq 1 100); do # until the first document is there
  [ -n "$(ls "$d/grow" 2>/dev/null)" ] && break
  sleep 0.05
done
printf 'eevee\nmew\n' >>"$d/grow.txt"
wait $pid || fail "growing list: exit $?"
grep -q "30 URLs from" "$d/grow.err" || fail "growing list: banner count"
json_check "$d/grow.json" 'len(items) == 30 and outcomes["ok"] == 30'
[ ! -e "$d/grow/eevee.json" ] || fail "growing list: an appended line was fetched"
pass "the list is one snapshot: lines appended during the run are not fetched"

# --- output directory -------------------------------------------------------
touch "$d/a-file"
expect 2 "not a directory" --local --rtt=0 --out="$d/a-file"
if [ "$(id -u)" != 0 ]; then
  mkdir "$d/ro" && chmod 500 "$d/ro"
  expect 2 "not writable" --local --rtt=0 --out="$d/ro"
fi
pass "unusable --out refused before any download"

# --- outcomes, exit 1, JSON accounting --------------------------------------
printf 'pikachu\nno-such-pokemon\nmew\nhttp://127.0.0.1:1/refused\n' >"$d/mixed.txt"
"$ASYNCDL" --local --rtt=0 --strategy=all --list="$d/mixed.txt" \
  --out="$d/mixed" --json="$d/mixed.json" >"$d/out" 2>"$d/err"
rc=$?
[ $rc = 1 ] || fail "mixed list: exit $rc, want 1"
grep -q "FAILED .*no-such-pokemon.*EHTTP" "$d/err" || fail "404 not named"
grep -q "FAILED .*127.0.0.1:1/refused.*ECONNREFUSED" "$d/err" || fail "refused not named"
json_check "$d/mixed.json" 'len(runs) == 4 and outcomes == {"ok": 8, "EHTTP": 4, "ECONNREFUSED": 4}'
[ "$(ls "$d/mixed")" = "$(printf 'mew.json\npikachu.json')" ] || fail "mixed: files"
pass "failures named on stderr, exit 1, one outcome per URL per run"

# --- signals ----------------------------------------------------------------
# interrupt SIGNAL CODE: stop a slow serial run midway; the report is still
# written, every URL has one outcome, and no temporary file is left.
interrupt() {
  local sig=$1 code=$2 out="$d/sig-$1" i
  "$ASYNCDL" --local --rtt=40 --strategy=serial --out="$out" \
    --json="$d/sig-$sig.json" >/dev/null 2>"$d/sig-$sig.err" &
  local pid=$!
  for i in $(seq 1 200); do # until a few files exist (at most 20 s)
    [ "$(ls "$out" 2>/dev/null | grep -c 'json$')" -ge 3 ] && break
    sleep 0.1
  done
  kill -"$sig" $pid
  wait $pid
  local rc=$?
  [ $rc = "$code" ] || fail "$sig: exit $rc, want $code"
  ls "$out" | grep -q part && fail "$sig: temporary file left"
  json_check "$d/sig-$sig.json" \
    'len(items) == 151 and outcomes["ok"] >= 3 and outcomes["ok"] + outcomes["ECANCELED"] == 151'
  [ "$(ls "$out" | wc -l)" -ge 3 ] || fail "$sig: finished files missing"
  # One line per URL that was running, one line for all that never started.
  local failed_lines started cancelled
  failed_lines=$(grep -c '^asyncdl: FAILED' "$d/sig-$sig.err")
  started=$(sed -n 's/^asyncdl: \([0-9]*\) URLs* not started (interrupted)$/\1/p' "$d/sig-$sig.err")
  [ -n "$started" ] || fail "$sig: no 'not started' summary line"
  [ "$failed_lines" -le 1 ] || fail "$sig: $failed_lines FAILED lines (serial runs one at a time)"
  cancelled=$(python3 -c "import json,sys; print(sum(i['outcome'] == 'ECANCELED' for r in json.load(open(sys.argv[1]))['runs'] for i in r['items']))" "$d/sig-$sig.json")
  [ $((failed_lines + started)) = "$cancelled" ] ||
    fail "$sig: $failed_lines FAILED + $started not started != $cancelled cancelled"
}
interrupt INT 130
interrupt TERM 143
pass "SIGINT and SIGTERM stop gracefully (130/143), report complete"

"$ASYNCDL" --local --rtt=200 --strategy=serial >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 50); do # until the run has started
  [ -r /proc/$pid/fd ] && [ "$(ls /proc/$pid/fd | wc -l)" -ge 6 ] && break
  sleep 0.1
done
kill -INT $pid; kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || fail "second SIGINT: exit $rc"
pass "a second SIGINT quits at once"

# --- open-file limit --------------------------------------------------------
(ulimit -n 256 && "$ASYNCDL" --local --rtt=0 --strategy=parallel \
  --connections=1000 -q >/dev/null 2>"$d/err")
rc=$?
[ $rc = 0 ] || { cat "$d/err" >&2; fail "clamped run: exit $rc"; }
grep -q "open-file limit" "$d/err" || fail "no clamp warning"
pass "connections clamped to the open-file limit with a warning"

# --- reports never take another output's name ---------------------------------
mkdir -p "$d/coll"
printf 'mew\n' >"$d/coll/list.txt"
for args in "--out=$d/coll --json=$d/coll/mew.json" \
            "--list=$d/coll/list.txt --json=$d/coll/list.txt" \
            "--json=$d/coll/r.json --har=$d/coll/r.json"; do
  # shellcheck disable=SC2086
  "$ASYNCDL" --local --rtt=0 --strategy=serial $args -q >/dev/null 2>"$d/err"
  rc=$?
  [ $rc = 2 ] || fail "colliding report ($args): exit $rc, want 2"
  grep -Eq "inside --out|the list itself|also another report" "$d/err" ||
    fail "colliding report ($args): no reason given"
done
[ "$(cat "$d/coll/list.txt")" = mew ] || fail "the list was overwritten"
[ -e "$d/coll/mew.json" ] && fail "a document was written"
# A planted link at the report's name is replaced, never followed.
echo keep >"$d/coll/target"
ln -s "$d/coll/target" "$d/coll/link.json"
"$ASYNCDL" --local --rtt=0 --strategy=parallel --json="$d/coll/link.json" -q \
  >/dev/null 2>&1 || fail "report over a symlink: exit $?"
[ "$(cat "$d/coll/target")" = keep ] || fail "the report followed a planted link"
[ -L "$d/coll/link.json" ] && fail "the link is still there"
pass "reports refused where another output lives; planted links replaced"

# --- standard streams ---------------------------------------------------------
# Closed at start: reopened on /dev/null, so nothing is written into a
# descriptor that took their number; the run works. A table that cannot be
# written (a full device) is exit 3 with the stream and errno named.
for redir in '<&-' '>&-' '2>&-'; do
  ( eval "exec $redir"; exec "$ASYNCDL" --local --rtt=0 --strategy=parallel -q --json="$d/streams.json" ) >/dev/null 2>&1 ||
    fail "run with $redir: exit $?"
  json_check "$d/streams.json" 'len(items) == 151 and outcomes["ok"] == 151'
done
if [ -w /dev/full ]; then
  "$ASYNCDL" --local --rtt=0 --strategy=parallel -q >/dev/full 2>"$d/err"
  rc=$?
  [ $rc = 3 ] || fail "table to /dev/full: exit $rc, want 3"
  grep -q "cannot write to stdout: No space left on device" "$d/err" ||
    fail "table to /dev/full: no message naming stdout"
fi
pass "closed standard streams survive; a full stdout is exit 3, named"

# --- disk full ---------------------------------------------------------------
mnt="$d/small"
mkdir "$mnt"
if mount -t tmpfs -o size=200k tmpfs "$mnt" 2>/dev/null; then
  "$ASYNCDL" --local --rtt=0 --strategy=session --out="$mnt" \
    --json="$d/full.json" >/dev/null 2>"$d/err"
  rc=$?
  [ $rc = 1 ] || fail "disk full: exit $rc, want 1"
  grep -q "ENOSPC" "$d/err" || fail "disk full: no ENOSPC outcome"
  ls "$mnt" | grep -q part && fail "disk full: temporary file left"
  json_check "$d/full.json" \
    'len(items) == 151 and outcomes["ok"] > 0 and outcomes["ok"] + outcomes["ENOSPC"] == 151'
  # every kept file is complete: compare with a fresh download
  "$ASYNCDL" --local --rtt=0 --strategy=parallel --out="$d/ref" -q 2>/dev/null ||
    fail "reference download"
  for f in "$mnt"/*.json; do cmp -s "$f" "$d/ref/$(basename "$f")" || fail "disk full: $f differs"; done
  pass "disk full: $(ls "$mnt" | wc -l) files kept complete, the rest ENOSPC"
else
  echo "skip: cannot mount a tmpfs here (disk-full case)"
fi
exit 0
