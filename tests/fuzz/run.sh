#!/usr/bin/env bash
# Fuzzes the libFuzzer harnesses of tests/fuzz/ (list reader, URL rules,
# fixture request parser) for a fixed time each, starting from the seed
# corpora in tests/fuzz/corpus/, which are copied to a temporary directory
# so the source tree stays clean.
#
#   CI (20 s per harness):       bash tests/fuzz/run.sh
#   longer (10 min per harness): FUZZ_SECONDS=600 bash tests/fuzz/run.sh
#   one harness:                 bash tests/fuzz/run.sh url http
#
# The build directory (FUZZ_BUILD_DIR, default build-fuzz in the source
# tree) is configured if needed with
#   CC=clang meson setup build-fuzz -Dfuzz=true \
#     -Db_sanitize=address,undefined -Db_lundef=false --wrap-mode=nodownload
# and built. The seed corpora alone: meson test -C build-fuzz --suite fuzz
#
# Environment: FUZZ_SECONDS (20), FUZZ_RSS_MB (2048), FUZZ_TIMEOUT (10 s per
# input), FUZZ_JOBS (1 process per harness), FUZZ_ARTIFACTS (where crashing
# inputs go; default a temporary directory, kept when something was found),
# FUZZ_KEEP_CORPUS=1 keeps the grown corpora and prints where they are
# (merge the worthwhile, small ones into tests/fuzz/corpus/ by hand).
#
# Prints "fuzz-NAME: N execs in S s (R/s), 0 crashes" per harness. Exits 1
# when any harness crashed, leaked, timed out, ran out of memory or had a
# sanitizer report; 2 on a setup error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-20}
rss_mb=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}
jobs=${FUZZ_JOBS:-1}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac

all=(list url http)
declare -A max_len=([list]=16384 [url]=4096 [http]=12288)
if [ "$#" -gt 0 ]; then harnesses=("$@"); else harnesses=("${all[@]}"); fi
for h in "${harnesses[@]}"; do
  if [ -z "${max_len[$h]:-}" ]; then
    echo "run.sh: unknown harness '$h' (have: ${all[*]})" >&2
    exit 2
  fi
done
case $seconds in '' | *[!0-9]* | 0)
  echo "run.sh: FUZZ_SECONDS must be a positive integer" >&2; exit 2 ;;
esac

if [ ! -f "$build/build.ninja" ]; then
  echo "run.sh: configuring $build" >&2
  CC=clang meson setup "$build" "$root" -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    --wrap-mode=nodownload >/dev/null || {
    echo "run.sh: meson setup failed (clang and libclang-rt-14-dev needed)" >&2
    exit 2
  }
elif ! meson configure "$build" 2>/dev/null |
    grep -Eq '^ *fuzz +true'; then
  meson configure "$build" -Dfuzz=true >/dev/null
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/fuzz-$h"); done
meson compile -C "$build" "${targets[@]}" >/dev/null || {
  echo "run.sh: build failed: meson compile -C $build ${targets[*]}" >&2
  exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/asyncdl-fuzz.XXXXXX")
artifacts=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$artifacts"
keep=${FUZZ_KEEP_CORPUS:-0}
cleanup() {
  if [ "$keep" = 1 ] || [ -n "$(ls -A "$artifacts" 2>/dev/null)" ]; then
    echo "run.sh: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for h in "${harnesses[@]}"; do
  exe=$build/tests/fuzz/fuzz-$h
  corpus=$work/corpus-$h
  log=$work/fuzz-$h.log
  mkdir -p "$corpus"
  cp "$here/corpus/$h"/* "$corpus"/
  seeds=$(ls "$corpus" | wc -l)
  # -jobs/-workers > 1 write fuzz-N.log files in the current directory.
  fuzz_args=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb"
             -timeout="$timeout" -max_len="${max_len[$h]}"
             -artifact_prefix="$artifacts/$h-" -print_final_stats=1)
  rc=0
  t0=$(date +%s%N)
  if [ "$jobs" -gt 1 ]; then
    (cd "$work" && "$exe" "${fuzz_args[@]}" -jobs="$jobs" -workers="$jobs" \
      "$corpus") >"$log" 2>&1 || rc=$?
    cat "$work"/fuzz-[0-9]*.log >>"$log" 2>/dev/null || true
    rm -f "$work"/fuzz-[0-9]*.log
  else
    "$exe" "${fuzz_args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  fi
  execs=$(awk '/^stat::number_of_executed_units:/ {s += $NF} END {print s + 0}' "$log")
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$ms" -gt 0 ] || ms=1
  secs=$(awk -v ms="$ms" 'BEGIN {printf "%.1f", ms / 1000}')
  found=$(ls "$artifacts" 2>/dev/null | grep -c "^$h-" || true)
  reports=$(grep -Ec 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant failed|==[0-9]+== ERROR' "$log" || true)
  crashes=$found
  if [ "$rc" -ne 0 ] || [ "$reports" -gt 0 ]; then
    [ "$crashes" -gt 0 ] || crashes=1
  fi
  printf 'fuzz-%s: %s execs in %s s (%s/s), %s crashes; corpus %s -> %s files\n' \
    "$h" "$execs" "$secs" "$((execs * 1000 / ms))" "$crashes" "$seeds" \
    "$(ls "$corpus" | wc -l)"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    echo "---- fuzz-$h: exit status $rc; report:" >&2
    grep -E -A40 'ERROR:|runtime error:|invariant failed|SUMMARY' "$log" |
      head -80 >&2 || tail -40 "$log" >&2
    for a in "$artifacts/$h-"*; do
      [ -f "$a" ] || continue
      echo "---- input $a (base64):" >&2
      base64 -w0 "$a" >&2
      echo >&2
      echo "     replay: $exe $a" >&2
    done
    echo "---- full log: $log" >&2
    keep=1
  fi
done
if [ "$keep" = 1 ] && [ "$failed" -eq 0 ]; then
  echo "run.sh: grown corpora in $work/corpus-*" >&2
fi
exit "$failed"
