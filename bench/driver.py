"""Benchmark driver, run by bench/run.sh INSIDE the bench network namespace
(with /etc/resolv.conf bind-mounted to the bench's dnsmasq in a private mount
namespace). Standard library only; results are appended as JSON lines.

    driver.py probe --results F --rtt MS [--server-time]
    driver.py cell  --results F --rtt MS --protos http,https --reps N ...
    driver.py scale --results F --sizes 10000,100000 --ks 6,64 ...
    driver.py compress --results F --rtt MS --gzip-port P --gzip-log F ...

The multiplex contenders (https cells) are in mux.py, the compression
cell's in compress.py.

Every contender is timed the same way: process wall clock from spawn to
exit (os.wait4, which also gives user+sys CPU and peak RSS), and its output
is compared byte for byte with the fixture tree; a mismatch is a failure.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

import compress
import mux

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = 'pokeapi.test'
PY = '/usr/bin/python3'


def log(msg):
    print(msg, flush=True)


def record(path, obj):
    with open(path, 'a') as f:
        f.write(json.dumps(obj, sort_keys=True) + '\n')


def load_fixture(root, names):
    d = os.path.join(root, 'api', 'v2', 'pokemon')
    out = {}
    for n in names:
        with open(os.path.join(d, n), 'rb') as f:
            out[n] = f.read()
    return out


def read_names(path):
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip()]


# ---- probes: the emulated path must be what we claim ------------------------

def dns_query(name, qtype, port=53, timeout=2.0):
    """One raw UDP query to the bench dnsmasq: (rcode, answers, ttl, ms)."""
    qid = os.getpid() & 0xffff
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    q += b''.join(bytes([len(p)]) + p.encode() for p in name.split('.')) + b'\0'
    q += struct.pack('>HH', qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        t = time.perf_counter()
        s.sendto(q, ('127.0.0.1', port))
        d = s.recv(1500)
        ms = (time.perf_counter() - t) * 1e3
    _, flags, _, an, _, _ = struct.unpack('>HHHHHH', d[:12])
    ttl = None
    if an:  # skip the echoed question, then read the first answer's TTL
        i = len(q)
        if d[i] & 0xc0 == 0xc0:
            i += 2
        else:
            while d[i]:
                i += d[i] + 1
            i += 1
        ttl = struct.unpack('>I', d[i + 4:i + 8])[0]
    return flags & 15, an, ttl, ms


def http_probe(port, names, count=30):
    """Median time of a GET on a warm keep-alive connection (server time at
    RTT 0) and the size of a response header block."""
    import http.client
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    times, hdr = [], 0
    for i in range(count + 3):
        t = time.perf_counter()
        c.request('GET', '/api/v2/pokemon/' + names[i % len(names)], headers={'Host': HOST})
        r = c.getresponse()
        r.read()
        if i >= 3:
            times.append(time.perf_counter() - t)
        hdr = len('HTTP/1.1 200 OK\r\n') + 2 + sum(len(k) + len(v) + 4 for k, v in r.getheaders())
    c.close()
    return statistics.median(times) * 1e3, hdr


def tls_overhead(port, ca, name):
    """Bytes the server sends beyond the HTTP response over TLS, for the
    first response on a new connection (session tickets + record framing)
    and for a later one (framing only): the model adds them to the body."""
    import ssl
    ctx = ssl.create_default_context(cafile=ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=HOST)
    with socket.create_connection(('127.0.0.1', port), timeout=5) as sock:
        def flush():
            data = out.read()
            if data:
                sock.sendall(data)
        for _ in range(20):
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                inc.write(sock.recv(65536))
        flush()
        res = []
        for _ in range(2):
            tls.write(('GET /api/v2/pokemon/%s HTTP/1.1\r\nHost: %s\r\n\r\n' % (name, HOST)).encode())
            flush()
            raw, plain, want = 0, b'', None
            while want is None or len(plain) < want:
                d = sock.recv(65536)
                if not d:
                    break
                raw += len(d)
                inc.write(d)
                try:
                    while True:
                        plain += tls.read(65536)
                except ssl.SSLWantReadError:
                    pass
                if want is None and b'\r\n\r\n' in plain:
                    head = plain.split(b'\r\n\r\n', 1)[0]
                    clen = [ln for ln in head.split(b'\r\n') if ln.lower().startswith(b'content-length:')]
                    want = len(head) + 4 + int(clen[0].split(b':')[1])
            res.append(raw - len(plain))
    return res


def cmd_probe(a):
    rtt = a.rtt
    res = {'type': 'probe', 'rtt': rtt, 'cc': open('/proc/sys/net/ipv4/tcp_congestion_control').read().strip(),
           'loadavg': os.getloadavg()[0]}
    ping = subprocess.run(['ping', '-U', '-q', '-c', '5', '-i', '0.05', '127.0.0.1'],
                          capture_output=True, text=True, timeout=30)
    for ln in ping.stdout.splitlines():
        if '/avg/' in ln:
            res['ping_ms'] = float(ln.split('=')[1].split('/')[1])
    conn = []
    for _ in range(10):
        with socket.socket() as s:
            t = time.perf_counter()
            s.connect(('127.0.0.1', a.http_port))
            conn.append((time.perf_counter() - t) * 1e3)
    res['tcp_connect_ms'] = statistics.median(conn)
    qa = [dns_query(HOST, 1) for _ in range(3)]
    q6 = [dns_query(HOST, 28) for _ in range(3)]
    gai = []
    for _ in range(5):
        t = time.perf_counter()
        socket.getaddrinfo(HOST, a.http_port, type=socket.SOCK_STREAM)
        gai.append((time.perf_counter() - t) * 1e3)
    res.update(dns_a=qa[-1][:3], dns_aaaa=q6[-1][:3], dns_ms=statistics.median(gai),
               dns_aaaa_ms=max(q[3] for q in q6))
    if a.server_time:
        res['server_ms'], res['header_bytes'] = http_probe(a.http_port, read_names(a.names))
        res['tls_first'], res['tls_next'] = tls_overhead(a.https_port, a.ca, read_names(a.names)[0])
    record(a.results, res)
    ok = True
    msg = ('RTT %g ms: ping -U avg %.3f ms, TCP connect median %.3f ms, cc=%s; '
           'DNS getaddrinfo %.3f ms; A rcode=%d n=%d ttl=%s; AAAA rcode=%d n=%d in %.3f ms; load %.2f'
           % (rtt, res.get('ping_ms', -1), res['tcp_connect_ms'], res['cc'], res['dns_ms'],
              qa[-1][0], qa[-1][1], qa[-1][2], q6[-1][0], q6[-1][1], res['dns_aaaa_ms'], res['loadavg']))
    if a.server_time:
        msg += ('; server %.3f ms/request, header %d B, TLS adds %d B to a first response, %d B later'
                % (res['server_ms'], res['header_bytes'], res['tls_first'], res['tls_next']))
    log(msg)
    # The delay must be real and the test DNS must answer both families.
    if abs(res['tcp_connect_ms'] - rtt) > max(0.5, 0.1 * rtt):
        log('PROBE FAILED: TCP connect time is not the emulated RTT'); ok = False
    if qa[-1][:2] != (0, 1) or q6[-1][:2] != (0, 0) or res['dns_aaaa_ms'] > 2 * rtt + 100:
        log('PROBE FAILED: dnsmasq must answer A and an empty AAAA promptly'); ok = False
    sys.exit(0 if ok else 1)


# ---- running one contender -----------------------------------------------------

def timed(argv, timeout, stdout=subprocess.DEVNULL, stderr=None, env=None):
    """Spawn argv, wait with wait4: (wall s, exit code, cpu s, maxrss KiB).
    The timeout is a SIGALRM, not a thread, so that Ctrl-C reaches this
    (main) thread at once; either kills the contender's process group."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env, start_new_session=True)
    kill = lambda *_: os.killpg(p.pid, signal.SIGKILL)
    old = signal.signal(signal.SIGALRM, kill)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        _, status, ru = os.wait4(p.pid, 0)
    except BaseException:
        kill()
        os.wait4(p.pid, 0)
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, p.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def server_counts(port):
    """nginx stub_status: (accepted connections, requests) so far."""
    with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
        c.sendall(b'GET /status HTTP/1.0\r\nHost: x\r\n\r\n')
        data = b''
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
    nums = data.split(b'\r\n\r\n', 1)[1].split(b'requests')[1].split()
    return int(nums[0]), int(nums[2])


