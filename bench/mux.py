"""The multiplex rows of the bench (issue 10): every request of the list as an
HTTP/2 stream over one TLS connection (ALPN h2), at most M streams at once.

    asyncdl-multiplex  asyncdl --strategy=multiplex --streams=M
    curl-Z-h2-mux      curl -Z --http2 --parallel-max M -K FILE (one process)
    h2load-m           h2load -c 1 -m M -n N -i FILE (nghttp2-client)

All three get the same M (default 100: asyncdl's default max_streams; nginx
allows 128 per connection). h2load keeps no bodies, so it is checked by its
own counters: N requests succeeded, N 2xx, and DATA bytes == the fixture's.
The model (../shared/FIELD-NOTES.md) for one multiplexed connection:
    d + (1 + h) r + ceil(log2(sum S / IW + 1)) r + sum S / B
with S the bodies fetched, IW = 10 segments of MSS 1448 and B not a limit
on loopback (so sum S / B = 0 here).
Used by driver.py (contenders, check) and report.py (model, multiplex.md).
"""
import math
import os
import re
import shutil
import subprocess

NAMES = ['asyncdl-multiplex', 'curl-Z-h2-mux', 'h2load-m']
MSS, IW = 1448, 10
# A run longer than the fastest of its cell by this much is counted as a
# stall: libcurl 7.88 over HTTP/2 sometimes waits exactly 1.0 s
# (FIELD-NOTES, "Emulating latency").
STALL_S = 0.8


