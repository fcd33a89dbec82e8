"""The compression rows of the bench (issue 10): the same 151 documents from
a second nginx server with `gzip on` (gzip_types application/json,
gzip_min_length 0, gzip_comp_level 6; TLS 1.3 + HTTP/2 like the main https
server), at one RTT, a row per asyncdl strategy beside `requests`,
`aiohttp` (they send Accept-Encoding: gzip, deflate by default) and
`curl --compressed`.

Wire bytes are measured server side for every contender alike: that
server's access log has one line per response with $body_bytes_sent (the
body as sent, compressed or not), its Accept-Encoding and Content-Encoding
and the connection serial. Every download is verified: the saved, decoded
bodies must be byte-identical to the fixture. asyncdl's own figure
(wire_bytes in its --json summary, when the build has it) is shown beside.

Used by driver.py (contenders, log accounting) and report.py (compress.md).
"""
import collections
import os
import re
import shutil
import time

LOG_RE = re.compile(r'^(\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" (\S+)$')
# The nginx log_format that LOG_RE reads (run.sh puts it in nginx.conf).
LOG_FORMAT = ('$connection $status $body_bytes_sent $server_protocol '
              '"$sent_http_content_encoding" "$http_accept_encoding" $request_uri')
ORDER = ['asyncdl-serial', 'asyncdl-session', 'asyncdl-parallel', 'asyncdl-multiplex',
         'asyncdl-parallel-identity', 'requests-session', 'curl-one-proc', 'aiohttp', 'curl-Z',
         'curl-Z-h2-mux']


def contenders(a, base, names, curl_cfg, py_args, have_mod, mux_specs):
    """(name, class, build(od) -> argv, None) against the gzip server."""
    out = []
    ok = a.asyncdl and os.access(a.asyncdl, os.X_OK)
    if ok:
        for strat, extra in (('serial', []), ('session', []), ('parallel', ['--connections=6'])):
            def build(od, strat=strat, extra=extra):
                return [a.asyncdl, '--strategy=' + strat, '--base-url=' + base, '--list=' + a.names,
                        '--out=' + od, '--dns-server=127.0.0.1:53', '-q', '--json=' + od + '.json',
                        '--cacert=' + a.ca] + extra
            out.append(('asyncdl-' + strat, strat, build, None))
    out += [s for s in mux_specs if s[0] == 'asyncdl-multiplex']
    if ok and a.no_compress_ok:  # the same strategy asking for no coding
        def build_id(od):
            return [a.asyncdl, '--strategy=parallel', '--connections=6', '--no-compress',
                    '--base-url=' + base, '--list=' + a.names, '--out=' + od,
                    '--dns-server=127.0.0.1:53', '-q', '--json=' + od + '.json', '--cacert=' + a.ca]
        out.append(('asyncdl-parallel-identity', 'parallel', build_id, None))
    if have_mod('requests'):
        out.append(('requests-session', 'session', lambda od: py_args('requests-session', od), None))
    if have_mod('aiohttp'):
        out.append(('aiohttp', 'parallel', lambda od: py_args('aiohttp', od) + ['--limit', '6'], None))
    if shutil.which('curl'):
        curl = ['curl', '-sS', '--no-progress-meter', '--fail', '--cacert', a.ca, '--compressed']
        out.append(('curl-one-proc', 'session', lambda od: curl + ['--http1.1', '-K', curl_cfg(od, base)], None))
        out.append(('curl-Z', 'parallel', lambda od: curl + ['--http1.1', '-Z', '--parallel-max', '6',
                                                           '-K', curl_cfg(od, base)], None))
    out += [s for s in mux_specs if s[0] == 'curl-Z-h2-mux']
    return out