def verify(outdir, expected):
    """Empty string when outdir holds exactly the expected documents."""
    try:
        files = set(os.listdir(outdir))
    except OSError as e:
        return str(e)
    want = {n + '.json' for n in expected}
    missing, extra, differ = want - files, files - want, 0
    for n, body in expected.items():
        if n + '.json' in files:
            with open(os.path.join(outdir, n + '.json'), 'rb') as f:
                differ += f.read() != body
    parts = []
    if missing:
        parts.append('%d missing' % len(missing))
    if extra:
        parts.append('%d unexpected files' % len(extra))
    if differ:
        parts.append('%d differ' % differ)
    return ', '.join(parts)


def curl_config(od, base, names):
    """A curl -K file fetching every name to od/NAME.json; its path."""
    path = od + '.curlrc'
    with open(path, 'w') as f:
        for n in names:
            f.write('url = "%s%s"\noutput = "%s/%s.json"\n' % (base, n, od, n))
    return path


def have_module(mod):
    return subprocess.run([PY, '-c', 'import ' + mod], stderr=subprocess.DEVNULL).returncode == 0


def python_args(a, base, https):
    """pyargs(mode, od) -> argv of a contenders.py run against base."""
    py = [PY, os.path.join(HERE, 'contenders.py')]
    return lambda mode, od: py + [mode, '--base', base, '--list', a.names, '--out', od] + (
        ['--cacert', a.ca] if https else [])


