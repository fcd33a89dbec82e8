#!/bin/sh
# Every symbol libasyncdl exports starts with adl_: the internal modules
# (adl__*, static helpers) stay hidden behind -fvisibility=hidden.
# Usage: lint-symbols.sh LIBASYNCDL.so
set -u
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^adl_[a-z]')
n=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^adl_[a-z]')
if [ -n "$bad" ]; then
  echo "exported without the adl_ prefix:" >&2
  echo "$bad" >&2
  exit 1
fi
[ "$n" -gt 10 ] || { echo "only $n adl_ symbols exported?" >&2; exit 1; }
echo "ok: $n exported symbols, all adl_*"
