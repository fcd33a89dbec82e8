#!/usr/bin/env bash
# Mutation smoke test: do the tests fail when the code they guard is wrong?
# Each mutant below is one small, deliberate bug in src/. The script copies
# the source tree (the files git knows of, as they are in the work tree) to
# a temporary directory, never touching the tree it runs from, builds the
# copy once, then for each mutant: applies it, rebuilds, runs the few tests
# that should catch it, and restores the file. A mutant is killed when one
# of its tests fails (or times out). Every mutant must be killed.
#
# A mutation is a literal text replacement that must match exactly once in
# the original file: one that does not apply stops the script with an error
# (it would otherwise "survive" or "die" for no reason). Before the mutants,
# the chosen tests must pass on the unmutated copy.
#
# Usage: bash tests/mutate.sh [NAME...]    (from anywhere; all mutants if no
# name). MUTATE_DIR=/some/dir puts the copy and its build there and keeps
# them (both are made afresh on each run: a build left by an earlier run may
# hold a mutant); by default a temporary directory is removed at exit.
# Exit status: 0 all killed, 1 a mutant survived, 2 setup error.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

# ---- the mutants -----------------------------------------------------------
# mutant NAME FILE TESTS FIND REPLACE: in FILE, the text FIND (one exact
# occurrence) becomes REPLACE; TESTS (space-separated meson test names) must
# fail.
names=() files=() tests=() finds=() repls=()
mutant() {
  names+=("$1") files+=("$2") tests+=("$3") finds+=("$4") repls+=("$5")
}

# 1. verify_body: no body check at all, the transfer's status is the outcome
#    (an unparsable or unmet Content-Length would be "ok").
mutant verify-body src/request.c "test-faults" \
  '  if (st != 0 || code < 200 || code >= 300 || code == 204)
    return st;' \
  '  if (1)
    return st;'

# 2. map_curl: connection refused and other connect failures swapped.
mutant map-curl-refused src/request.c "test-faults test-client" \
  'return oserr == ECONNREFUSED ? ADL_ECONNREFUSED : ADL_ECONNECT;' \
  'return oserr == ECONNREFUSED ? ADL_ECONNECT : ADL_ECONNREFUSED;'

# 3. adl__request_commit_temp: success reported, the temporary file never
#    renamed to the final name.
mutant commit-no-rename src/request.c "test-faults" \
  '  if (st == 0 && rename(r->tmp_path, r->opts.path) != 0)' \
  '  if (st == 0)
    return 0;
  if (st == 0 && rename(r->tmp_path, r->opts.path) != 0)'

# 4. request FSM: no failure is retryable, every first failure is final.
mutant no-retry src/request_fsm.c "test-request-fsm test-faults" \
  'int adl__rq_retryable(int status, long code) {' \
  'int adl__rq_retryable(int status, long code) {
  if (status != 0 || code != 0)
    return 0;'

# 5. scheduler: the per-origin cap ignored when picking the next request.
mutant no-per-origin-cap src/origin.c "test-origin test-sched" \
  '    if (o->inflight < adl__sched_cap(o) &&' \
  '    if (1 &&'

# 6. executor: a finished attempt never gives its slot back.
mutant no-slot-release src/executor.c "test-sched" \
  '  case ADL__ACT_RELEASE_SLOT:
    adl__sched_release_slot(r->origin);' \
  '  case ADL__ACT_RELEASE_SLOT:'

# 7. executor: each done callback delivered twice.
mutant done-twice src/executor.c "test-faults" \
  '    r->opts.on_done(r, &r->res);' \
  '    r->opts.on_done(r, &r->res);
    r->opts.on_done(r, &r->res);'

# 8. executor: a request that ends in an HTTP error is never reported (its
#    done callback is lost; test-faults' watchdog ends the wait).
mutant done-lost src/executor.c "test-faults" \
  '    r->opts.on_done(r, &r->res);' \
  '    if (r->res.status != ADL_EHTTP)
      r->opts.on_done(r, &r->res);'

# 9. uvio: no per-iteration budget, every ready socket handled at once.
mutant no-io-budget src/uvio.c "test-uvio" \
  'static int take_budget(adl__io_t *io) {' \
  'static int take_budget(adl__io_t *io) {
  if (io != NULL)
    return 1;'

# 10. uvio: a socket watcher let go of is stopped and counted as closed but
#     never closed: its handle stays on the host's loop after
#     adl_client_close (leaked, not freed, so the outcome is deterministic).
mutant unwatch-leaks-handle src/uvio.c "test-embed" \
  '  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);' \
  '  uv_poll_stop(&w->poll);
  w->io->open_handles--;'

# 11. request: ADL_DATA_PAUSE is taken for "stop" (a pausing consumer's
#     transfer is aborted instead of held).
mutant pause-aborts src/request.c "test-stream" \
  '    if (rc == ADL_DATA_PAUSE) {' \
  '    if (0) {'

# 12. request: max_size checked against nothing once bodies are decoded (a
#     gzip bomb is inflated to its full size).
mutant no-decoded-limit src/request.c "test-compress" \
  '  if (max != 0 && r->res.bytes + len > max) {' \
  '  if (0) {'