def contenders(a, proto, names_file, work, expected_total=0):
    """(name, class, build(outdir) -> argv[, check]) for every installed
    contender; check(od, stdout_path) verifies one that saves no files."""
    port = a.https_port if proto == 'https' else a.http_port
    base = '%s://%s:%d/api/v2/pokemon/' % (proto, HOST, port)
    https = proto == 'https'
    names = read_names(names_file)
    out = []
    if a.asyncdl and os.access(a.asyncdl, os.X_OK):
        for strat, extra in (('serial', []), ('session', []), ('parallel', ['--connections=6'])):
            def build(od, strat=strat, extra=extra):
                return [a.asyncdl, '--strategy=' + strat, '--base-url=' + base,
                        '--list=' + names_file, '--out=' + od, '--dns-server=127.0.0.1:53',
                        '-q', '--json=' + od + '.json'] + extra + (['--cacert=' + a.ca] if https else [])
            out.append(('asyncdl-' + strat, strat, build))
    have = have_module
    pyargs = python_args(a, base, https)
    if have('requests'):
        out.append(('requests-get', 'serial', lambda od: pyargs('requests-get', od)))
        out.append(('requests-session', 'session', lambda od: pyargs('requests-session', od)))
    if have('aiohttp'):
        out.append(('aiohttp', 'parallel', lambda od: pyargs('aiohttp', od) + ['--limit', '6']))
    if shutil.which('curl'):
        # --http1.1 keeps curl on the protocol every other contender speaks;
        # curl-Z-h2 shows what curl's default (HTTP/2 multiplexing) does.
        # --no-progress-meter: curl 7.88 draws its -Z meter even under -s.
        curl = ['curl', '-sS', '--no-progress-meter', '--fail'] + (['--cacert', a.ca] if https else [])
        loop = ('b=$1 o=$2 l=$3; shift 3; st=0; while read -r n; do [ -n "$n" ] || continue; '
                'curl "$@" -o "$o/$n.json" "$b$n" || st=1; done < "$l"; exit $st')
        out.append(('curl-per-url', 'serial',
                    lambda od: ['sh', '-c', loop, 'sh', base, od, names_file] + curl[1:] + ['--http1.1']))

        def cfg(od):
            return curl_config(od, base, names)
        out.append(('curl-one-proc', 'session', lambda od: curl + ['--http1.1', '-K', cfg(od)]))
        out.append(('curl-Z', 'parallel',
                    lambda od: curl + ['--http1.1', '-Z', '--parallel-max', '6', '-K', cfg(od)]))
        if https:
            out.append(('curl-Z-h2', 'parallel',
                        lambda od: curl + ['-Z', '--parallel-max', '6', '-K', cfg(od)]))
    if https:  # HTTP/2 over TLS: one connection, every request a stream
        out += mux.contenders(a, base, names, lambda od, b: curl_config(od, b, names), expected_total)
    return out


