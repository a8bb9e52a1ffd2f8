#!/usr/bin/env python3
"""Closed-loop load of new TLS connections, for the tls-handshake case.

-c connections are kept in flight on one thread (non-blocking sockets): each connects, does a
full TLS handshake, sends one HTTP/1.1 request with `Connection: close`, reads the response,
closes, and is replaced by a new connection, for -d seconds. Requests/s is handshakes/s.

Why not wrk or h2load with `Connection: close`: both keep the TLS session of the closed
connection and resume it on the next (Envoy counted 1,678 of 1,694 wrk handshakes and 1,984 of
2,000 h2load handshakes as resumed), so they measure resumption, and only against servers that
issue tickets. This client never offers a session, so every handshake is a full one.

Prints one line "BENCH {json}" in the format of Bench/wrk/report.lua; latency runs from the
start of connect to the end of the response.

    python3 Bench/tlsload.py -c 16 -d 5 -H 'end-user: jason' https://127.0.0.1:18101/
"""
import argparse
import errno
import json
import selectors
import socket
import ssl
import time
from urllib.parse import urlsplit


class Conn:
    __slots__ = ("sock", "state", "t0", "buf", "head_len", "length", "status")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", type=int, default=16, help="connections in flight")
    ap.add_argument("-d", type=float, default=5, help="seconds")
    ap.add_argument("-H", action="append", default=[], help="request header 'name: value'")
    ap.add_argument("--timeout", type=float, default=5, help="seconds one connection may take")
    ap.add_argument("url")
    a = ap.parse_args()
    u = urlsplit(a.url)
    addr = (u.hostname, u.port or 443)
    headers = {}
    for h in a.H:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    headers.setdefault("Host", u.netloc)
    headers["Connection"] = "close"
    req = (f"GET {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1\r\n" +
           "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])

    sel = selectors.DefaultSelector()
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    latencies = []
    nbytes = 0
    start = time.monotonic()
    deadline = start + a.d
    live = set()

    def open_one():
        c = Conn()
        c.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.sock.setblocking(False)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.t0 = time.monotonic()
        c.state = "connect"
        c.buf = b""
        c.head_len = c.length = c.status = None
        rc = c.sock.connect_ex(addr)
        if rc not in (0, errno.EINPROGRESS):
            c.sock.close()
            errors["connect"] += 1
            return
        sel.register(c.sock, selectors.EVENT_WRITE, c)
        live.add(c)

    def finish(c, error=None):
        nonlocal nbytes
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        live.discard(c)
        if error:
            errors[error] += 1
        else:
            latencies.append(time.monotonic() - c.t0)
            nbytes += len(c.buf)
            if not 200 <= c.status < 400:
                errors["status"] += 1
        if time.monotonic() < deadline:
            open_one()

    def want(c, ev):
        sel.modify(c.sock, ev, c)

    def step(c):
        if c.state == "connect":
            if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return finish(c, "connect")
            sel.unregister(c.sock)
            c.sock = ctx.wrap_socket(c.sock, do_handshake_on_connect=False)  # no session: a full handshake
            sel.register(c.sock, selectors.EVENT_WRITE, c)
            c.state = "handshake"
        if c.state == "handshake":
            try:
                c.sock.do_handshake()
            except ssl.SSLWantReadError:
                return want(c, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                return want(c, selectors.EVENT_WRITE)
            except (OSError, ValueError):
                return finish(c, "connect")
            c.state = "send"
        if c.state == "send":
            try:
                c.sock.sendall(req)  # one small record: the socket buffer takes it whole
            except (OSError, ValueError):
                return finish(c, "write")
            c.state = "recv"
            return want(c, selectors.EVENT_READ)
        if c.state == "recv":
            while True:
                try:
                    data = c.sock.recv(262144)
                except (ssl.SSLWantReadError, BlockingIOError):
                    return
                except (OSError, ValueError):
                    return finish(c, "read")
                if not data:
                    done = c.head_len is not None and (c.length is None or len(c.buf) >= c.head_len + c.length)
                    return finish(c) if done else finish(c, "read")
                c.buf += data
                if c.head_len is None:
                    i = c.buf.find(b"\r\n\r\n")
                    if i < 0:
                        continue
                    c.head_len = i + 4
                    lines = c.buf[:i].split(b"\r\n")
                    try:
                        c.status = int(lines[0].split()[1])
                    except (IndexError, ValueError):
                        return finish(c, "read")
                    for line in lines[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            c.length = int(v.strip())
                if c.length is not None and len(c.buf) >= c.head_len + c.length:
                    return finish(c)

    for _ in range(a.c):
        open_one()
    while live:
        now = time.monotonic()
        for key, _ in sel.select(timeout=0.05):
            step(key.data)
        for c in [c for c in live if now - c.t0 > a.timeout]:
            finish(c, "timeout")
        if now > deadline + a.timeout:
            break
    elapsed = time.monotonic() - start
    lat = sorted(latencies)

    def pct(p):
        if not lat:
            return 0
        return lat[max(0, min(len(lat) - 1, int(round(p / 100 * len(lat) + 0.5)) - 1))] * 1e6

    out = {"requests": len(lat), "duration_us": int(elapsed * 1e6), "bytes": nbytes,
           "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99), "p999_us": pct(99.9),
           "max_us": lat[-1] * 1e6 if lat else 0, "mean_us": sum(lat) / len(lat) * 1e6 if lat else 0,
           "connect_errors": errors["connect"], "read_errors": errors["read"], "write_errors": errors["write"],
           "status_errors": errors["status"], "timeouts": errors["timeout"]}
    print(f"{len(lat)} requests on new TLS connections in {elapsed:.2f}s, {len(lat) / elapsed:.1f}/s")
    print("BENCH " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
