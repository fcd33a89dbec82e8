"""Turn bench results (JSON lines from driver.py) into bench.md, bench.csv,
scale.csv and bench.svg, and print the table and the target lines.

The cost model is the one in ../shared/FIELD-NOTES.md, computed from the
bodies actually fetched and the round trip and DNS time measured at each RTT:
  serial   = sum_i (d + (2 + h + k_i) r + s)   (fresh connection each time)
  session  = d + (1 + h) r + sum_i (f_i r + s)  (one connection, window kept)
  parallel = d + (1 + h) r + greedy schedule of the same over K connections
where f_i is the number of flights body i needs under slow start (IW10,
MSS 1448, growing only while the window is used) and k_i = f_i - 1 on a
fresh connection. A response is its body plus the measured header block
and, over TLS, the measured record framing (plus the session tickets on the
first response of a connection). Bandwidth is not a limit on loopback.
The multiplex model and multiplex.md are in mux.py, compress.md in
compress.py. Exit status 1 when any contender failed.
"""
import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import compress
import mux

MSS, IW = 1448, 10
ORDER = ['asyncdl-serial', 'requests-get', 'curl-per-url',
         'asyncdl-session', 'requests-session', 'curl-one-proc',
         'asyncdl-parallel', 'aiohttp', 'curl-Z', 'curl-Z-h2'] + mux.NAMES
PEERS = {'serial': ['asyncdl-serial', 'requests-get', 'curl-per-url'],
         'session': ['asyncdl-session', 'requests-session', 'curl-one-proc'],
         'parallel': ['asyncdl-parallel', 'aiohttp', 'curl-Z'],
         'multiplex': mux.NAMES}
COLORS = ['#1f4e9c', '#6d9be0', '#b9d0f2', '#1b7a3a', '#6cc08a', '#bfe6cb',
          '#b3541e', '#eb9a5e', '#f6d1b1', '#8c6bb1', '#a3195b', '#e0609b', '#f2b8d2']


def flights(m, w):
    """Round trips to deliver m segments starting from window w; new w."""
    n = 0
    while m > 0:
        sent = min(w, m)
        m -= sent
        n += 1
        if 2 * sent > w:  # Linux grows the window only while it is used
            w += sent
    return max(n, 1), w


def model(klass, sizes, r, d, s, h, k=6, first=0, later=0):
    """sizes: response bytes; first/later: TLS bytes added to the first and
    to a later response on a connection (0 for plain HTTP)."""
    seg = lambda x: math.ceil(x / MSS)
    if klass == 'serial':
        return sum(d + (1 + h) * r + flights(seg(x + first), IW)[0] * r + s for x in sizes)
    conns = [[0.0, IW, first] for _ in range(1 if klass == 'session' else k)]
    for x in sizes:
        c = min(conns, key=lambda c: c[0])
        f, c[1] = flights(seg(x + c[2]), c[1])
        c[0] += f * r + s
        c[2] = later
    return d + (1 + h) * r + max(c[0] for c in conns)


def load(path):
    out = {'run': [], 'probe': {}, 'scale': [], 'docs': None, 'delayer': {}, 'compress': []}
    for ln in open(path):
        o = json.loads(ln)
        if o['type'] == 'probe':
            out['probe'][o['rtt']] = o
        elif o['type'] == 'delayer':
            out['delayer'][o['rtt']] = o['stats'].replace('adl-delayer: ', '')
        elif o['type'] == 'docs':
            out['docs'] = o['sizes']
        else:
            out[o['type']].append(o)
    return out