def run_specs(a, proto, specs, expected, rtype='run', server_log=None):
    """Every spec a.reps times (order rotated each repetition, slow ones
    cut by a.budget), each timed, verified and recorded as a `rtype`
    record. server_log: a compress.ServerLog whose new lines are accounted per run."""
    spent, last, failed = {}, {}, set()
    for rep in range(a.reps):
        k = rep % len(specs) if specs else 0  # rotate: no contender always goes first
        for spec in specs[k:] + specs[:k]:
            name, klass, build = spec[:3]
            check = spec[3] if len(spec) > 3 else None
            if name in failed:
                continue
            if rep > 0 and spent[name] + last[name] > a.budget:
                continue  # enough repetitions of a slow cell: stay in the time bound
            od = os.path.join(a.work, 'out-' + name)
            shutil.rmtree(od, ignore_errors=True)
            os.makedirs(od)
            errf, outf = od + '.err', od + '.out'
            acc0, req0 = server_counts(a.status_port)
            if server_log:
                server_log.mark()
            with open(errf, 'w') as ef, open(outf, 'w') as of:
                # Only serial runs may take minutes; a stuck run of the others
                # must not eat the bench (curl -Z --http2 once spun 300 s).
                limit = a.timeout if klass == 'serial' else min(a.timeout, 60)
                wall, rc, cpu, rss = timed(build(od), limit, stdout=of if check else subprocess.DEVNULL,
                                           stderr=ef)
            acc1, req1 = server_counts(a.status_port)
            why = check(od, outf) if check else verify(od, expected)
            if rc != 0:
                why = ('exit %d; ' % rc + why).rstrip('; ')
            summary = None
            if os.path.exists(od + '.json'):
                try:
                    with open(od + '.json') as f:
                        summary = json.load(f)['runs'][0].get('summary')
                except (ValueError, KeyError, IndexError, TypeError):
                    summary = None
            err_tail = open(errf, errors='replace').read()[-400:]
            rec = {'type': rtype, 'rtt': a.rtt, 'proto': proto, 'contender': name,
                   'class': klass, 'rep': rep, 'wall_s': wall, 'rc': rc,
                   'ok': not why, 'why': why, 'cpu_s': cpu, 'maxrss_kb': rss,
                   'n': len(expected), 'summary': summary,
                   # server side; the second status query is one of each
                   'conns': acc1 - acc0 - 1, 'requests': req1 - req0 - 1,
                   'stderr': err_tail if why else ''}
            extra = ''
            if server_log:
                rec.update(compress.account(server_log.take(len(expected))))
                rec['decoded_bytes'] = sum(len(b) for b in expected.values())
                if summary and 'wire_bytes' in summary:
                    rec['asyncdl_wire'] = summary['wire_bytes']
                # More responses than documents (a client that sent some
                # requests twice) is shown, not failed: the files decide.
                extra = '  wire %8d B  %d responses  %s' % (
                    rec['wire_bytes'], rec['responses'], compress.fmt_enc(rec['accept_encoding']))
            record(a.results, rec)
            log('  %-5s %3g ms  %-17s rep %d  %8.3f s  cpu %6.3f s  conns %4d  %s%s'
                     % (proto, a.rtt, name, rep + 1, wall, cpu, acc1 - acc0 - 1,
                        'ok' if not why else 'FAILED: ' + why, extra))
            if why:
                failed.add(name)
                log('    stderr: ' + err_tail.strip().replace('\n', '\n    stderr: ')[-300:])
            spent[name] = spent.get(name, 0) + wall
            last[name] = wall
            shutil.rmtree(od, ignore_errors=True)
            for ext in ('.json', '.err', '.out', '.curlrc', '.uris'):
                if os.path.exists(od + ext):
                    os.remove(od + ext)


