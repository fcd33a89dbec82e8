#!/usr/bin/env bash
# `meson install` into a private DESTDIR must give a usable installation:
#   - include/asyncdl.h and include/asyncdl_version.h, the library, the
#     asyncdl tool, its man page (share/man/man1/asyncdl.1) and asyncdl.pc;
#   - `pkg-config --cflags --libs asyncdl`, pointed at the installed tree,
#     is all the README's embedding example needs to compile and link, and
#     `pkg-config --static --libs` names every library libasyncdl uses;
#   - the example, run against the installed library (LD_LIBRARY_PATH),
#     downloads a document from a private nginx on loopback (exit 77
#     without nginx);
#   - the installed tool runs with the installed library.
# Usage: test-install.sh BUILD_DIR README.md FIXTURE_GEN
set -u
build=$1 readme=$2 fixture_gen=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/system/nginx.sh"
d=$(mktemp -d)
cleanup() { stop_nginx 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v pkg-config >/dev/null 2>&1 || fail "pkg-config not installed"
dest=$d/dest
rc=0
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" \
  >"$d/install.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$d/install.log" >&2; fail "meson install exited $rc"; }

# Where the build put things: prefix, and libdir/includedir/mandir/bindir,
# each relative to the prefix or absolute.
meson introspect --buildoptions "$build" >"$d/options.json" ||
  fail "meson introspect --buildoptions"
dirs=$(python3 - "$d/options.json" <<'PY'
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
p = o["prefix"]
print(p, *(os.path.join(p, o[k]) for k in ("libdir", "includedir", "mandir", "bindir")))
PY
) || fail "cannot read the build options"
read -r prefix libdir includedir mandir bindir <<<"$dirs"
echo "prefix $prefix, libdir $libdir, includedir $includedir, mandir $mandir"
lib=$dest$libdir inc=$dest$includedir

for f in "$inc/asyncdl.h" "$inc/asyncdl_version.h" "$dest$mandir/man1/asyncdl.1" \
         "$lib/pkgconfig/asyncdl.pc" "$dest$bindir/asyncdl"; do
  [ -s "$f" ] || fail "not installed: ${f#"$dest"}"
done
ls "$lib"/libasyncdl.so.1* >/dev/null 2>&1 || fail "not installed: $libdir/libasyncdl.so.1"
cmp -s "$dest$mandir/man1/asyncdl.1" "$here/../docs/asyncdl.1" ||
  fail "the installed man page differs from docs/asyncdl.1"
echo "ok: headers, library, tool, man page and asyncdl.pc installed"

# The installed asyncdl.pc says $prefix, not $dest$prefix: the sysroot
# puts DESTDIR in front of its -I and -L.
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
cflags=$(pkg-config --cflags asyncdl) || fail "pkg-config --cflags asyncdl"
libs=$(pkg-config --libs asyncdl) || fail "pkg-config --libs asyncdl"
static_libs=$(pkg-config --static --libs asyncdl) ||
  fail "pkg-config --static --libs asyncdl"
echo "pkg-config --cflags --libs asyncdl: $cflags $libs"
case " $cflags " in *" -I$inc "*) ;; *) fail "--cflags lacks -I$inc" ;; esac
case " $libs " in *" -L$lib "*) ;; *) fail "--libs lacks -L$lib" ;; esac
for l in -lasyncdl -luv; do
  case " $libs " in *" $l "*) ;; *) fail "pkg-config --libs asyncdl lacks $l" ;; esac
done
for l in -lasyncdl -luv -lcurl -lcares -lssl -lcrypto; do
  case " $static_libs " in *" $l "*) ;;
  *) fail "pkg-config --static --libs asyncdl lacks $l: $static_libs" ;;
  esac
done
echo "ok: asyncdl.pc gives the installed tree and every library"

# The README's example, built with nothing but pkg-config's flags.
awk '/<!-- embedding example -->/ {armed=1; next}
     armed && /^```c$/ {inside=1; next}
     inside && /^```$/ {exit}
     inside {print}' "$readme" >"$d/example.c"
[ -s "$d/example.c" ] || fail "no embedding example found in $readme"
# shellcheck disable=SC2086 # flags are words
${ADL_CC:-cc} ${ADL_CFLAGS:-} -Wall -Wextra -Werror "$d/example.c" -o "$d/example" \
  $cflags $libs || fail "the README example does not build against the installation"
echo "ok: the README example builds with pkg-config --cflags --libs asyncdl"

export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Both must load the installed library, not the build tree's.
for exe in "$d/example" "$dest$bindir/asyncdl"; do
  ldd "$exe" >"$d/ldd" 2>&1 || { cat "$d/ldd" >&2; fail "ldd ${exe##*/}"; }
  grep -q "libasyncdl\.so\.1 => $lib/" "$d/ldd" ||
    { cat "$d/ldd" >&2; fail "${exe##*/} does not load $libdir/libasyncdl.so.1"; }
done
"$dest$bindir/asyncdl" --version >"$d/version" || fail "installed asyncdl --version exited $?"
grep -q "^asyncdl " "$d/version" || fail "installed asyncdl --version: $(cat "$d/version")"
printf 'pikachu\nmew\n' >"$d/list"
rc=0
"$dest$bindir/asyncdl" --local --rtt=0 --strategy=parallel --list="$d/list" -q \
  >"$d/table" 2>"$d/stderr" || rc=$?
[ "$rc" -eq 0 ] || { cat "$d/stderr" >&2; fail "the installed asyncdl --local exited $rc"; }
grep -q '^parallel ' "$d/table" || fail "the installed asyncdl printed no table"
echo "ok: the installed asyncdl runs with the installed library"

command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
  { echo "nginx not installed: not running the example" >&2; exit 77; }
"$fixture_gen" "$d/www" >/dev/null || fail "fixture generation"
start_nginx "$d" "$d/www" || fail "nginx did not start"
base="http://127.0.0.1:$HTTP_PORT/api/v2/pokemon"
size=$(stat -c %s "$d/www/api/v2/pokemon/pikachu")
rc=0
"$d/example" "$base/pikachu" >"$d/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$d/out" >&2; fail "the example exited $rc"; }
cat "$d/out"
grep -q "^$base/pikachu: ok, HTTP 200, $size bytes" "$d/out" ||
  fail "no success line for pikachu"
echo "ok: the README example, linked to the installed library, downloads"