def cells(data):
    """{(proto, rtt): {contender: row}} with median/min/max and model."""
    res = {}
    p0 = data['probe'].get(0.0) or data['probe'].get(0) or {}
    s = p0.get('server_ms', 0.0) / 1e3
    hdr = p0.get('header_bytes', 250)
    sizes = [x + hdr for x in (data['docs'] or [])]
    for run in data['run']:
        key = (run['proto'], run['rtt'])
        row = res.setdefault(key, {}).setdefault(run['contender'], {
            'class': run['class'], 'walls': [], 'cpus': [], 'conns': [], 'reqs': [], 'failed': '',
            'summary': None})
        if run['ok']:
            row['walls'].append(run['wall_s'])
            row['cpus'].append(run['cpu_s'])
            row['conns'].append(run.get('conns', -1))
            row['reqs'].append(run.get('requests', -1))
            row['summary'] = run.get('summary')
        else:
            row['failed'] = run['why'] or 'failed'
    for (proto, rtt), rows in res.items():
        pr = data['probe'].get(rtt, {})
        r = pr.get('tcp_connect_ms', rtt) / 1e3
        d = pr.get('dns_ms', 0.0) / 1e3
        h = 1 if proto == 'https' else 0
        tls = (p0.get('tls_first', 0), p0.get('tls_next', 0)) if h else (0, 0)
        for name, row in rows.items():
            if row['class'] == 'multiplex':  # from the bodies (FIELD-NOTES)
                row['model'] = mux.model(data['docs'], r, d, h) if sizes else float('nan')
            else:
                row['model'] = model(row['class'], sizes, r, d, s, h, 6, *tls) if sizes else float('nan')
            if row['walls'] and not row['failed']:
                row['median'] = statistics.median(row['walls'])
                row['min'], row['max'] = min(row['walls']), max(row['walls'])
                row['cpu'] = statistics.median(row['cpus'])
                row['conn'] = max(row['conns'])
                row['req'] = max(row['reqs'])
    return res


def ordered(rows):
    return [n for n in ORDER if n in rows] + sorted(n for n in rows if n not in ORDER)


def peers_text(name, row, rows):
    if 'median' not in row:
        return ''
    out = []
    for p in PEERS.get(row['class'], []):
        if p != name and p in rows and 'median' in rows[p]:
            out.append('%.2f× %s' % (row['median'] / rows[p]['median'], p))
    return ', '.join(out)


def fmt_s(x):
    return '%.3f' % x if x < 10 else '%.2f' % x


def probe_lines(data):
    L = []
    for rtt in sorted(data['probe']):
        p = data['probe'][rtt]
        L.append('- RTT %g ms: ping -U %.3f ms, TCP connect %.3f ms, DNS (getaddrinfo, A+AAAA) '
                 '%.3f ms, congestion control %s, load average %.2f%s' % (
                     rtt, p.get('ping_ms', float('nan')), p['tcp_connect_ms'], p['dns_ms'], p['cc'],
                     p.get('loadavg', float('nan')),
                     '; delayer: ' + data['delayer'][rtt] if rtt in data['delayer'] else ''))
    return L


def markdown(data, res, meta):
    L = ['# asyncdl benchmark', '', meta, ''] + probe_lines(data)
    L.append('')
    for proto in ('http', 'https'):
        keys = sorted(k for k in res if k[0] == proto)
        if not keys:
            continue
        L += ['## %s' % proto, '',
              '| RTT ms | contender | runs | median s | min–max s | model s | ×model | CPU s | conns '
              '| vs peers (time ratio) |',
              '|---:|---|---:|---:|---:|---:|---:|---:|---:|---|']
        for key in keys:
            rows = res[key]
            for name in ordered(rows):
                row = rows[name]
                if row['failed']:
                    L.append('| %g | %s | %d | **FAILED** | %s | %s | | | | |' % (
                        key[1], name, len(row['walls']), row['failed'].replace('|', '/')[:60],
                        fmt_s(row['model'])))
                    continue
                L.append('| %g | %s | %d | %s | %s–%s | %s | %.2f | %.2f | %d | %s |' % (
                    key[1], name, len(row['walls']), fmt_s(row['median']), fmt_s(row['min']),
                    fmt_s(row['max']), fmt_s(row['model']), row['median'] / row['model'],
                    row['cpu'], row['conn'], peers_text(name, row, rows)))
        L.append('')
    if data['scale']:
        L += ['## CPU and scale at RTT 0 (http, distinct URLs)', '',
              '| requests | tool | K | wall s | req/s | CPU s / 1000 req | peak RSS MiB | status |',
              '|---:|---|---:|---:|---:|---:|---:|---|']
        for s in data['scale']:
            if not s['ok']:  # a failed run has no speed to show
                L.append('| %d | %s | %d | | | | | **FAILED**: %s |' % (
                    s['n'], s['tool'], s['k'], s['why'].replace('|', '/')[:80]))
                continue
            L.append('| %d | %s | %d | %.2f | %.0f | %.3f | %.1f | ok |' % (
                s['n'], s['tool'], s['k'], s['wall_s'], s['n'] / s['wall_s'],
                s['cpu_s'] / s['n'] * 1000, s['maxrss_kb'] / 1024))
        L.append('')
    return L