def cmd_cell(a):
    names = read_names(a.names)
    expected = load_fixture(a.fixture, names)
    record(a.results, {'type': 'docs', 'sizes': [len(expected[n]) for n in names]})
    total = sum(len(b) for b in expected.values())
    for proto in a.protos.split(','):
        specs = contenders(a, proto, a.names, a.work, total)
        run_specs(a, proto, [s for s in specs if s[1] != 'multiplex'], expected)
        # Runs of a quarter second: more of them, to see the occasional stall.
        a.reps, reps = a.mux_reps or a.reps, a.reps
        run_specs(a, proto, [s for s in specs if s[1] == 'multiplex'], expected)
        a.reps = reps
    sys.exit(0)


def cmd_compress(a):
    """The compression cell: every contender against the gzip server."""
    names = read_names(a.names)
    expected = load_fixture(a.fixture, names)
    base = 'https://%s:%d/api/v2/pokemon/' % (HOST, a.gzip_port)
    cfg = lambda od, b: curl_config(od, b, names)
    a.no_compress_ok = bool(a.asyncdl) and mux.asyncdl_supports(a.asyncdl, '--no-compress')
    specs = compress.contenders(a, base, names, cfg, python_args(a, base, True), have_module,
                                mux.contenders(a, base, names, cfg, 0, compressed=True))
    if a.no_serial:  # 15 s at 20 ms over https, the most of the cell's time
        specs = [s for s in specs if s[1] != 'serial']
    log('Compression at RTT %g ms (https, gzip on, port %d):' % (a.rtt, a.gzip_port))
    run_specs(a, 'https', specs, expected, 'compress', compress.ServerLog(a.gzip_log))
    sys.exit(0)


# ---- CPU and scale at RTT 0 ------------------------------------------------------

def time_v(argv, timeout, stdout, stderr, tf):
    """Run argv under /usr/bin/time -v (its report in tf) when installed,
    else rely on wait4: (wall, rc, user+sys s, maxrss KiB, source)."""
    if os.access('/usr/bin/time', os.X_OK):
        wall, rc, _, _ = timed(['/usr/bin/time', '-v', '-o', tf] + argv, timeout, stdout, stderr)
        f = {}
        for ln in open(tf, errors='replace'):
            k, _, v = ln.strip().rpartition(': ')
            f[k] = v
        try:
            cpu = float(f['User time (seconds)']) + float(f['System time (seconds)'])
            return wall, rc, cpu, int(f['Maximum resident set size (kbytes)']), 'time -v'
        except (KeyError, ValueError):
            return wall, rc, float('nan'), 0, 'time -v (unparsed)'
    wall, rc, cpu, rss = timed(argv, timeout, stdout, stderr)
    return wall, rc, cpu, rss, 'wait4'


