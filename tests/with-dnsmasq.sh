#!/bin/sh
# Runs a test program next to a private dnsmasq on 127.0.0.1 (a free UDP
# port), which serves pokeapi.test -> 127.0.0.1 (TTL 60 s, empty AAAA) and
# NXDOMAIN for every other .test name, except *.noanswer.test, which it
# "forwards" to a closed loopback port so no answer ever comes back. The address
# goes to the test in ADL_DNS_SERVER. ADL_DNSMASQ_TTL overrides the 60 s
# TTL (0: the TTL of every /etc/hosts name). Exit 77 (skip) without dnsmasq.
set -u
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
if [ ! -x "$DNSMASQ" ]; then
  echo "dnsmasq not installed: skipping" >&2
  exit 77
fi
dir=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
tries=0
while :; do
  port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
  "$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --port="$port" \
    --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --no-negcache --local=/test/ --host-record=pokeapi.test,127.0.0.1 \
    --server=/noanswer.test/127.0.0.1#9 \
    --local-ttl="${ADL_DNSMASQ_TTL:-60}" --user=root --pid-file= --log-facility=- \
    >"$dir/log" 2>&1 &
  pid=$!
  # Ready once it answers; gone at once if the port was taken.
  ok=0
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    if grep -q "started" "$dir/log" 2>/dev/null; then ok=1; break; fi
    sleep 0.05
  done
  [ "$ok" = 1 ] && break
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
  tries=$((tries + 1))
  if [ "$tries" -ge 10 ]; then
    echo "could not start dnsmasq:" >&2; cat "$dir/log" >&2; exit 1
  fi
done
ADL_DNS_SERVER="127.0.0.1:$port"
export ADL_DNS_SERVER
# ADL_TEST_WRAPPER (e.g. valgrind) wraps a C test program, never a script.
${ADL_TEST_WRAPPER:-} "$@"