def targets(data, res):
    out = []

    def line(ok, text):
        out.append('%s  %s' % ('PASS' if ok else 'FAIL', text) if ok is not None else 'SKIP  ' + text)

    for name, lim in (('asyncdl-serial', 1.10), ('asyncdl-session', 1.10), ('asyncdl-parallel', 1.15)):
        row = res.get(('http', 20.0), {}).get(name)
        if not row:
            line(None, '%s within %.2f× of its model at 20 ms over http (not run)' % (name, lim))
        elif row['failed']:
            line(False, '%s within %.2f× of its model at 20 ms over http: FAILED' % (name, lim))
        else:
            x = row['median'] / row['model']
            line(x <= lim, '%s within %.2f× of its model at 20 ms over http: %.3f×' % (name, lim, x))
    for key in sorted(res, key=lambda k: (k[1], k[0])):
        rows = res[key]
        for klass, names in PEERS.items():
            if klass == 'multiplex':
                continue  # mux.targets below
            me = rows.get(names[0])
            if not me:
                continue
            others = [(p, rows[p]) for p in names[1:] if p in rows and 'median' in rows[p]]
            if not others:
                continue
            what = '%s at least as fast as %s @ %g ms %s' % (
                names[0], ' and '.join(p for p, _ in others), key[1], key[0])
            if 'median' not in me:
                line(False, what + ': asyncdl FAILED')
                continue
            ok = all(me['median'] <= o['median'] for _, o in others)
            line(ok, what + ': %.3f s vs %s' % (me['median'], ', '.join(
                '%.3f s (%+.1f %%)' % (o['median'], (me['median'] / o['median'] - 1) * 100)
                for _, o in others)))
    mux.targets(res, line)
    sc = {(s['tool'], s['n'], s['k']): s for s in data['scale']}
    for (tool, n, k), s in sorted(sc.items()):
        if tool != 'asyncdl-parallel':
            continue
        c = sc.get(('curl-Z', n, k))
        if not c or not c['ok'] or not s['ok']:
            line(False if not s['ok'] else None, 'RTT 0 n=%d K=%d vs curl -Z: %s' % (
                n, k, 'asyncdl FAILED' if not s['ok'] else 'no valid curl -Z run'))
            continue
        a_rps, c_rps = n / s['wall_s'], n / c['wall_s']
        line(a_rps >= c_rps, 'RTT 0 n=%d K=%d requests/s ≥ curl -Z: %.0f vs %.0f' % (n, k, a_rps, c_rps))
        line(s['cpu_s'] <= c['cpu_s'], 'RTT 0 n=%d K=%d CPU per request ≤ curl -Z: %.3f vs %.3f s/1000'
             % (n, k, s['cpu_s'] / n * 1000, c['cpu_s'] / n * 1000))
    ns = sorted({n for (t, n, k) in sc if t == 'asyncdl-parallel'})
    for k in sorted({k for (t, n, k) in sc if t == 'asyncdl-parallel'}):
        big = sc.get(('asyncdl-parallel', 100000, k))
        small = sc.get(('asyncdl-parallel', 10000, k))
        if not big or not small:
            line(None, 'peak RSS at 100k requests K=%d ≤ 32 MiB and within 10%% of 10k (ran n=%s)' % (k, ns))
            continue
        b, sm = big['maxrss_kb'] / 1024, small['maxrss_kb'] / 1024
        line(big['ok'] and b <= 32 and b <= sm * 1.10,
             'peak RSS at 100k requests K=%d ≤ 32 MiB and within 10%% of 10k: %.1f vs %.1f MiB' % (k, b, sm))
    return out


