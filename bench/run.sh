#!/bin/bash
# The asyncdl benchmark on an emulated network (issue 3), as one command.
# Creates its own network namespace with a delayed loopback, nginx and
# dnsmasq inside, runs every contender over http and https at each RTT,
# verifies every download, and writes a markdown table, a CSV and an SVG.
# Needs root. Exit: 0 all contenders correct, 1 a contender failed or the
# setup broke, 2 usage, 77 cannot run here (not root, no netns, no nginx...).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [--quick] [--rtt=LIST] [--reps=N] [--out=DIR] [--sched=WHEN]
  --quick           RTT 20 ms, one repetition, scale at 10k only, no serial
                    row in the compression cell (< 3 min)
  --sched=WHEN      the scheduler scenarios (bench/sched.sh, about 1.5 min,
                    appended to OUT/sched.md) after the tables: auto (default:
                    yes unless --count or --exec), yes, no, or only (set up,
                    run them and nothing else; what bench/sched.sh does)
  --rtt=LIST        round trips in ms, default 0,5,20,50
  --reps=N          repetitions per contender (default 3; slow cells stop
                    early once --budget seconds are spent, min 1)
  --out=DIR         results directory (default bench/results)
more: --build=DIR (default ./build, configured and compiled if needed)
  --no-build --asyncdl=PATH --fixture-gen=PATH --delayer=PATH
  --host-lateness=PATH (default: next to the delayer)
  --count=N (first N documents only)  --protos=http,https
  --scale=10000,100000|none  --ks=6,64  --budget=S (default 8)
  --streams=M       HTTP/2 streams at once for the multiplex rows (100)
  --compress-rtt=MS the RTT of the compression rows: one of --rtt (default
                    20 when listed, else the last), or none
  --emulator=auto|netem|nfqueue
  --exec=CMD        set up at the first RTT of --rtt, then run CMD (bash)
                    inside the namespace instead of the bench, with ADL_HTTP,
                    ADL_HTTPS (base URLs), ADL_CA, ADL_NAMES, ADL_DOCS and
                    ADL_ASYNCDL set:
                    for profiling the engine on the emulated path
EOF
}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3
RTTS='' REPS='' SCALE='' QUICK=0 OUT=$ROOT/bench/results BUILD=$ROOT/build NOBUILD=0
ASYNCDL='' FIXGEN='' DELAYER='' HOSTLAT='' SCHED=auto EXEC='' COUNT=0 KS=6,64 PROTOS=http,https BUDGET=8 EMU=auto
HTTP_PORT=8080 HTTPS_PORT=8443 STATUS_PORT=8081 GZIP_PORT=8444 QUEUE=0
STREAMS=100 CRTT=
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --rtt=*) RTTS=${arg#*=} ;;
    --reps=*) REPS=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    --build=*) BUILD=${arg#*=} ;;
    --no-build) NOBUILD=1 ;;
    --asyncdl=*) ASYNCDL=${arg#*=} ;;
    --fixture-gen=*) FIXGEN=${arg#*=} ;;
    --delayer=*) DELAYER=${arg#*=} ;;
    --host-lateness=*) HOSTLAT=${arg#*=} ;;
    --sched=*) SCHED=${arg#*=} ;;
    --count=*) COUNT=${arg#*=} ;;
    --protos=*) PROTOS=${arg#*=} ;;
    --scale=*) SCALE=${arg#*=} ;;
    --ks=*) KS=${arg#*=} ;;
    --budget=*) BUDGET=${arg#*=} ;;
    --emulator=*) EMU=${arg#*=} ;;
    --streams=*) STREAMS=${arg#*=} ;;
    --compress-rtt=*) CRTT=${arg#*=} ;;
    --exec=*) EXEC=${arg#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  RTTS=${RTTS:-20} REPS=${REPS:-1} SCALE=${SCALE:-10000} KS=6
fi
RTTS=${RTTS:-0,5,20,50} REPS=${REPS:-3} SCALE=${SCALE:-10000,100000}
MUX_REPS=$((REPS < 3 ? REPS : REPS + 2)) # quarter-second runs: more of them
[[ $RTTS =~ ^[0-9.]+(,[0-9.]+)*$ && $REPS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[0-9]+$ &&
  $STREAMS =~ ^[1-9][0-9]*$ ]] || { echo "bench: bad --rtt, --reps, --count or --streams" >&2; exit 2; }
if [ -z "$CRTT" ]; then
  CRTT=${RTTS##*,}
  [[ ,$RTTS, == *,20,* ]] && CRTT=20
fi
[[ $CRTT == none || ,$RTTS, == *,$CRTT,* ]] || { echo "bench: --compress-rtt must be one of --rtt or none" >&2; exit 2; }
case $EMU in auto | netem | nfqueue) ;; *) echo "bench: bad --emulator" >&2; exit 2 ;; esac
case $SCHED in
  auto) if [ "$COUNT" = 0 ] && [ -z "$EXEC" ]; then SCHED=yes; else SCHED=no; fi ;;
  yes | no | only) ;;
  *) echo "bench: bad --sched" >&2; exit 2 ;;