class ServerLog:
    """The gzip server's access log, read from where the last run ended."""

    def __init__(self, path):
        self.path = path
        self.off = os.path.getsize(path) if os.path.exists(path) else 0

    def mark(self):
        self.off = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def take(self, want, wait_s=2.0):
        """The lines logged since mark(), waiting up to wait_s for `want` of
        them (nginx logs a response when it is finalized, which can trail
        the client's exit by a moment at RTT 0)."""
        end = time.monotonic() + wait_s
        while True:
            with open(self.path, 'rb') as f:
                f.seek(self.off)
                data = f.read()
            lines = data.decode(errors='replace').splitlines()
            if len(lines) >= want or time.monotonic() > end:
                break
            time.sleep(0.02)
        self.off += len(data)
        return lines


def account(lines):
    """Server-side figures of one run from its log lines."""
    sizes, ae, ce, proto, conns, bad = [], collections.Counter(), collections.Counter(), \
        collections.Counter(), set(), 0
    for ln in lines:
        m = LOG_RE.match(ln)
        if not m:
            bad += 1
            continue
        conn, status, sent, prot, cenc, aenc, _ = m.groups()
        if status != '200':
            bad += 1
        sizes.append(int(sent))
        ae[aenc if aenc not in ('', '-') else '(none)'] += 1  # nginx logs '-' for empty
        ce[cenc if cenc not in ('', '-') else 'identity'] += 1
        proto[prot] += 1
        conns.add(conn)
    return {'wire_bytes': sum(sizes), 'responses': len(sizes), 'wire_sizes': sizes,
            'accept_encoding': dict(ae), 'content_encoding': dict(ce), 'protocols': dict(proto),
            'log_conns': len(conns), 'not_200': bad}


# ---- report: compress.md -------------------------------------------------------------

