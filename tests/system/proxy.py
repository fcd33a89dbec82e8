#!/usr/bin/env python3
"""A forward HTTP proxy on 127.0.0.1 for tests/test-proxy.c.

Usage: proxy.py LOG. Prints its port on the first line of stdout, then
serves absolute-form GETs ("GET http://host:port/path HTTP/1.1") by
fetching them from the origin and relaying the answer (the body with a
Content-Length; keep-alive), and CONNECT host:port by tunnelling bytes.
Each request appends one line to LOG:
    <absolute URL, or CONNECT host:port> <Proxy-Authorization, or ->
A request whose Proxy-Authorization names the user "bob" gets a 407
instead. Exits when its stdin reaches EOF, so it dies with the test that
started it, however that ends.
"""
import base64
import http.client
import http.server
import os
import selectors
import socket
import sys
import threading
import urllib.parse

HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection",
       "te", "trailer", "transfer-encoding", "upgrade", "content-length"}
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def logged(self, what):
        auth = self.headers.get("Proxy-Authorization", "-")
        with lock, open(sys.argv[1], "a") as f:
            f.write("%s %s\n" % (what, auth))
        return auth

    def do_CONNECT(self):
        self.logged("CONNECT " + self.path)
        host, _, port = self.path.rpartition(":")
        try:
            up = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.reply(502, b"cannot connect\n")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        sel = selectors.DefaultSelector()
        sel.register(self.connection, selectors.EVENT_READ, up)
        sel.register(up, selectors.EVENT_READ, self.connection)
        try:
            while True:
                for key, _ in sel.select(timeout=30):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            pass
        finally:
            up.close()

    def do_GET(self):
        auth = self.logged(self.path)
        if auth.startswith("Basic "):
            user = base64.b64decode(auth[6:]).decode("latin-1").split(":")[0]
            if user == "bob":
                self.reply(407, b"no\n",
                           [("Proxy-Authenticate", 'Basic realm="t"')])
                return
        u = urllib.parse.urlsplit(self.path)
        if u.scheme != "http" or not u.hostname:
            self.reply(400, b"absolute http URLs only\n")
            return
        target = u.path + ("?" + u.query if u.query else "")
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP}
        conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                          timeout=10)
        try:
            conn.request("GET", target, headers=headers)
            r = conn.getresponse()
            body = r.read()
            self.reply(r.status, body,
                       [(k, v) for k, v in r.getheaders()
                        if k.lower() not in HOP])
        finally:
            conn.close()


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()  # EOF: the test is gone
    os._exit(0)


if __name__ == "__main__":
    main()
