#!/usr/bin/env python3
"""Raw-socket WebSocket echo checker for Mizzen's end-to-end tests (stdlib only).

  ws_client.py --host H --port P --path /ws [--authority A] [--messages N]

Upgrades (checks 101 and Sec-WebSocket-Accept), sends N masked text messages
and one 200 KiB masked binary message, checks each echo, sends a close frame
and waits for the close reply. With --wait-close S it sends no close frame but
waits up to S seconds for the server (or a proxy's idle timeout) to close the
connection; "closed_after" is the time from the last echo to that close.
Prints one JSON summary line on stdout; exit 0 on success, 1 otherwise (the
summary then has "ok": false and a "reason").
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Failed(Exception):
    pass


class Client:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buffer = bytearray()

    def recv_more(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Failed("deadline exceeded")
        self.sock.settimeout(min(remaining, 30.0))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Failed("timed out waiting for the server")
        if not data:
            raise Failed("connection closed by the server")
        self.buffer += data

    def read_exact(self, n):
        while len(self.buffer) < n:
            self.recv_more()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def read_head(self):
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > 1024 * 1024:
                raise Failed("response head too large")
            self.recv_more()
        end = self.buffer.index(b"\r\n\r\n")
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[:end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise Failed("bad status line %r" % lines[0][:200])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append([name.strip(), value.strip()])
        return int(parts[1]), headers

    def send_frame(self, opcode, payload, fin=True):
        n = len(payload)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            head = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        self.sock.settimeout(max(0.1, self.deadline - time.monotonic()))
        try:
            self.sock.sendall(head + mask + xor(payload, mask))
        except socket.timeout:
            raise Failed("timed out sending")

    def read_frame(self):
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8))[0]
        if b1 & 0x80:
            raise Failed("server sent a masked frame")
        return bool(b0 & 0x80), b0 & 0x0F, self.read_exact(n) if n else b""

    def read_message(self):
        """Returns (opcode, payload) of the next data or close message."""
        opcode = None
        payload = bytearray()
        while True:
            fin, op, data = self.read_frame()
            if op == 0x9:
                self.send_frame(0xA, data)
                continue
            if op == 0xA:
                continue
            if op == 0x8:
                return op, data
            if op in (0x1, 0x2):
                if opcode is not None:
                    raise Failed("new message inside a fragmented one")
                opcode = op
            elif op != 0x0 or opcode is None:
                raise Failed("unexpected opcode %d" % op)
            payload += data
            if fin:
                return opcode, bytes(payload)


def xor(payload, mask):
    n = len(payload)
    if n == 0:
        return b""
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def host_of(authority):
    """The host part of an authority: "a.b:8443" -> "a.b", "[::1]:80" -> "::1"."""
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def run(args, summary):
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    try:
        raw = socket.create_connection((args.host, args.port), timeout=min(args.timeout, 10.0))
    except OSError as error:
        raise Failed("connect failed: %s" % error)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    authority = args.authority or "%s:%d" % (args.host, args.port)
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl._create_unverified_context()
        ctx.set_alpn_protocols(["http/1.1"])
        server_name = args.sni or host_of(authority)
        try:
            sock = ctx.wrap_socket(raw, server_hostname=server_name)
        except (ssl.SSLError, OSError) as error:
            raise Failed("TLS handshake failed: %s" % error)
    else:
        sock = raw
    client = Client(sock, deadline)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (args.path, authority, key))
        for header in args.header:
            request += header + "\r\n"
        sock.settimeout(10.0)
        sock.sendall((request + "\r\n").encode("latin-1"))
        status, headers = client.read_head()
        summary["status"] = status
        summary["response_headers"] = headers
        lower = {}
        for name, value in headers:
            lower.setdefault(name.lower(), value)
        summary["upstream"] = lower.get("x-upstream")
        if status != 101:
            raise Failed("upgrade answered %d, not 101" % status)
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        summary["accept_ok"] = lower.get("sec-websocket-accept") == expected
        if not summary["accept_ok"]:
            raise Failed("Sec-WebSocket-Accept %r, wanted %r" % (lower.get("sec-websocket-accept"), expected))
        if lower.get("upgrade", "").lower() != "websocket":
            raise Failed("101 without Upgrade: websocket")

        summary["texts_echoed"] = 0
        for i in range(args.messages):
            text = "message %d %s" % (i, "é" * (i % 7))
            client.send_frame(0x1, text.encode("utf-8"))
            opcode, payload = client.read_message()
            if opcode != 0x1 or payload != text.encode("utf-8"):
                raise Failed("text message %d echoed as opcode %d %r" % (i, opcode, payload[:100]))
            summary["texts_echoed"] += 1

        blob = os.urandom(args.binary_size)
        client.send_frame(0x2, blob)
        opcode, payload = client.read_message()
        if opcode != 0x2 or payload != blob:
            raise Failed("binary message echoed as opcode %d, %d bytes" % (opcode, len(payload)))
        summary["binary_echoed"] = len(payload)

        if args.wait_close is not None:
            idle_since = time.monotonic()
            sock.settimeout(args.wait_close)
            try:
                while sock.recv(65536):
                    pass
            except socket.timeout:
                raise Failed("not closed within %.1f s of silence" % args.wait_close)
            except OSError:
                pass
            summary["closed_after"] = round(time.monotonic() - idle_since, 3)
            return

        client.send_frame(0x8, struct.pack("!H", 1000) + b"bye")
        opcode, payload = client.read_message()
        if opcode != 0x8:
            raise Failed("close answered with opcode %d" % opcode)
        summary["close_code"] = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    finally:
        summary["elapsed"] = round(time.monotonic() - started, 3)
        try:
            sock.close()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description="WebSocket echo check over a raw socket.")
    parser.add_argument("--host", default="127.0.0.1", help="address to connect to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to connect to")
    parser.add_argument("--path", default="/ws", help="request target (default /ws)")
    parser.add_argument("--authority", help="Host header (default HOST:PORT)")
    parser.add_argument("--messages", type=int, default=5, help="text messages to send (default 5)")
    parser.add_argument("--binary-size", type=int, default=200 * 1024, help="size of the binary message (default 204800)")
    parser.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra request header (repeatable)")
    parser.add_argument("--timeout", type=float, default=20.0, help="overall deadline in seconds (default 20)")
    parser.add_argument("--tls", action="store_true", help="wss: TLS to the server")
    parser.add_argument("--ca", metavar="PEM", help="trusted CA for --tls (default: no verification)")
    parser.add_argument("--sni", help="TLS server name (default: the authority's host)")
    parser.add_argument("--wait-close", type=float, metavar="S",
                        help="after the echoes, send nothing and wait up to S seconds for the server to close")
    args = parser.parse_args()

    summary = {"ok": True, "host": args.host, "port": args.port, "path": args.path}
    try:
        run(args, summary)
    except Failed as error:
        summary["ok"] = False
        summary["reason"] = str(error)
    except OSError as error:
        summary["ok"] = False
        summary["reason"] = "socket error: %s" % error
    print(json.dumps(summary), flush=True)
    if not summary["ok"]:
        print("ws_client: %s" % summary["reason"], file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