def cells(runs):
    """{contender: row} over the compress records of one RTT."""
    rows = {}
    for r in runs:
        row = rows.setdefault(r['contender'], {'class': r['class'], 'walls': [], 'failed': '', 'rec': None,
                                               'responses': [], 'conns': []})
        if r['ok']:
            row['walls'].append(r['wall_s'])
            row['responses'].append(r['responses'])
            row['conns'].append(r['log_conns'])
            row['rec'] = r
        else:
            row['failed'] = r['why'] or 'failed'
    for row in rows.values():
        if row['walls'] and not row['failed']:
            w = sorted(row['walls'])
            row['median'] = w[len(w) // 2] if len(w) % 2 else (w[len(w) // 2 - 1] + w[len(w) // 2]) / 2
    return rows


def fmt_enc(d):
    return '; '.join('%s ×%d' % (k, v) for k, v in sorted(d.items(), key=lambda kv: -kv[1]))


def markdown(records, meta, probe_line, models):
    """Lines of compress.md. models(klass, wire_sizes) -> model seconds."""
    if not records:
        return []
    rtt = records[0]['rtt']
    rows = cells(records)
    decoded = records[0]['decoded_bytes']
    L = ['# asyncdl benchmark: compression', '', meta, '', probe_line, '',
         'nginx `gzip on; gzip_types application/json; gzip_min_length 0; gzip_comp_level 6;` on a second '
         'TLS 1.3 + HTTP/2 server; RTT %g ms; %d documents, %d bytes decoded. *wire B* = the sum of '
         'nginx `$body_bytes_sent` over this run\'s access-log lines (server side, the same for every '
         'contender; over HTTP/1.1 a gzip body is chunked and the chunk framing counts); every saved '
         'body is checked byte-identical to the original after decoding. '
         '*model s* is the class\'s cost model computed from the wire sizes of the run. *wire B* is '
         'from the last run; *responses* (log lines: more than the documents means requests sent '
         'twice) and *conns* (connection serials in the log) are the most of any run.'
         % (rtt, records[0]['n'], decoded), '',
         '| contender | class | runs | median s | every run s | model s | ×model | wire B | wire/decoded '
         '| responses | conns | asyncdl says wire B | Content-Encoding sent | Accept-Encoding received |',
         '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|']
    for name in [n for n in ORDER if n in rows] + sorted(n for n in rows if n not in ORDER):
        row = rows[name]
        if row['failed']:
            L.append('| %s | %s | %d | **FAILED** | | | | | | | | | | %s |' % (
                name, row['class'], len(row['walls']), row['failed'].replace('|', '/')[:80]))
            continue
        rec = row['rec']
        mdl = models(row['class'], rec['wire_sizes'])
        said = rec.get('asyncdl_wire')
        L.append('| %s | %s | %d | %.3f | %s | %.3f | %.2f | %d | %.3f | %d | %d | %s | %s | %s |' % (
            name, row['class'], len(row['walls']), row['median'], ' '.join('%.3f' % w for w in row['walls']),
            mdl, row['median'] / mdl, rec['wire_bytes'], rec['wire_bytes'] / decoded,
            max(row['responses']), max(row['conns']),
            '' if said is None else '%d' % said, fmt_enc(rec['content_encoding']),
            fmt_enc(rec['accept_encoding']).replace('|', '/')))
    return L + [''] + targets(rows)


def targets(rows):
    """PASS/FAIL: asyncdl's wire bytes are those of a client asking for
    gzip (its peers'); INFO: its time beside the peers of its class."""
    out = ['```']
    peers = [n for n in ('requests-session', 'aiohttp', 'curl-one-proc', 'curl-Z', 'curl-Z-h2-mux')
             if 'median' in rows.get(n, {})]
    least = min((rows[p]['rec']['wire_bytes'], p) for p in peers) if peers else None
    for name in ('asyncdl-serial', 'asyncdl-session', 'asyncdl-parallel', 'asyncdl-multiplex'):
        row = rows.get(name)
        if not row:
            out.append('SKIP  %s compressed: not run' % name)
            continue
        if 'median' not in row:
            out.append('FAIL  %s compressed: FAILED' % name)
            continue
        w = row['rec']['wire_bytes']
        if least is None:
            out.append('INFO  %s: %d wire bytes, %.3f s (no peer ran)' % (name, w, row['median']))
            continue
        ok = w <= least[0] * 1.02  # same server, same coding: within 2 %
        out.append('%s  %s wire bytes ≤ the least of its peers (+2 %%): %d vs %s %d' % (
            'PASS' if ok else 'FAIL', name, w, least[1], least[0]))
    for strat in ('session', 'parallel', 'multiplex'):
        me = rows.get('asyncdl-' + strat, {})
        ps = [(p, rows[p]) for p, r in rows.items() if r['class'] == strat and not p.startswith('asyncdl')
              and 'median' in r]
        if 'median' not in me or not ps:
            continue
        out.append('INFO  asyncdl-%s compressed: %.3f s vs %s' % (strat, me['median'], ', '.join(
            '%s %.3f s (%+.1f %%)' % (p, r['median'], (me['median'] / r['median'] - 1) * 100) for p, r in ps)))
    return out + ['```']


def write_csv(records, path):
    """compress.csv: one line per contender (the figures of compress.md)."""
    import csv
    rows = cells(records)
    with open(path, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['rtt_ms', 'contender', 'class', 'runs', 'status', 'median_s', 'wire_bytes',
                    'decoded_bytes', 'asyncdl_wire_bytes', 'server_conns', 'content_encoding',
                    'accept_encoding'])
        for name in [n for n in ORDER if n in rows] + sorted(n for n in rows if n not in ORDER):
            row, rec = rows[name], rows[name]['rec']
            ok = 'median' in row
            w.writerow([records[0]['rtt'], name, row['class'], len(row['walls']), 'ok' if ok else 'FAILED',
                        '%.4f' % row['median'] if ok else '', rec['wire_bytes'] if ok else '',
                        records[0]['decoded_bytes'], rec.get('asyncdl_wire', '') if ok else '',
                        rec['log_conns'] if ok else '', fmt_enc(rec['content_encoding']) if ok else '',
                        fmt_enc(rec['accept_encoding']) if ok else ''])
