#!/usr/bin/env bash
# The README's embedding example must compile (-Werror, -Wpedantic) against the
# freshly built library and work: it fetches a document from a private
# nginx on loopback and prints its outcome. Exit 77 without nginx.
# Usage: test-readme.sh README.md INCLUDE_DIR GEN_INCLUDE_DIR LIB_DIR FIXTURE_GEN
set -u
readme=$1 incdir=$2 genincdir=$3 libdir=$4 fixture_gen=$5
here=$(cd "$(dirname "$0")" && pwd)
. "$here/system/nginx.sh"
d=$(mktemp -d)
cleanup() { stop_nginx; rm -rf "$d"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The example is the ```c block right after the "embedding example" marker.
awk '/<!-- embedding example -->/ {armed=1; next}
     armed && /^```c$/ {inside=1; next}
     inside && /^```$/ {exit}
     inside {print}' "$readme" >"$d/example.c"
[ -s "$d/example.c" ] || fail "no embedding example found in $readme"
${ADL_CC:-cc} ${ADL_CFLAGS:-} -Wall -Wextra -Wpedantic -Werror -I"$incdir" -I"$genincdir" "$d/example.c" \
  -o "$d/example" -L"$libdir" -lasyncdl $(pkg-config --cflags --libs libuv) \
  -Wl,-rpath,"$libdir" || fail "the README example does not compile"
echo "ok: the README example compiles"

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
  { echo "nginx not installed: not running the example" >&2; exit 77; }
"$fixture_gen" "$d/www" >/dev/null || fail "fixture generation"
start_nginx "$d" "$d/www" || fail "nginx did not start"
base="http://127.0.0.1:$HTTP_PORT/api/v2/pokemon"
size=$(stat -c %s "$d/www/api/v2/pokemon/mew")
"$d/example" "$base/mew" "$base/no-such-pokemon" >"$d/out" 2>&1 ||
  fail "the example exited $?"
cat "$d/out"
grep -q "^$base/mew: ok, HTTP 200, $size bytes" "$d/out" || fail "no success line"
grep -q "^$base/no-such-pokemon: HTTP error status, HTTP 404" "$d/out" ||
  fail "no 404 line"
echo "ok: the README example downloads"