def svg(res, path):
    protos = [p for p in ('http', 'https') if any(k[0] == p for k in res)]
    names = [n for n in ORDER if any(n in r for r in res.values())]
    rtts = sorted({k[1] for k in res})
    vals = [v for r in res.values() for row in r.values()
            for v in (row.get('median'), row.get('max'), row.get('model')) if v and v > 0]
    if not vals or not protos:
        return
    lo, hi = 10 ** math.floor(math.log10(min(vals))), 10 ** math.ceil(math.log10(max(vals)))
    bw, gap, top, ph, left = 11, 16, 44, 320, 60
    gw = len(names) * bw + gap
    pw = max(len(rtts) * gw + 20, 300)
    W = max(left + len(protos) * (pw + 30) + 10, 800)
    H = top + ph + 60 + 16 * ((len(names) + 3) // 4)
    y = lambda v: top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="11"><rect width="100%%" height="100%%" fill="white"/>' % (W, H),
         '<text x="10" y="18" font-size="13">asyncdl bench: wall time per contender and RTT '
         '(median, grey = min–max, log scale; black tick = cost model; red x = FAILED)</text>']
    for pi, proto in enumerate(protos):
        x0 = left + pi * (pw + 30)
        o.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (x0 + pw / 2 - 15, top - 6, proto))
        e = math.log10(lo)
        while e <= math.log10(hi) + 1e-9:
            v = 10 ** e
            o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (x0, x0 + pw, y(v), y(v)))
            if pi == 0:
                o.append('<text x="%d" y="%.1f" text-anchor="end">%g s</text>' % (x0 - 4, y(v) + 4, v))
            e += 1
        for ri, rtt in enumerate(rtts):
            gx = x0 + 10 + ri * gw
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%g ms</text>'
                     % (gx + len(names) * bw / 2, top + ph + 16, rtt))
            rows = res.get((proto, rtt), {})
            for ni, name in enumerate(names):
                row, bx = rows.get(name), gx + ni * bw
                if not row:
                    continue
                if row['failed'] or 'median' not in row:
                    o.append('<text x="%.1f" y="%d" fill="red" font-weight="bold" text-anchor="middle">'
                             'x</text>' % (bx + bw / 2, top + ph - 2))
                    continue
                o.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %g ms: '
                         '%.3f s (model %.3f s)</title></rect>' % (
                             bx, y(row['median']), bw - 1, top + ph - y(row['median']), COLORS[ni % len(COLORS)],
                             name, rtt, row['median'], row['model']))
                o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#888"/>' % (
                    bx + bw / 2 - 0.5, bx + bw / 2 - 0.5, y(row['min']), y(row['max'])))
                if row['model'] > 0:
                    o.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black" '
                             'stroke-width="2"/>' % (bx - 1, bx + bw, y(row['model']), y(row['model'])))
        o.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>' % (x0, x0 + pw, top + ph, top + ph))
    for ni, name in enumerate(names):
        lx, ly = left + (ni % 4) * 170, top + ph + 36 + (ni // 4) * 16
        o.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>'
                 % (lx, ly - 9, COLORS[ni % len(COLORS)], lx + 14, ly, name))
    o.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(o) + '\n')


def meta_line(a):
    def first(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return 'n/a'
    cpu = next((ln.split(':', 1)[1].strip() for ln in open('/proc/cpuinfo') if ln.startswith('model name')), '?')
    py = first(['/usr/bin/python3', '-c', 'import requests, aiohttp; print("requests", requests.__version__, '
                '"aiohttp", aiohttp.__version__)'])
    return ('%s; %s, %d CPUs; Linux %s; delay by %s; %s; %s; %s; %s' % (
        time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), cpu, os.cpu_count(), platform.release(),
        a.emulator, first([a.asyncdl, '--version']) if a.asyncdl else 'asyncdl n/a',
        first(['curl', '--version']).split(' (')[0], first(['nginx', '-v']), py)) + (
        '; ' + first(['h2load', '--version']) if shutil.which('h2load') else '')


