#!/bin/bash
# The scheduler scenarios: the library in a host's loop, a system-size CA
# bundle, a list over several hosts, DNS TTL 0, instructions per request
# and the worst disk write. Each prints PASS/FAIL (or INFO/SKIP) with its
# figures; both sides of every ratio are measured in the same run. The lines
# and the raw figures are appended as a section to bench/results/sched.md.
#
# Alone (root):  bench/sched.sh [bench/run.sh options: --build=DIR, --out=DIR,
#                --no-build --asyncdl=... --fixture-gen=... --delayer=...
#                --host-lateness=...]
# which is `bench/run.sh --sched=only ...`: the bench's namespace, nginx,
# dnsmasq, CA and delay, then only these scenarios. bench/run.sh also runs
# them after its own tables (and in --quick mode) unless --sched=no or
# --count is given. run.sh calls this script with --part=rtt0 and
# --part=rtt20 inside the namespace at those RTTs, then --part=report.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PART=''
case ${1-} in --part=*) PART=${1#*=}; shift ;; esac
[ -n "$PART" ] || exec "$HERE/run.sh" --sched=only "$@"

for v in ADL_HTTP ADL_HTTPS ADL_CA ADL_NAMES ADL_DOCS ADL_ASYNCDL ADL_HOST_LATENESS \
  ADL_HTTP_PORT ADL_STATUS_PORT ADL_SCHED_DIR ADL_SCHED_MD; do
  [ -n "${!v-}" ] || { echo "sched: $v is not set: run bench/sched.sh or bench/run.sh" >&2; exit 2; }
done
PY=/usr/bin/python3
W=$ADL_SCHED_DIR LINES=$ADL_SCHED_DIR/lines DETAILS=$ADL_SCHED_DIR/details
mkdir -p "$W"
ERR=0 # a setup or download failure (not a missed target)
DNS=127.0.0.1:53
# The timing-sensitive runs (host loop lateness, serial CA) run at real-time
# priority where allowed, so that other processes on the machine's few
# cores do not preempt them: what is measured is the library's own time on
# the loop. The baseline runs the same way.
RTX=(chrt -f 5)
chrt -f 5 true 2>/dev/null || RTX=()
say() { printf '%s\n' "$*" | tee -a "$LINES"; }
err() { echo "sched: ERROR: $*" >&2; ERR=1; }
detail() { printf '%s\n' "$@" >>"$DETAILS"; }
sp() { "$PY" "$HERE/sched.py" "$@"; }
# figures: f A B [decimals] = A / B
f() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "inf"; else printf "%.*f", d, a / b }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; } # µs -> ms
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "PASS" : "FAIL") }'; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" | head -n 1; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# Process wall time of a command, spawn to exit, in seconds (sets WALL, RC).
timed() {
  local t0=$EPOCHREALTIME
  "$@"
  RC=$?
  WALL=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}
TOTAL=$(while read -r n; do stat -c %s "$ADL_DOCS/$n"; done <"$ADL_NAMES" | awk '{ s += $1 } END { print s }')
NDOCS=$(wc -l <"$ADL_NAMES")
# Checks a one-run asyncdl --json report: every document, every byte.
check_json() { # FILE LABEL [N BYTES]
  local r n=${3:-$NDOCS} b=${4:-$TOTAL}
  r=$(sp report "$1" 2>&1)
  if [ "$(kv ok <<<" $r")" != "$n" ] || [ "$(kv bytes <<<" $r")" != "$b" ]; then
    err "$2: not every document arrived ($r; want ok=$n bytes=$b)"
    return 1
  fi
}