esac

skip() { echo "bench: SKIP: $*" >&2; exit 77; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "must run as root (network namespace, iptables, port 53)"
if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  skip "'ip netns' (iproute2) not available"
fi
for tool in nginx dnsmasq openssl ping unshare "$PY"; do
  command -v "$tool" >/dev/null || skip "$tool not installed (see bench/README: packages)"
done

# ---- binaries -----------------------------------------------------------------
if [ "$NOBUILD" = 0 ] && [ -z "$ASYNCDL$FIXGEN$DELAYER$HOSTLAT" ]; then
  [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$ROOT" >/dev/null
  meson compile -C "$BUILD" >/dev/null || die "build failed in $BUILD"
fi
ASYNCDL=${ASYNCDL:-$BUILD/src/cli/asyncdl}
FIXGEN=${FIXGEN:-$BUILD/src/fixture/adl-fixture-gen}
DELAYER=${DELAYER:-$BUILD/bench/adl-delayer}
HOSTLAT=${HOSTLAT:-$(dirname "$DELAYER")/adl-host-lateness}
[ -x "$FIXGEN" ] || die "fixture generator $FIXGEN not built"
[ -x "$ASYNCDL" ] || echo "bench: WARNING: $ASYNCDL not built: asyncdl contenders are left out" >&2

# ---- teardown, whatever happens ---------------------------------------------------
T=$(mktemp -d /tmp/adl-bench.XXXXXX)
# The contenders' files go to a tmpfs when there is one: on this VM's ext4
# (mounted with discard) creating a file took ~0.4 ms once an earlier run's
# files had been deleted, 60 ms over 151 files, for everyone but h2load.
W=$T
[ -d /dev/shm ] && [ -w /dev/shm ] && W=$(mktemp -d /dev/shm/adl-bench.XXXXXX)
chmod 755 "$T" # nginx workers run as nobody
NS=adlbench-$$ NS_MADE='' DELAY_PID=''
cleanup() {
  local rc=$? pids
  trap - EXIT INT TERM
  set +e
  if [ -n "$NS_MADE" ]; then
    # Everything in the namespace was started by this script: nginx,
    # dnsmasq, the delayer, the driver and any contender still running.
    pids=$(ip netns pids "$NS" 2>/dev/null)
    # shellcheck disable=SC2086 # a list of pids
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids=$(ip netns pids "$NS" 2>/dev/null)
      [ -z "$pids" ] && break
      sleep 0.2
    done
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    ip netns del "$NS" 2>/dev/null
  fi
  rm -rf "$T" "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() { ip netns exec "$NS" "$@"; }
# Contenders resolve pokeapi.test through the system resolver like any
# program: /etc/resolv.conf is bind-mounted to our dnsmasq, but only in a
# private mount namespace, so the host's files are never touched.
nsdns() {
  # shellcheck disable=SC2016 # expanded by that inner sh
  ip netns exec "$NS" unshare --mount --propagation private \
    sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" "$@"
}
# In the background plus wait: a signal to this script interrupts `wait` at
# once and the teardown runs, instead of waiting for the whole cell.
driver() {
  nsdns "$PY" "$HERE/driver.py" "$@" --results "$RESULTS" &
  wait $!
}

# ---- fixture, certificates, configuration ----------------------------------------------
"$FIXGEN" "$T/www" >/dev/null || die "$FIXGEN failed"
DOCS=$T/www/api/v2/pokemon
(cd "$DOCS" && printf '%s\n' *) | LC_ALL=C sort >"$T/names"
[ "$COUNT" -gt 0 ] && { head -n "$COUNT" "$T/names" >"$T/n" && mv "$T/n" "$T/names"; }
NDOCS=$(wc -l <"$T/names")
[ "$NDOCS" -gt 0 ] || die "no documents under $DOCS"

ssl() { openssl "$@" >/dev/null 2>&1 || die "openssl $1 failed"; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$T/ca.key" -out "$T/ca.pem" -subj "/CN=asyncdl bench CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=pokeapi.test"
printf '%s\n' subjectAltName=DNS:pokeapi.test basicConstraints=CA:FALSE \
  keyUsage=critical,digitalSignature extendedKeyUsage=serverAuth \
  subjectKeyIdentifier=hash authorityKeyIdentifier=keyid >"$T/srv.ext"
ssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
  -days 2 -extfile "$T/srv.ext" -out "$T/srv.pem"

mkdir -p "$T/nginx/tmp"
py_fmt() { "$PY" -c "import sys; sys.path.insert(0, '$HERE'); import compress; print(compress.LOG_FORMAT)"; }
cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  sendfile on;
  tcp_nopush on; # headers and body share full segments, as the model assumes
  tcp_nodelay on;
  open_file_cache max=1000 inactive=600s;
  keepalive_requests 10000000;
  keepalive_timeout 600s;
  client_body_temp_path $T/nginx/tmp/body;
  proxy_temp_path $T/nginx/tmp/proxy;
  fastcgi_temp_path $T/nginx/tmp/fastcgi;
  uwsgi_temp_path $T/nginx/tmp/uwsgi;
  scgi_temp_path $T/nginx/tmp/scgi;
  root $T/www;
  server { listen 127.0.0.1:$HTTP_PORT; server_name pokeapi.test; }
  # Accepted connections and requests: the driver reads them around each run.
  server { listen 127.0.0.1:$STATUS_PORT; location = /status { stub_status; } }
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl http2;
    server_name pokeapi.test;
    ssl_certificate $T/srv.pem;
    ssl_certificate_key $T/srv.key;
    ssl_protocols TLSv1.3;
  }
  # The compression rows (bench/compress.py): the same, with gzip on for
  # JSON, and one log line per response for the wire bytes.
  log_format gz '$(py_fmt)';
  server {
    listen 127.0.0.1:$GZIP_PORT ssl http2;
    server_name pokeapi.test;
    ssl_certificate $T/srv.pem;
    ssl_certificate_key $T/srv.key;
    ssl_protocols TLSv1.3;
    gzip on;
    gzip_types application/json;
    gzip_min_length 0;
    gzip_comp_level 6;
    access_log $T/nginx/gzip.log gz;
  }
}
EOF
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"$T/resolv.conf"
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
# --sched=only keeps the last bench's raw results: its records go to $T.
[ "$SCHED" = only ] && RESULTS=$T/results.jsonl
: >"$RESULTS"

# ---- namespace, servers ------------------------------------------------------------
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
NS_MADE=1
nsx ip link set lo up
nsx ip link set lo mtu 1500 # MSS 1448, IW10 = 14480 bytes: realistic slow start
nsx sysctl -qw net.ipv4.tcp_congestion_control=reno ||
  echo "bench: WARNING: reno unavailable, using $(nsx sysctl -n net.ipv4.tcp_congestion_control)" >&2

# Servers run in their own session: a Ctrl-C on the terminal must not stop
# them under the running contender; the teardown ends them.
# --local makes dnsmasq answer AAAA for the name with an empty NOERROR (with
# --address alone it answers REFUSED, which fails a c-ares 1.18 A+AAAA
# lookup); --local-ttl gives its answers a realistic TTL instead of 0.
ip netns exec "$NS" setsid dnsmasq -k --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --address=/pokeapi.test/127.0.0.1 --local=/pokeapi.test/ --local-ttl=300 \
  --pid-file="$T/dnsmasq.pid" >"$T/dnsmasq.log" 2>&1 &
for _ in $(seq 50); do [ -s "$T/dnsmasq.pid" ] && break; sleep 0.1; done
[ -s "$T/dnsmasq.pid" ] || die "dnsmasq did not start: $(cat "$T/dnsmasq.log")"
ip netns exec "$NS" setsid nginx -p "$T/nginx" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" &
wait_port() { # bounded: 10 s
  for _ in $(seq 100); do
    nsx bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on port $1 in the namespace: $(cat "$T/nginx/error.log" 2>/dev/null)"
}
wait_port "$HTTP_PORT"
wait_port "$HTTPS_PORT"
wait_port "$GZIP_PORT"

# ---- the delay ---------------------------------------------------------------------
if [ "$EMU" = auto ]; then
  if nsx tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
    nsx tc qdisc del dev lo root
    EMU=netem
  else
    EMU=nfqueue
  fi
fi
if [ "$EMU" = nfqueue ]; then
  command -v iptables >/dev/null || skip "no sch_netem and no iptables for the NFQUEUE delayer"
  [ -x "$DELAYER" ] || die "no sch_netem in this kernel and the delayer $DELAYER is not built"
fi
RT='chrt -f 10'
chrt -f 10 true 2>/dev/null || RT='nice -n -10'
CUR_RTT=0
set_rtt() {
  local ms=$1 half_us
  if [ "$CUR_RTT" != 0 ]; then
    if [ "$EMU" = netem ]; then
      nsx tc qdisc del dev lo root
    else
      nsx iptables -t mangle -D PREROUTING -i lo -j NFQUEUE --queue-num $QUEUE
      kill -TERM "$DELAY_PID"
      wait "$DELAY_PID" || true
      DELAY_PID=
      sed 's/^/  /' "$T/delayer.err"
      printf '{"type": "delayer", "rtt": %s, "stats": "%s"}\n' "$CUR_RTT" \
        "$(tr -d '"\\\n' <"$T/delayer.err")" >>"$RESULTS"
    fi
  fi
  CUR_RTT=$ms
  [ "$ms" = 0 ] && return 0
  half_us=$(awk -v m="$ms" 'BEGIN { printf "%d", m * 500 }')
  if [ "$EMU" = netem ]; then
    nsx tc qdisc add dev lo root netem delay "${half_us}us" limit 100000
  else
    # Held in PREROUTING (crossed once per direction), not OUTPUT: held
    # packets must not count against the sender's TCP small-queue budget.
    # Not through nsx: a backgrounded function is a subshell, and $! must be
    # the delayer itself (ip netns exec execs it) for the kill below.
    # Real-time priority: a release must not wait behind the contenders (or
    # anything else) for a CPU; under load that made packets ms late.
    # shellcheck disable=SC2086 # $RT is a command prefix
    ip netns exec "$NS" $RT "$DELAYER" --queue=$QUEUE --delay-us="$half_us" \
      >"$T/delayer.out" 2>"$T/delayer.err" &
    DELAY_PID=$!
    for _ in $(seq 50); do
      grep -q ready "$T/delayer.out" 2>/dev/null && break
      sleep 0.1
    done
    grep -q ready "$T/delayer.out" || die "delayer did not start: $(cat "$T/delayer.err")"
    nsx iptables -t mangle -A PREROUTING -i lo -j NFQUEUE --queue-num $QUEUE
  fi
}

if [ "$SCHED" = only ]; then
  echo "asyncdl scheduler scenarios: $NDOCS documents, RTT 0 and 20 ms, delay by $EMU," \
    "namespace $NS, $(date -u '+%F %T UTC')"
else
  echo "asyncdl bench: $NDOCS documents, RTT ${RTTS//,/, } ms, ${PROTOS//,/+}, up to $REPS reps," \
    "delay by $EMU, namespace $NS, $(date -u '+%F %T UTC')"
fi
export ADL_HTTP=http://pokeapi.test:$HTTP_PORT/api/v2/pokemon/ ADL_CA=$T/ca.pem ADL_ASYNCDL=$ASYNCDL \
  ADL_HTTPS=https://pokeapi.test:$HTTPS_PORT/api/v2/pokemon/ ADL_NAMES=$T/names ADL_DOCS=$DOCS
if [ -n "$EXEC" ]; then
  set_rtt "${RTTS%%,*}"
  nsdns bash -c "$EXEC" &
  wait $!
  exit
fi
# The scheduler scenarios (bench/sched.sh): RTT 0, then 20 ms (checked by
# the probe), then the section of OUT/sched.md. Returns 1 when a scenario
# could not run or downloaded wrongly; a missed target is only reported.
sched_phase() {
  local rc=0
  [ -x "$HOSTLAT" ] || { echo "bench: adl-host-lateness $HOSTLAT not built" >&2; return 1; }
  [ -x "$ASYNCDL" ] || { echo "bench: asyncdl $ASYNCDL not built" >&2; return 1; }
  RESULTS=$T/sched-results.jsonl # not mixed into the tables' raw results
  export ADL_HOST_LATENESS=$HOSTLAT ADL_HTTP_PORT=$HTTP_PORT ADL_STATUS_PORT=$STATUS_PORT \
    ADL_SCHED_DIR=$T/sched ADL_SCHED_MD=$OUT/sched.md ADL_EMULATOR=$EMU
  [ "$EMU" = nfqueue ] && ADL_EMULATOR="NFQUEUE + adl-delayer ($RT)"
  set_rtt 0
  nsdns bash "$HERE/sched.sh" --part=rtt0 &
  wait $! || rc=1
  set_rtt 20
  driver probe --rtt 20 --names "$T/names" --http-port $HTTP_PORT ||
    die "the emulated path at RTT 20 ms is not what it should be"
  nsdns bash "$HERE/sched.sh" --part=rtt20 &
  wait $! || rc=1
  set_rtt 0
  bash "$HERE/sched.sh" --part=report || rc=1
  return $rc
}
if [ "$SCHED" = only ]; then
  sched_phase
  exit
fi
START=$(date +%s)
set_rtt 0
driver probe --rtt 0 --server-time --names "$T/names" --ca "$T/ca.pem" \
  --http-port $HTTP_PORT --https-port $HTTPS_PORT ||
  die "probe at RTT 0 failed"
for ms in ${RTTS//,/ }; do
  set_rtt "$ms"
  [ "$ms" = 0 ] || driver probe --rtt "$ms" --names "$T/names" --http-port $HTTP_PORT ||
    die "the emulated path at RTT $ms ms is not what it should be"
  driver cell --rtt "$ms" --protos "$PROTOS" --reps "$REPS" --budget "$BUDGET" \
    --names "$T/names" --fixture "$T/www" --work "$W" --ca "$T/ca.pem" --asyncdl "$ASYNCDL" \
    --http-port $HTTP_PORT --https-port $HTTPS_PORT --status-port $STATUS_PORT --streams "$STREAMS" \
    --mux-reps "$MUX_REPS"
  if [ "$ms" = "$CRTT" ]; then
    driver compress --rtt "$ms" --reps "$REPS" --budget "$BUDGET" --names "$T/names" \
      --fixture "$T/www" --work "$W" --ca "$T/ca.pem" --asyncdl "$ASYNCDL" --streams "$STREAMS" \
      --status-port $STATUS_PORT --gzip-port $GZIP_PORT --gzip-log "$T/nginx/gzip.log" \
      $([ "$QUICK" = 1 ] && echo --no-serial)
  fi
done
set_rtt 0
if [ "$SCALE" != none ]; then
  echo "CPU and scale at RTT 0 (http, distinct URLs by query string):"
  driver scale --sizes "$SCALE" --ks "$KS" --names "$T/names" --fixture "$T/www" --work "$T" \
    --asyncdl "$ASYNCDL" --http-port $HTTP_PORT
fi
echo "measured in $(($(date +%s) - START)) s"
EMU_NAME=$EMU
[ "$EMU" = nfqueue ] && EMU_NAME="NFQUEUE + adl-delayer ($RT)"
rc=0
"$PY" "$HERE/report.py" --results "$RESULTS" --out "$OUT" --emulator "$EMU_NAME" --asyncdl "$ASYNCDL" --streams "$STREAMS" || rc=$?
if [ "$SCHED" = yes ]; then
  sched_phase || { [ "$rc" != 0 ] || rc=1; }
fi
exit "$rc"
