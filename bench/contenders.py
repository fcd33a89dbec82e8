"""The Python contenders of the benchmark, each the way a user would write it.

    contenders.py requests-get|requests-session|aiohttp --base URL --list FILE
                  --out DIR [--cacert FILE] [--limit K]

Every name in FILE is fetched from BASE + name and written to DIR/name.json.
Exit 0 when all succeeded, 1 otherwise (each failure named on stderr). Names
resolve through the system resolver (glibc getaddrinfo: /etc/resolv.conf,
which the bench points at its own dnsmasq); nothing is overridden.
Run with Debian's /usr/bin/python3 (python3-requests, python3-aiohttp).
"""
import argparse
import os
import sys


def save(out, name, body):
    with open(os.path.join(out, name + '.json'), 'wb') as f:
        f.write(body)


def run_requests(args, names, session):
    import requests
    verify = args.cacert or True
    failed = 0
    # The classic slow version calls requests.get (a throw-away Session, so a
    # new connection and DNS lookup per URL); the fast one reuses a Session.
    get = requests.Session().get if session else requests.get
    for name in names:
        try:
            r = get(args.base + name, verify=verify, timeout=args.timeout)
            r.raise_for_status()
            save(args.out, name, r.content)
        except Exception as e:  # report and go on, like the other contenders
            print('FAILED %s: %s' % (name, e), file=sys.stderr)
            failed += 1
    return failed


def run_aiohttp(args, names):
    import asyncio
    import ssl
    import aiohttp

    async def main():
        ctx = ssl.create_default_context(cafile=args.cacert) if args.cacert else None
        conn = aiohttp.TCPConnector(limit=args.limit, ssl=ctx)
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:
            async def one(name):
                try:
                    async with s.get(args.base + name) as r:
                        r.raise_for_status()
                        save(args.out, name, await r.read())
                        return 0
                except Exception as e:
                    print('FAILED %s: %r' % (name, e), file=sys.stderr)
                    return 1
            return sum(await asyncio.gather(*(one(n) for n in names)))

    return asyncio.run(main())


def main():
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['requests-get', 'requests-session', 'aiohttp'])
    p.add_argument('--base', required=True)
    p.add_argument('--list', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--cacert')
    p.add_argument('--limit', type=int, default=6)
    p.add_argument('--timeout', type=float, default=60)
    args = p.parse_args()
    with open(args.list) as f:
        names = [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]
    if args.mode == 'aiohttp':
        failed = run_aiohttp(args, names)
    else:
        failed = run_requests(args, names, args.mode == 'requests-session')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