part_rtt0() {
  local SYS=/etc/ssl/certs/ca-certificates.crt BIG=$W/big-ca.pem NCERT=0 out bl p
  date +%s >"$W/start"
  echo "scheduler scenarios at RTT 0"
  if [ -s "$SYS" ]; then
    cat "$ADL_CA" "$SYS" >"$BIG"
    NCERT=$(grep -c 'BEGIN CERTIFICATE' "$BIG")
  else
    BIG=''
  fi

  # ---- 1 (and 2b): the library in a host's loop ---------------------------
  local phases=("--phase=http-K6,6,10000,$ADL_HTTP" "--phase=http-K64,64,10000,$ADL_HTTP"
    "--phase=https-K64,64,2000,$ADL_HTTPS,$ADL_CA")
  [ -n "$BIG" ] && phases+=("--phase=https-K64-bigCA,64,2000,$ADL_HTTPS,$BIG")
  out=$W/lateness.out
  if ! "${RTX[@]}" "$ADL_HOST_LATENESS" --names="$ADL_NAMES" --docs="$ADL_DOCS" --dns-server=$DNS \
    --baseline-ms=1000 "${phases[@]}" >"$out" 2>"$W/lateness.err"; then
    err "adl-host-lateness: $(tail -n 3 "$W/lateness.err")"
  fi
  detail '### 1. Host loop lateness (adl-host-lateness, 1 ms uv_timer)' '' '```' "$(cat "$out")" '```' ''
  bl=$(grep '^phase baseline ' "$out")
  local blt
  blt="baseline p99 $(ms "$(kv p99_us <<<"$bl")") ms (p50 $(ms "$(kv p50_us <<<"$bl")"), max $(ms "$(kv max_us <<<"$bl")") ms, $(kv ticks <<<"$bl") ticks over 1.0 s)"
  for spec in http-K6:1500 http-K64:1500 https-K64:2000; do
    p=$(grep "^phase ${spec%%:*} " "$out")
    if [ -z "$p" ]; then
      say "FAIL 1 host loop ${spec%%:*}: no figures (adl-host-lateness failed)"
      continue
    fi
    local v
    v=$(verdict "$(kv p99_us <<<"$p")" "${spec#*:}")
    [ "$(kv ok <<<"$p")" = "$(kv n <<<"$p")" ] || v="FAIL (downloads failed)"
    say "$v 1 host loop, ${spec%%-*} K=$(kv k <<<"$p"), $(kv n <<<"$p") req:" \
      "tick lateness p99 $(ms "$(kv p99_us <<<"$p")") ms <= $(ms "${spec#*:}") ms" \
      "(p50 $(ms "$(kv p50_us <<<"$p")"), max $(ms "$(kv max_us <<<"$p")") ms," \
      "$(kv ticks <<<"$p") ticks over $(f "$(kv wall_ms <<<"$p")" 1000) s, $(kv conns <<<"$p") conns); $blt"
  done

  # ---- 2: a system-size CA bundle -------------------------------------------
  if [ -z "$BIG" ]; then
    say "SKIP 2 system-size CA: $SYS missing (apt-get install ca-certificates)"
  else
    local w1=() wb=() i j ca
    for i in 1 2 3 4 5; do
      for ca in one big; do
        j=$W/serial-$ca-$i.json
        if [ $ca = one ]; then c=$ADL_CA; else c=$BIG; fi
        timed "${RTX[@]}" "$ADL_ASYNCDL" --strategy=serial --base-url="$ADL_HTTPS" --list="$ADL_NAMES" \
          --cacert="$c" --dns-server=$DNS -q --json="$j" >"$W/cli.out"
        [ "$RC" = 0 ] || err "serial https ($ca CA) exited $RC"
        check_json "$j" "serial https ($ca CA)"
        if [ $ca = one ]; then w1+=("$WALL"); else wb+=("$WALL"); fi
      done
    done
    local m1 mb r
    m1=$(echo "${w1[*]}" | median) mb=$(echo "${wb[*]}" | median)
    r=$(f "$mb" "$m1")
    say "$(verdict "$r" 1.3) 2 system-size CA, serial https $NDOCS docs: $NCERT-cert bundle" \
      "${mb} s vs 1-cert ${m1} s = ${r}x <= 1.3x (median of 5 each, alternated;" \
      "1-cert ${w1[*]}; $NCERT-cert ${wb[*]})"
    p=$(grep '^phase https-K64-bigCA ' "$out")
    local p1
    p1=$(grep '^phase https-K64 ' "$out")
    if [ -n "$p" ]; then
      v=$(verdict "$(kv max_us <<<"$p")" 20000)
      [ "$(kv ok <<<"$p")" = "$(kv n <<<"$p")" ] || v="FAIL (downloads failed)"
      say "$v 2 system-size CA, parallel K=64 https start-up in a host loop:" \
        "max tick lateness $(ms "$(kv max_us <<<"$p")") ms <= 20 ms with the $NCERT-cert bundle" \
        "(worst ticks µs $(kv worst_us <<<"$p"); $(kv n <<<"$p") req in $(f "$(kv wall_ms <<<"$p")" 1000) s," \
        "$(kv conns <<<"$p") conns); 1-cert CA max $(ms "$(kv max_us <<<"$p1")") ms;" \
        "baseline max $(ms "$(kv max_us <<<"$bl")") ms"
    else
      say "FAIL 2 system-size CA, parallel K=64 https start-up: no figures (adl-host-lateness failed)"
    fi
  fi

  # ---- 5: instructions per request (callgrind) ------------------------------
  # The same work on both sides: asyncdl asks for compression by default
  # (Accept-Encoding, since 0.3.0), so curl is run with --compressed.
  if ! command -v valgrind >/dev/null; then
    say "SKIP 5 instructions per request: valgrind not installed"
  else
    local n tool ir
    declare -A IR=()
    for n in $NDOCS $((NDOCS * 10)); do
      awk -v b="$ADL_HTTP" '{ u[NR - 1] = $0 } END { for (i = 0; i < N; i++) printf "%s%s?i=%d\n", b, u[i % NR], i }' \
        N="$n" "$ADL_NAMES" >"$W/cg-$n.list"
      sed 's/.*/url = "&"/' "$W/cg-$n.list" >"$W/cg-$n.curlrc"
      valgrind --tool=callgrind --callgrind-out-file="$W/cg-asyncdl-$n.out" \
        "$ADL_ASYNCDL" --strategy=parallel --connections=6 --list="$W/cg-$n.list" \
        --dns-server=$DNS -q >/dev/null 2>"$W/cg-asyncdl-$n.err" ||
        err "asyncdl under callgrind ($n URLs) failed: $(tail -n 2 "$W/cg-asyncdl-$n.err")"
      if command -v curl >/dev/null; then
        valgrind --tool=callgrind --callgrind-out-file="$W/cg-curl-$n.out" \
          curl -sS --no-progress-meter --fail --http1.1 --compressed -Z --parallel-max 6 -K "$W/cg-$n.curlrc" \
          >/dev/null 2>"$W/cg-curl-$n.err" ||
          err "curl -Z under callgrind ($n URLs) failed: $(tail -n 2 "$W/cg-curl-$n.err")"
      fi
      for tool in asyncdl curl; do
        [ -s "$W/cg-$tool-$n.out" ] && IR[$tool-$n]=$(sp callgrind "$W/cg-$tool-$n.out")
      done
    done
    local big=$((NDOCS * 10)) d=$((NDOCS * 9)) pa pc
    detail '### 5. callgrind totals (Ir)' '' '```'
    for k in "${!IR[@]}"; do detail "$k ${IR[$k]}"; done
    detail '```' ''
    if [ -n "${IR[asyncdl-$big]-}" ] && [ -n "${IR[asyncdl-$NDOCS]-}" ]; then
      pa=$(((IR[asyncdl-$big] - IR[asyncdl-$NDOCS]) / d))
      if [ -n "${IR[curl-$big]-}" ] && [ -n "${IR[curl-$NDOCS]-}" ]; then
        pc=$(((IR[curl-$big] - IR[curl-$NDOCS]) / d))
        r=$(f "$pa" "$pc")
        say "$(verdict "$r" 0.5) 5 instructions per request (callgrind Ir, http, parallel K=6, RTT 0," \
          "($big - $NDOCS URLs) / $d): asyncdl $pa vs curl -Z --compressed $pc = ${r}x <= 0.5x" \
          "(totals asyncdl ${IR[asyncdl-$NDOCS]} / ${IR[asyncdl-$big]}, curl ${IR[curl-$NDOCS]} / ${IR[curl-$big]})"
      else
        say "INFO 5 instructions per request: asyncdl $pa (curl not installed or failed: no ratio)"
      fi
    else
      say "FAIL 5 instructions per request: no callgrind totals for asyncdl"
    fi
  fi

  # ---- 6: the worst disk write ---------------------------------------------
  local dir disk rr
  dir=$(mktemp -d /dev/shm/adl-sched.XXXXXX 2>/dev/null) || dir=$(mktemp -d "$W/out.XXXXXX")
  "$ADL_ASYNCDL" --strategy=parallel --base-url="$ADL_HTTP" --list="$ADL_NAMES" --out="$dir" \
    --json="$W/disk.json" --dns-server=$DNS -q >"$W/cli.out" || err "asyncdl --out exited $?"
  local bad=0
  while read -r n; do cmp -s "$dir/$n.json" "$ADL_DOCS/$n" || bad=$((bad + 1)); done <"$ADL_NAMES"
  [ $bad = 0 ] || err "asyncdl --out: $bad of $NDOCS files missing or different"
  rr=$(sp report "$W/disk.json")
  disk=$(kv disk_max_us <<<" $rr")
  local fs
  fs=$(df --output=fstype "$dir" | tail -n 1)
  rm -rf "$dir"
  if [ "$disk" = none ] || [ -z "$disk" ]; then
    say "SKIP 6 worst disk write: the CLI's --json report has no disk_max_us (the library's" \
      "adl_summary_t has it; src/cli/report.c does not print it yet); the $NDOCS files on $fs were" \
      "$([ $bad = 0 ] && echo correct || echo WRONG)"
  else
    say "INFO 6 worst disk write: disk_max_us $disk ($NDOCS docs, parallel K=6, --out on $fs," \
      "files $([ $bad = 0 ] && echo correct || echo WRONG))"
  fi

  # ---- 7: a million-line list with --out, checked in flat memory -------------
  # The last line is bad, so the check reads it all and stops before any
  # download: the peak RSS is the check's (names kept as fingerprints).
  local big=$W/million.list rss
  "$PY" -c "
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(999999): f.write('doc-%d\n' % i)
    f.write('ftp://127.0.0.1/x\n')" "$big"
  mkdir -p "$W/mout"
  /usr/bin/time -f "%M" -o "$W/rss" "$ADL_ASYNCDL" --base-url="$ADL_HTTP" \
    --list="$big" --out="$W/mout" -q >/dev/null 2>"$W/million.err"
  rss=$(tail -n 1 "$W/rss")
  say "$([ "${rss:-99999999}" -lt 32768 ] && echo PASS || echo FAIL) 7 a 1,000,000-line list with --out" \
    "checked in ${rss} KB peak RSS <= 32768 KB (nothing downloaded: its last line is refused)"
  rm -f "$big"
}

part_rtt20() {
  echo "scheduler scenarios at RTT 20 ms"
  local pids=() port ttl
  # Two dnsmasq: TTL 0 on 5354, TTL 60 on 5355; *.sched.test is 127.0.0.1.
  for port in 5354 5355; do
    ttl=$([ $port = 5354 ] && echo 0 || echo 60)
    : >"$W/dns$port.log"
    setsid dnsmasq -k --port=$port --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
      --no-hosts --address=/sched.test/127.0.0.1 --local=/sched.test/ --local-ttl=$ttl \
      --log-queries --log-facility="$W/dns$port.log" --pid-file="$W/dns$port.pid" \
      >"$W/dns$port.out" 2>&1 &
    pids+=($!)
  done
  trap 'kill -TERM "${pids[@]}" 2>/dev/null' EXIT
  for port in 5354 5355; do
    for _ in $(seq 50); do [ -s "$W/dns$port.pid" ] && break; sleep 0.1; done
    [ -s "$W/dns$port.pid" ] || { err "dnsmasq on $port did not start: $(cat "$W/dns$port.out")"; return; }
  done

  # ---- 3: a list over several hosts -----------------------------------------
  local hosts=(a b c d) list=$W/multi.list i=0 n
  while read -r n; do
    echo "http://${hosts[i % 4]}.sched.test:$ADL_HTTP_PORT/api/v2/pokemon/$n"
    i=$((i + 1))
  done <"$ADL_NAMES" >"$list"
  local run strat k j a0 a1 acc nc wp peak
  detail '### 3. Several hosts (a,b,c,d.sched.test interleaved, RTT 20 ms)' '' '```'
  for run in session:1 parallel:6 parallel:2; do
    strat=${run%:*} k=${run#*:} j=$W/multi-$strat-$k.json
    a0=$(sp accepted "$ADL_STATUS_PORT")
    rm -f "$W/watch.out"
    "$PY" "$HERE/sched.py" watch "$ADL_HTTP_PORT" "$W/watch.out" >"$W/watch.ready" &
    wp=$!
    for _ in $(seq 50); do grep -q ready "$W/watch.ready" && break; sleep 0.05; done
    timed "$ADL_ASYNCDL" --strategy="$strat" --connections="$k" --list="$list" \
      --dns-server=127.0.0.1:5355 -q --json="$j" >"$W/cli.out"
    kill -TERM $wp
    wait $wp
    a1=$(sp accepted "$ADL_STATUS_PORT")
    acc=$((a1 - a0 - 1)) # minus the second status request itself
    [ "$RC" = 0 ] || err "$strat over 4 hosts exited $RC"
    check_json "$j" "$strat K=$k over 4 hosts"
    nc=$(sp report "$j" | kv new_conns)
    peak=$(sed -n 's/^max_client_open=\([0-9]*\).*/\1/p' "$W/watch.out")
    peak=${peak:-999}
    detail "$strat K=$k: wall ${WALL} s, new_connections $nc, nginx accepted $acc, $(cat "$W/watch.out")"
    case $strat in
      session)
        say "$([ "$nc" = 4 ] && [ "$acc" = 4 ] && echo PASS || echo FAIL) 3 four hosts interleaved, session:" \
          "$nc connections opened (nginx accepted $acc) == 4 hosts; at most $peak open at once; wall $WALL s" ;;
      *)
        if [ "$k" -ge 4 ]; then
          # K caps the connections open at once. Over the run a few more are
          # opened as hosts' queues run dry (a freed connection then goes to
          # a host that still has work): the target is no churn, i.e. at
          # most 3K for 151 requests (one request of lookahead gave 98).
          say "$([ "$nc" -le $((3 * k)) ] && [ "$acc" -le $((3 * k)) ] && [ "$peak" -le "$k" ] && echo PASS || echo FAIL)" \
            "3 four hosts interleaved, parallel K=$k: at most $peak open at once <= K=$k (sampled every ~2 ms);" \
            "$nc connections opened (nginx accepted $acc) <= 3K = $((3 * k)); wall $WALL s"
        else
          say "$([ "$peak" -le "$k" ] && echo PASS || echo FAIL) 3 four hosts interleaved, parallel K=$k:" \
            "at most $peak open at once (client sockets sampled every ~2 ms) <= K=$k; $nc connections opened" \
            "in total (nginx accepted $acc), wall $WALL s"
        fi ;;
    esac
  done
  detail '```' ''

  # ---- 4: DNS TTL 0 ------------------------------------------------------------
  local base=http://dns.sched.test:$ADL_HTTP_PORT/api/v2/pokemon/ q0 q1 rep
  local w0=() w60=() qa0=() qa60=() qq4=()
  for rep in 1 2 3; do
    for port in 5354 5355; do
      j=$W/ttl-$port-$rep.json
      q0=$(grep -c 'query\[A\] dns.sched.test' "$W/dns$port.log")
      timed "$ADL_ASYNCDL" --strategy=session --base-url="$base" --list="$ADL_NAMES" \
        --dns-server=127.0.0.1:$port -q --json="$j" >"$W/cli.out"
      [ "$RC" = 0 ] || err "session via dnsmasq :$port exited $RC"
      check_json "$j" "session via dnsmasq :$port"
      sleep 0.2 # let dnsmasq write its log
      q1=$(grep -c 'query\[A\] dns.sched.test' "$W/dns$port.log")
      if [ $port = 5354 ]; then
        w0+=("$WALL") qa0+=($((q1 - q0)))
      else
        w60+=("$WALL") qa60+=($((q1 - q0)))
      fi
    done
  done
  local m0 m60 r qmax
  m0=$(echo "${w0[*]}" | median) m60=$(echo "${w60[*]}" | median)
  r=$(f "$m0" "$m60" 3)
  qmax=$(printf '%s\n' "${qa0[@]}" | sort -n | tail -n 1)
  detail '### 4. DNS TTL 0 vs 60 (session, RTT 20 ms)' '' '```' \
    "TTL 0:  walls ${w0[*]} s, A queries per run ${qa0[*]}, AAAA total $(grep -c 'query\[AAAA\] dns.sched.test' "$W/dns5354.log")" \
    "TTL 60: walls ${w60[*]} s, A queries per run ${qa60[*]}, AAAA total $(grep -c 'query\[AAAA\] dns.sched.test' "$W/dns5355.log")" '```' ''
  say "$(awk -v r="$r" -v q="$qmax" 'BEGIN { print (r <= 1.10 && q <= 3 ? "PASS" : "FAIL") }') 4 DNS TTL 0," \
    "session $NDOCS docs at RTT 20 ms: wall ${m0} s vs TTL 60 ${m60} s = ${r}x <= 1.10x (median of 3," \
    "alternated); A queries per run TTL 0: ${qa0[*]} (<= 3), TTL 60: ${qa60[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  trap - EXIT
}

