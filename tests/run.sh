#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing (Debian or
# Ubuntu, as root), then builds and tests three ways:
#   1. gcc, -Dwerror=true: every suite (unit, loop, system, cli, bench-smoke)
#   2. the engine tests again under valgrind (memcheck, leak check)
#   3. clang with AddressSanitizer + UndefinedBehaviorSanitizer: every suite
#   4. mutation smoke: each of a few deliberate bugs fails a test
#      (tests/mutate.sh)
#   5. the libFuzzer harnesses (list reader, URL rules, request parser)
# Usage: bash tests/run.sh    (from the source tree)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc g++ clang libclang-rt-14-dev meson ninja-build pkg-config
          libuv1-dev libcurl4-openssl-dev libc-ares-dev libssl-dev
          dnsmasq-base nginx-light openssl curl valgrind python3
          python3-requests python3-aiohttp python3-jsonschema iproute2 iptables
          iputils-ping time
          groff-base chromium npm
          libnghttp2-dev zlib1g-dev nghttp2-client wrk slurm-wlm munge python3-yaml)
missing=()
for p in "${packages[@]}"; do
  # npm may come with a nodejs from elsewhere (nodesource bundles it and
  # conflicts with Debian's npm): the command is what the tests need.
  [ "$p" = npm ] && command -v npm >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing packages: ${missing[*]} (run as root)" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

step() { printf '\n=== %s ===\n' "$*"; }

# Adds the results of the meson run just finished (its JSON log) to the
# totals printed at the end.
passed=0 failed=0 skipped=0
tally() {
  local log=$1/meson-logs/testlog${2:+-$2}.json counts
  counts=$(python3 - "$log" <<'PY'
import json, sys
r = [json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip()]
ok = sum(x in ("OK", "EXPECTEDFAIL") for x in r)
skip = sum(x == "SKIP" for x in r)
print(ok, len(r) - ok - skip, skip)
PY
)
  set -- $counts
  passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
}

step "build (gcc, -Dwerror=true)"
meson setup build-test --wrap-mode=nodownload -Dwerror=true \
  --buildtype=debugoptimized --reconfigure 2>/dev/null ||
  meson setup build-test --wrap-mode=nodownload -Dwerror=true \
    --buildtype=debugoptimized
meson compile -C build-test

step "test: all suites"
meson test -C build-test --print-errorlogs
tally build-test

step "test: engine under valgrind"
meson test -C build-test --setup=valgrind --suite unit --suite loop \
  --print-errorlogs
tally build-test valgrind
# The C programs behind the dnsmasq and nginx wrappers, under valgrind too.
ADL_TEST_WRAPPER="valgrind --leak-check=full --error-exitcode=3 --quiet \
  --errors-for-leak-kinds=definite,indirect" \
  meson test -C build-test --timeout-multiplier=10 --print-errorlogs \
  test-resolver test-load test-multiplex test-compress test-conditional \
  test-proxy
tally build-test

step "build (clang, ASan + UBSan)"
CC=clang meson setup build-asan --wrap-mode=nodownload -Dwerror=true \
  -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug \
  --reconfigure 2>/dev/null ||
  CC=clang meson setup build-asan --wrap-mode=nodownload -Dwerror=true \
    -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
meson compile -C build-asan

step "test: all suites under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --print-errorlogs --no-suite bench-smoke \
    --no-suite frontdoor
tally build-asan

step "mutation smoke: deliberate bugs in src/ must fail the tests"
# tests/mutate.sh copies the tree to a temporary directory and builds and
# mutates it there (this tree is never touched). Counted as one test in the
# totals; a survivor stops the run, as a failed test does above.
if bash tests/mutate.sh; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "tests: $passed passed, $failed failed, $skipped skipped" >&2
  exit 1
fi

step "fuzz: libFuzzer harnesses, 20 s each (FUZZ_SECONDS to change)"
FUZZ_BUILD_DIR=build-fuzz bash tests/fuzz/run.sh

step "all test runs passed"
echo "tests: $passed passed, $failed failed, $skipped skipped"
