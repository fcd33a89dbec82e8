#!/usr/bin/env bash
# The live progress line: only on a terminal by default (a pseudo-terminal
# made by script(1)), redrawn in place at most ten times a second, in
# colour unless NO_COLOR is set; through a pipe nothing unless --progress,
# and then plain newline-terminated lines; --no-progress and -q silence it.
# Usage: test-progress.sh ASYNCDL
set -u
asyncdl=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run=(--local --rtt=10 --strategy=session) # about 1.6 s

# A byte-level look at a captured stderr: counts of redraws, SGR colour
# sequences, carriage returns and progress lines.
stats() {
  python3 - "$1" <<'PY'
import re, sys
d = open(sys.argv[1], 'rb').read()
redraws = d.count(b'\x1b[K')  # each draw ends by erasing the rest
sgr = len(re.findall(rb'\x1b\[[0-9;]*m', d))
cr = d.count(b'\r')
plain = len(re.findall(rb'(?m)^asyncdl: \S+ +run \d+/\d+  \d+/\d+ ', d))
print(redraws, sgr, cr, plain)
PY
}

# Through a pipe: no live line, no escape codes.
"$asyncdl" "${run[@]}" 2>"$d/pipe" >/dev/null || fail "pipe run"
read -r redraws sgr cr plain < <(stats "$d/pipe")
[ "$redraws$sgr$cr$plain" = 0000 ] || fail "pipe: $redraws redraws, $sgr SGR, $cr CR, $plain progress lines"
grep -q '^asyncdl: session   run 1/1: ' "$d/pipe" || fail "pipe: no run line"
echo "ok: through a pipe: no progress line, no escape codes"

"$asyncdl" "${run[@]}" --progress 2>"$d/forced" >/dev/null || fail "--progress run"
read -r redraws sgr cr plain < <(stats "$d/forced")
[ "$redraws$sgr$cr" = 000 ] || fail "--progress in a pipe: escape codes or CR"
[ "$plain" -ge 1 ] || fail "--progress in a pipe: no plain progress line"
echo "ok: --progress through a pipe: $plain plain lines, newline-terminated"

"$asyncdl" "${run[@]}" -q 2>"$d/quiet" >/dev/null || fail "-q run"
grep -q 'run 1/1' "$d/quiet" && fail "-q: progress or run lines"
echo "ok: -q: silent"

command -v script >/dev/null 2>&1 || { echo "no script(1): skipping the terminal part" >&2; exit 77; }
tty_run() { # ENV... -- ARGS...: stderr of asyncdl on a pseudo-terminal
  local out=$1; shift
  script -qfec "$*" /dev/null >"$out" 2>&1 </dev/null
}
t0=$(date +%s.%N)
tty_run "$d/tty" "$asyncdl" "${run[@]}" || fail "terminal run"
secs=$(python3 -c "import time,sys; print(time.time() - float(sys.argv[1]))" "$t0")
read -r redraws sgr cr plain < <(stats "$d/tty")
[ "$redraws" -ge 5 ] || fail "terminal: only $redraws redraws"
max=$(python3 -c "import sys; print(int(float(sys.argv[1]) * 10 + 3))" "$secs")
[ "$redraws" -le "$max" ] || fail "terminal: $redraws redraws in $secs s (more than 10/s)"
[ "$sgr" -ge 2 ] || fail "terminal: no colour"
printf "ok: on a terminal: %s redraws in %.2f s, %s colour codes\n" "$redraws" "$secs" "$sgr"

tty_run "$d/nocolor" env NO_COLOR=1 "$asyncdl" "${run[@]}" || fail "NO_COLOR run"
read -r redraws sgr cr plain < <(stats "$d/nocolor")
[ "$redraws" -ge 5 ] && [ "$sgr" = 0 ] || fail "NO_COLOR: $redraws redraws, $sgr colour codes"
echo "ok: NO_COLOR: live line without colour"

tty_run "$d/noprog" "$asyncdl" "${run[@]}" --no-progress || fail "--no-progress run"
read -r redraws sgr cr plain < <(stats "$d/noprog")
[ "$redraws" = 0 ] || fail "--no-progress: $redraws redraws"
grep -q 'session   run 1/1: ' "$d/noprog" || fail "--no-progress: no run line"
echo "ok: --no-progress on a terminal: the run lines only"