part_report() {
  local md=$ADL_SCHED_MD start
  start=$(cat "$W/start" 2>/dev/null || date +%s)
  [ -s "$md" ] || printf '%s\n' '# Scheduler scenarios (bench/sched.sh)' '' \
    'Appended by every run of `bench/sched.sh` (or `bench/run.sh`); see bench/README.md.' >"$md"
  {
    echo
    echo "## $(date -u '+%F %T UTC'): $(nproc) CPUs, Linux $(uname -r), delay by ${ADL_EMULATOR:-?}"
    echo
    echo "Scenarios 1, 2, 5, 6 at RTT 0; 3 and 4 at RTT 20 ms. The target lines:"
    echo
    echo '```'
    cat "$LINES" 2>/dev/null
    echo '```'
    echo
    cat "$DETAILS" 2>/dev/null
    echo "Phase measured in $(($(date +%s) - start)) s."
  } >>"$md"
  echo "scheduler scenarios: $(grep -c '^PASS' "$LINES") PASS, $(grep -c '^FAIL' "$LINES") FAIL," \
    "$(grep -c '^SKIP' "$LINES") SKIP, in $(($(date +%s) - start)) s; appended to $md"
}

case $PART in
  rtt0) part_rtt0 ;;
  rtt20) part_rtt20 ;;
  report) part_report ;;
  *) echo "sched: unknown --part=$PART" >&2; exit 2 ;;
esac
exit $ERR