# 13. origin: multiplex ignores its stream cap (max_streams): an HTTP/2
#     origin gets only per_origin requests at once, like parallel.
mutant no-stream-cap src/origin.c "test-multiplex" \
  '  return o->proto == ADL__PROTO_H2 ? s->mux_streams : 1;' \
  '  return o->proto == ADL__PROTO_H2 ? s->per_origin : 1;'

# ---- machinery -------------------------------------------------------------
die() { echo "mutate.sh: $*" >&2; exit 2; }

# replace FILE FIND REPLACE: exactly one occurrence of FIND, or an error.
replace() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, find, repl = sys.argv[1:]
text = open(path).read()
n = text.count(find)
if n != 1:
    sys.exit(f"mutation pattern found {n} times in {path} (want 1):\n{find}")
open(path, "w").write(text.replace(find, repl))
PY
}

selected=("$@")
want() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local s
  for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

if [ -n "${MUTATE_DIR:-}" ]; then
  work=$MUTATE_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/adl-mutate-XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
tree=$work/src build=$work/build
case "$tree" in "$src"|"$src"/*) die "refusing to work inside $src" ;; esac

# The copy: tracked and untracked-but-not-ignored files, as in the work tree.
rm -rf "$tree" "$build" "$work"/*.out "$work"/*.log "$work/orig"
mkdir -p "$tree"
(cd "$src" && git ls-files -co --exclude-standard -z |
   xargs -0 tar -cf - --no-recursion -- 2>/dev/null) | tar -xf - -C "$tree" ||
  die "cannot copy the source tree"
[ -f "$tree/src/request.c" ] || die "copy of $src is incomplete"

# Check every pattern up front: all must apply to the pristine copy.
for i in "${!names[@]}"; do
  want "${names[$i]}" || continue
  f=$tree/${files[$i]}
  cp "$f" "$f.orig"
  replace "$f" "${finds[$i]}" "${repls[$i]}" ||
    die "mutant ${names[$i]} does not apply"
  mv "$f.orig" "$f"
done
tail=""
for i in "${!names[@]}"; do
  want "${names[$i]}" && tail="$tail ${tests[$i]}"
done
[ -n "$tail" ] || die "no such mutant: ${selected[*]}"
# shellcheck disable=SC2086 # split on purpose
all_tests=$(printf '%s\n' $tail | sort -u | tr '\n' ' ')

echo "mutate.sh: building a copy of $src in $work"
meson setup "$build" "$tree" --wrap-mode=nodownload >"$work/setup.log" 2>&1 ||
  { tail -20 "$work/setup.log"; die "meson setup failed"; }
ninja -C "$build" >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; die "the unmutated copy does not build"; }

# Tests run with their meson timeouts scaled down (a mutant that hangs a
# test is killed by the timeout); test-faults' own watchdog is 20 s.
run_tests() {
  meson test -C "$build" --no-rebuild --timeout-multiplier 0.35 \
    --logbase "$1" "${@:2}" >"$work/$1.out" 2>&1
}

echo "mutate.sh: baseline (no mutant): $all_tests"
# shellcheck disable=SC2086
run_tests baseline $all_tests ||
  { grep -E '^ *[0-9]+/[0-9]+ ' "$work/baseline.out" || true
    die "the tests fail without any mutant: nothing to measure"; }

n=0 killed=0 survivors=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  want "$name" || continue
  n=$((n + 1))
  f=$tree/${files[$i]}
  cp "$f" "$work/orig"
  replace "$f" "${finds[$i]}" "${repls[$i]}" || die "mutant $name does not apply"
  cmp -s "$f" "$work/orig" && die "mutant $name changed nothing"
  t0=$(date +%s)
  if ! ninja -C "$build" >"$work/build-$name.log" 2>&1; then
    cp "$work/orig" "$f"
    tail -20 "$work/build-$name.log"
    die "mutant $name does not build (fix the mutation, it tests nothing)"
  fi
  # shellcheck disable=SC2086
  if run_tests "mutant-$name" ${tests[$i]}; then
    verdict=SURVIVED
    survivors+=("$name")
  else
    verdict=killed
    killed=$((killed + 1))
  fi
  by=$(grep -E '^ *[0-9]+/[0-9]+ ' "$work/mutant-$name.out" |
         awk '$5 != "OK" { printf "%s%s %s", sep, $4, $5; sep = ", " }')
  printf '  %-20s %-8s %3ss  %s: %s\n' "$name" "$verdict" \
    $(($(date +%s) - t0)) "${files[$i]}" "${by:-all tests passed}"
  # The first failed assertion, to see that the right check caught it.
  why=$(grep -m1 -E '^[^ ]*tests/[a-z-]+\.c:[0-9]+: ' \
          "$build/meson-logs/mutant-$name.txt" 2>/dev/null || true)
  [ -z "$why" ] || printf '  %-20s %s\n' "" "${why#*/src/}"
  cp "$work/orig" "$f"
done

echo "mutation smoke: $killed of $n mutants killed"
if [ "${#survivors[@]}" -gt 0 ]; then
  echo "survived: ${survivors[*]}" >&2
  exit 1
fi
exit 0