def asyncdl_supports(asyncdl, *words):
    """True when `asyncdl --help` mentions every word: the bench leaves out
    rows that the built asyncdl cannot run yet instead of failing them."""
    try:
        h = subprocess.run([asyncdl, '--help'], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    text = h.stdout + h.stderr
    return all(w in text for w in words)


def model(bodies, r, d, h):
    """Seconds for one multiplexed connection (see the module comment)."""
    total = sum(bodies)
    return d + (1 + h) * r + math.ceil(math.log2(total / (IW * MSS) + 1)) * r


def h2load_check(out_path, n, total):
    """Empty string when h2load's report says n requests succeeded with 2xx
    and exactly `total` body bytes; else what differs."""
    try:
        text = open(out_path, errors='replace').read()
    except OSError as e:
        return str(e)
    req = re.search(r'requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded', text)
    st = re.search(r'status codes: (\d+) 2xx', text)
    data = re.search(r'traffic: .*?\((\d+)\) data', text)
    if not (req and st and data):
        return 'h2load report not understood: ' + text[-200:].replace('\n', ' ')
    why = []
    if int(req.group(3)) != n or int(st.group(1)) != n:
        why.append('%s of %d succeeded, %s 2xx' % (req.group(3), n, st.group(1)))
    if int(data.group(1)) != total:
        why.append('%s body bytes, want %d' % (data.group(1), total))
    return ', '.join(why)


def contenders(a, base, names, curl_cfg, expected_total, compressed=False):
    """(name, 'multiplex', build(od) -> argv, check or None) for each
    installed multiplex contender against `base` (an https URL). check(od,
    out_path) returns the failure text ('' when correct) for contenders
    whose bodies are not saved (h2load)."""
    out = []
    m = str(a.streams)
    if a.asyncdl and os.access(a.asyncdl, os.X_OK) and asyncdl_supports(a.asyncdl, 'multiplex', '--streams'):
        def build(od):
            return [a.asyncdl, '--strategy=multiplex', '--streams=' + m, '--base-url=' + base,
                    '--list=' + a.names, '--out=' + od, '--dns-server=127.0.0.1:53', '-q',
                    '--json=' + od + '.json', '--cacert=' + a.ca]
        out.append(('asyncdl-multiplex', 'multiplex', build, None))
    if shutil.which('curl'):
        # -Z waits for a multiplexed stream rather than opening a connection
        # (no --parallel-immediate); --http2 is curl's default over https.
        curl = ['curl', '-sS', '--no-progress-meter', '--fail', '--cacert', a.ca, '--http2',
                '-Z', '--parallel-max', m] + (['--compressed'] if compressed else [])
        out.append(('curl-Z-h2-mux', 'multiplex', lambda od: curl + ['-K', curl_cfg(od, base)], None))
    if shutil.which('h2load') and not compressed:
        def build_h2(od):
            path = od + '.uris'
            with open(path, 'w') as f:
                f.write(''.join(base + n + '\n' for n in names))
            # h2load does not verify certificates (it has no CA option);
            # the others do. One client, M streams, each URI once.
            return ['h2load', '-c', '1', '-m', m, '-n', str(len(names)), '-i', path]
        out.append(('h2load-m', 'multiplex', build_h2,
                    lambda od, out_path: h2load_check(out_path, len(names), expected_total)))
    return out


# ---- report: multiplex.md ------------------------------------------------------

def stalls(walls):
    lo = min(walls)
    return sum(1 for w in walls if w - lo >= STALL_S)


def markdown(res, meta, probe_lines, streams):
    """Lines of multiplex.md from report.cells() output (https cells)."""
    L = ['# asyncdl benchmark: multiplex (HTTP/2, one connection)', '', meta, ''] + probe_lines + [
        '', 'TLS 1.3 with ALPN h2 against the bench nginx (`listen ... ssl http2`), %s streams at '
        'once for every contender. Model = d + (1 + h)·r + ⌈log2(ΣS/IW + 1)⌉·r (+ ΣS/B, 0 on '
        'loopback), from the bodies fetched, IW = 10 × 1448 B, h = 1, r and d measured at each RTT. '
        'A stall is a run at least %.1f s slower than the fastest of its cell. '
        % (streams, STALL_S),
        'conns and requests are server side (nginx stub_status), the most of any run.',
        '', '| RTT ms | contender | runs | median s | min–max s | every run s | model s | ×model '
        '| CPU s | conns | requests | stalls |', '|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|']
    for key in sorted(k for k in res if k[0] == 'https'):
        for name in NAMES:
            row = res[key].get(name)
            if not row:
                continue
            if row['failed']:
                L.append('| %g | %s | %d | **FAILED** | %s | | %.3f | | | | | |' % (
                    key[1], name, len(row['walls']), row['failed'].replace('|', '/')[:60], row['model']))
                continue
            L.append('| %g | %s | %d | %.3f | %.3f–%.3f | %s | %.3f | %.2f | %.2f | %d | %d | %d |' % (
                key[1], name, len(row['walls']), row['median'], row['min'], row['max'],
                ' '.join('%.3f' % w for w in row['walls']), row['model'], row['median'] / row['model'],
                row['cpu'], row['conn'], row['req'], stalls(row['walls'])))
    return L


def targets(res, line):
    """The multiplex target lines through line(ok, text): ≤ 1.10× model at
    20 ms, and no slower than both peers at every RTT (same run)."""
    row = res.get(('https', 20.0), {}).get('asyncdl-multiplex')
    what = 'asyncdl-multiplex within 1.10× of its model at 20 ms over https'
    if not row:
        line(None, what + ' (not run)')
    elif row['failed']:
        line(False, what + ': FAILED')
    else:
        x = row['median'] / row['model']
        line(x <= 1.10, what + ': %.3f s vs model %.3f s = %.3f×' % (row['median'], row['model'], x))
    for key in sorted(k for k in res if k[0] == 'https'):
        me = res[key].get('asyncdl-multiplex')
        if not me:
            continue
        others = [(p, res[key][p]) for p in NAMES[1:] if p in res[key]]
        what = 'asyncdl-multiplex no slower than %s @ %g ms https' % (' and '.join(p for p, _ in others), key[1])
        if 'median' not in me:
            line(False, what + ': asyncdl FAILED')
            continue
        bad = [p for p, o in others if 'median' not in o]
        good = [(p, o) for p, o in others if 'median' in o]
        ok = all(me['median'] <= o['median'] for _, o in good) if good else None
        line(ok, what + ': %.3f s vs %s%s' % (me['median'], ', '.join(
            '%s %.3f s (%+.1f %%)' % (p, o['median'], (me['median'] / o['median'] - 1) * 100) for p, o in good),
            ''.join('; %s FAILED' % p for p in bad)))