def cmd_scale(a):
    names = read_names(a.names)
    sizes = {n: len(b) for n, b in load_fixture(a.fixture, names).items()}
    base = 'http://%s:%d/api/v2/pokemon/' % (HOST, a.http_port)
    for n in [int(x) for x in a.sizes.split(',')]:
        urls = ['%s%s?i=%d' % (base, names[i % len(names)], i) for i in range(n)]
        want_bytes = sum(sizes[names[i % len(names)]] for i in range(n))
        lst, cfg = os.path.join(a.work, 'scale-%d.list' % n), os.path.join(a.work, 'scale-%d.curlrc' % n)
        with open(lst, 'w') as f:
            f.write('\n'.join(urls) + '\n')
        with open(cfg, 'w') as f:
            f.write(''.join('url = "%s"\n' % u for u in urls))
        for k in [int(x) for x in a.ks.split(',')]:
            runs = []
            if a.asyncdl and os.access(a.asyncdl, os.X_OK):
                runs.append(('asyncdl-parallel', [a.asyncdl, '--strategy=parallel', '--connections=%d' % k,
                                                  '--list=' + lst, '--dns-server=127.0.0.1:53', '-q',
                                                  '--json=' + lst + '.json']))
            if shutil.which('curl'):
                runs.append(('curl-Z', ['curl', '-sS', '--no-progress-meter', '-Z', '--parallel-max', str(k), '-K', cfg,
                                        '-w', '%{stderr}ADLW %{http_code} %{size_download}\\n']))
            for tool, argv in runs:
                errf, tf = os.path.join(a.work, 'scale.err'), os.path.join(a.work, 'scale.time')
                with open(errf, 'w') as ef:
                    wall, rc, cpu, rss, src = time_v(argv, a.timeout, subprocess.DEVNULL, ef, tf)
                why, ok_n = '', 0
                if tool == 'curl-Z':
                    got = re.findall(r'ADLW 200 (\d+)\n', open(errf, errors='replace').read())
                    ok_n = len(got)
                    if ok_n != n or sum(int(g) for g in got) != want_bytes:
                        why = '%d of %d ok or byte count differs' % (ok_n, n)
                else:
                    try:
                        s = json.load(open(lst + '.json'))['runs'][0]['summary']
                        ok_n = s.get('ok', 0)
                        if ok_n != n or s.get('bytes', want_bytes) != want_bytes:
                            why = '%d of %d ok, %s of %d bytes' % (ok_n, n, s.get('bytes'), want_bytes)
                    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
                        why = 'no JSON summary: %s' % e
                if rc != 0:
                    why = ('exit %d; ' % rc + why).rstrip('; ')
                rec = {'type': 'scale', 'tool': tool, 'n': n, 'k': k, 'wall_s': wall, 'rc': rc,
                       'ok': not why, 'why': why, 'cpu_s': cpu, 'maxrss_kb': rss, 'source': src}
                record(a.results, rec)
                log('  scale %-16s n=%-6d K=%-3d %7.2f s  %8.0f req/s  cpu %.3f s/1000  rss %.1f MiB  %s'
                    % (tool, n, k, wall, n / wall, cpu / n * 1000, rss / 1024, 'ok' if not why else 'FAILED: ' + why))
                if why:
                    log('    stderr: ' + open(errf, errors='replace').read()[-300:].strip())
        for p in (lst, cfg, lst + '.json'):
            if os.path.exists(p):
                os.remove(p)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['probe', 'cell', 'scale', 'compress'])
    p.add_argument('--results', required=True)
    p.add_argument('--rtt', type=float, default=0)
    p.add_argument('--names')
    p.add_argument('--fixture')
    p.add_argument('--work')
    p.add_argument('--ca')
    p.add_argument('--asyncdl')
    p.add_argument('--http-port', type=int, default=8080)
    p.add_argument('--https-port', type=int, default=8443)
    p.add_argument('--status-port', type=int, default=8081)
    p.add_argument('--protos', default='http,https')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--budget', type=float, default=8.0)
    p.add_argument('--timeout', type=float, default=300.0)
    p.add_argument('--server-time', action='store_true')
    p.add_argument('--sizes', default='10000,100000')
    p.add_argument('--ks', default='6,64')
    p.add_argument('--streams', type=int, default=100)
    p.add_argument('--mux-reps', type=int, default=0, help='repetitions of the multiplex rows (0: --reps)')
    p.add_argument('--gzip-port', type=int, default=8444)
    p.add_argument('--gzip-log')
    p.add_argument('--no-serial', action='store_true', help='compress: leave asyncdl-serial out (--quick)')
    a = p.parse_args()
    try:
        {'probe': cmd_probe, 'cell': cmd_cell, 'scale': cmd_scale, 'compress': cmd_compress}[a.cmd](a)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == '__main__':
    main()
