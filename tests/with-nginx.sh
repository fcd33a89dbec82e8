#!/usr/bin/env bash
# Runs a test program next to a private nginx on 127.0.0.1 serving the
# fixture documents plus N synthetic ones ("extra-1".."extra-N"). Passes
#   ADL_NGINX_HTTP   http://127.0.0.1:PORT/api/v2/pokemon/
#   ADL_NGINX_HTTPS  https://127.0.0.1:PORT/api/v2/pokemon/
#   ADL_NGINX_CA     the CA file for the latter
#   ADL_NGINX_ROOT   the document root
#   ADL_NGINX_HTTPS1 https://127.0.0.1:PORT/api/v2/pokemon/ (HTTP/1.1 only)
#   ADL_NGINX_GZIP   http://127.0.0.1:PORT/api/v2/pokemon/ (gzip on)
#   ADL_NGINX_LOG    the access log of every port (format: system/nginx.sh)
# Usage: with-nginx.sh FIXTURE_GEN EXTRA PROGRAM [ARGS...]; 77 without nginx.
set -u
fixture_gen=$1 extra=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/system/nginx.sh"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
  { echo "nginx not installed: skipping" >&2; exit 77; }
d=$(mktemp -d)
cleanup() { stop_nginx; rm -rf "$d"; }
trap cleanup EXIT INT TERM
"$fixture_gen" "$d/www" --count-extra "$extra" >/dev/null || exit 1
start_nginx "$d" "$d/www" || exit 1
export ADL_NGINX_HTTP="http://127.0.0.1:$HTTP_PORT/api/v2/pokemon/"
export ADL_NGINX_HTTPS="https://127.0.0.1:$HTTPS_PORT/api/v2/pokemon/"
export ADL_NGINX_CA="$d/ca.pem"
export ADL_NGINX_ROOT="$d/www"
export ADL_NGINX_HTTPS1="https://127.0.0.1:$HTTPS1_PORT/api/v2/pokemon/"
export ADL_NGINX_GZIP="http://127.0.0.1:$GZIP_PORT/api/v2/pokemon/"
export ADL_NGINX_LOG="$d/access.log"
# ADL_TEST_WRAPPER (e.g. valgrind) wraps a C test program, never a script.
${ADL_TEST_WRAPPER:-} "$@"