def compress_md(data, meta):
    """compress.md lines ([] when the compression cell did not run); the
    model of each row from the wire sizes that row's run received."""
    recs = data['compress']
    if not recs:
        return []
    rtt = recs[0]['rtt']
    p0 = data['probe'].get(0.0) or data['probe'].get(0) or {}
    pr = data['probe'].get(rtt, {})
    r, d = pr.get('tcp_connect_ms', rtt) / 1e3, pr.get('dns_ms', 0.0) / 1e3
    s, hdr = p0.get('server_ms', 0.0) / 1e3, p0.get('header_bytes', 250)
    tls = (p0.get('tls_first', 0), p0.get('tls_next', 0))

    def models(klass, wire):
        if klass == 'multiplex':
            return mux.model(wire, r, d, 1)
        return model(klass, [x + hdr for x in wire], r, d, s, 1, 6, *tls)
    probe = [ln for ln in probe_lines(data) if ln.startswith('- RTT %g ms' % rtt)]
    return compress.markdown(recs, meta, probe[0] if probe else '', models)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--results', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--emulator', default='?')
    p.add_argument('--asyncdl')
    p.add_argument('--streams', type=int, default=100)
    a = p.parse_args()
    data = load(a.results)
    res = cells(data)
    md = markdown(data, res, meta_line(a))
    tl = targets(data, res)
    md += ['## Targets', '', '```'] + tl + ['```', '']
    with open(os.path.join(a.out, 'bench.md'), 'w') as f:
        f.write('\n'.join(md))
    meta = meta_line(a)
    written = ['bench.md', 'bench.csv', 'scale.csv', 'bench.svg']
    if any(n in rows for rows in res.values() for n in mux.NAMES):
        mx = mux.markdown(res, meta, probe_lines(data), a.streams)
        mx += ['', '## Targets', '', '```'] + [t for t in tl if 'multiplex' in t] + ['```', '']
        with open(os.path.join(a.out, 'multiplex.md'), 'w') as f:
            f.write('\n'.join(mx))
        written.append('multiplex.md')
    cz = compress_md(data, meta)
    if cz:
        with open(os.path.join(a.out, 'compress.md'), 'w') as f:
            f.write('\n'.join(cz) + '\n')
        compress.write_csv(data['compress'], os.path.join(a.out, 'compress.csv'))
        written += ['compress.md', 'compress.csv']
    with open(os.path.join(a.out, 'bench.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['rtt_ms', 'proto', 'contender', 'class', 'runs', 'status', 'median_s', 'min_s',
                    'max_s', 'model_s', 'ratio_model', 'cpu_s', 'server_conns', 'rtt_measured_ms', 'dns_ms'])
        for key in sorted(res):
            pr = data['probe'].get(key[1], {})
            for name in ordered(res[key]):
                row = res[key][name]
                ok = 'median' in row and not row['failed']
                w.writerow([key[1], key[0], name, row['class'], len(row['walls']),
                            'ok' if ok else 'FAILED',
                            *(['%.4f' % row[x] for x in ('median', 'min', 'max')] if ok else ['', '', '']),
                            '%.4f' % row['model'], '%.3f' % (row['median'] / row['model']) if ok else '',
                            '%.3f' % row['cpu'] if ok else '', row['conn'] if ok else '',
                            pr.get('tcp_connect_ms', ''), pr.get('dns_ms', '')])
    with open(os.path.join(a.out, 'scale.csv'), 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['requests', 'tool', 'k', 'wall_s', 'req_per_s', 'cpu_s_per_1000', 'peak_rss_mib', 'status'])
        for s in data['scale']:
            if not s['ok']:
                w.writerow([s['n'], s['tool'], s['k'], '', '', '', '', 'FAILED'])
                continue
            w.writerow([s['n'], s['tool'], s['k'], '%.3f' % s['wall_s'], '%.0f' % (s['n'] / s['wall_s']),
                        '%.4f' % (s['cpu_s'] / s['n'] * 1000), '%.1f' % (s['maxrss_kb'] / 1024), 'ok'])
    svg(res, os.path.join(a.out, 'bench.svg'))
    print('\n'.join(md))
    print('\n'.join(cz[cz.index('') + 1:] if cz else []))
    print('results in %s: %s results.jsonl' % (a.out, ' '.join(written)))
    bad = any(r['failed'] for rows in res.values() for r in rows.values()) or \
        any(not s['ok'] for s in data['scale']) or any(not c['ok'] for c in data['compress'])
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
