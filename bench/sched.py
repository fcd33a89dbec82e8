#!/usr/bin/python3
"""Helpers of bench/sched.sh (standard library only).

  sched.py report FILE         key=value figures of an asyncdl --json report
  sched.py watch PORT OUT      sample the sockets to PORT every ms until
                               SIGTERM; write the peaks to OUT
  sched.py accepted PORT       nginx stub_status: accepted connections so far
  sched.py callgrind FILE      total Ir of a callgrind output file
"""
import json
import signal
import socket
import struct
import sys
import time


def cmd_report(path):
    """One line per run: requests, ok, bytes, connections (summary), the sum
    of new_connections over the items, wall_ms, and disk_max_us when the
    report has it (any key starting with disk_max, in the summary)."""
    with open(path) as f:
        doc = json.load(f)
    for run in doc.get('runs', []):
        s = run.get('summary') or {}
        items = run.get('items', [])
        disk = 'none'
        for k, v in s.items():
            if k.startswith('disk_max'):
                disk = '%s' % (v * 1000 if k.endswith('_ms') else v)
        print('requests=%s ok=%s failed=%s bytes=%s connections=%s new_conns=%d items=%d '
              'wall_ms=%s disk_max_us=%s' % (
                  s.get('requests'), s.get('ok'), s.get('failed'), s.get('bytes'),
                  s.get('connections_opened', s.get('connections')),
                  sum(int(i.get('new_connections', 0)) for i in items),
                  len(items), s.get('wall_ms'), disk))


# TCP states as sock_diag numbers them. A client socket SYN_SENT,
# ESTABLISHED or CLOSE_WAIT is still open as far as its program is concerned
# (it has not closed it); FIN_WAIT, TIME_WAIT, LAST_ACK ones it has.
ESTABLISHED, SYN_SENT, CLOSE_WAIT = 1, 2, 8
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLMSG_DONE, NLMSG_ERROR = 4, 20, 3, 2


def diag_request(family, seq):
    """A dump request for TCP sockets in the three open states only: the
    kernel filters, so thousands of TIME_WAIT sockets cost nothing (reading
    /proc/net/tcp took ~14 ms per sample with them)."""
    states = (1 << ESTABLISHED) | (1 << SYN_SENT) | (1 << CLOSE_WAIT)
    req = struct.pack('=BBBBI', family, socket.IPPROTO_TCP, 0, 0, states) + bytes(48)
    return struct.pack('=IHHII', 16 + len(req), SOCK_DIAG_BY_FAMILY, 0x301, seq, 0) + req


def sample(nl, port, seq):
    client = server = 0
    for family in (socket.AF_INET, socket.AF_INET6):
        nl.send(diag_request(family, seq))
        done = False
        while not done:
            data = nl.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                ln, typ = struct.unpack_from('=IH', data, off)
                if typ in (NLMSG_DONE, NLMSG_ERROR):
                    done = True
                    break
                state = data[off + 17]
                sport, dport = struct.unpack_from('>HH', data, off + 20)
                if dport == port:
                    client += 1
                elif sport == port and state == ESTABLISHED:
                    server += 1
                off += (ln + 3) & ~3
    return client, server


def cmd_watch(port, out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    mc = ms = n = 0
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    print('ready', flush=True)
    while not stop:
        c, s = sample(nl, port, n + 1)
        mc, ms, n = max(mc, c), max(ms, s), n + 1
        time.sleep(0.001)
    with open(out, 'w') as f:
        f.write('max_client_open=%d max_server_established=%d samples=%d\n' % (mc, ms, n))


def cmd_accepted(port):
    with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
        c.sendall(b'GET /status HTTP/1.0\r\nHost: x\r\n\r\n')
        data = b''
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
    print(int(data.split(b'\r\n\r\n', 1)[1].split(b'requests')[1].split()[0]))


def cmd_callgrind(path):
    total = None
    with open(path, errors='replace') as f:
        for ln in f:
            if ln.startswith('summary:') or ln.startswith('totals:'):
                total = int(ln.split()[1])
    if total is None:
        sys.exit('no summary/totals line in ' + path)
    print(total)


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == 'report':
        cmd_report(a[1])
    elif len(a) == 3 and a[0] == 'watch':
        cmd_watch(int(a[1]), a[2])
    elif len(a) == 2 and a[0] == 'accepted':
        cmd_accepted(int(a[1]))
    elif len(a) == 2 and a[0] == 'callgrind':
        cmd_callgrind(a[1])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
