#!/usr/bin/env python3
"""HTTP/1.1 test upstream for Mizzen's end-to-end tests (stdlib only).

A threaded HTTP/1.1 server on raw sockets: keep-alive, Content-Length and
chunked request bodies (read as a stream, never more than 64 KiB held),
chunked responses, Expect: 100-continue, and WebSocket echo after a
101 Switching Protocols upgrade. Optional HTTPS with --tls-cert/--tls-key
(--tls-client-ca to require a client certificate, --alpn to choose the
protocols accepted); then the echo JSON has a "tls" object.

Prints exactly one line "READY <port>" on stdout once listening.

Endpoints (matched on the path without its query string):
  /bytes/N        N bytes, byte i = i % 251, Content-Length, 64 KiB writes
  /chunked/N      the same bytes with Transfer-Encoding: chunked
  /status/CODE    that status and a short JSON body
  /delay/MS       sleep MS milliseconds, then the echo JSON
  /headers-large  the echo JSON plus a 16 KiB response header x-large
  /close          the echo JSON with Connection: close, then closes
  /reset          reads the request, answers nothing, resets the connection
  /flaky/KEY/N/CODE     the first N requests for KEY get CODE, later ones 200
                        (echo JSON with "attempt": the request's number for KEY)
  /flaky-delay/KEY/N/MS the first N requests for KEY wait MS ms, later ones do not
  /response-headers?name=value&...  200 echo JSON plus those response headers
  anything else   200 and the echo JSON:
                  {"upstream","method","path","headers","body_length","body_sha256"}
                  (+ "tls" with TLS, + "attempt" on /flaky and /flaky-delay)
--status CODE answers every request with CODE (echo JSON body); --delay-ms MS
delays every answer by MS ms (after the request is logged).
A request with "Upgrade: websocket" and a valid Sec-WebSocket-Key becomes a
WebSocket echo (text/binary echoed, ping answered, close answered).
"""

import argparse
import base64
import hashlib
import json
import select
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

import peerlib

CHUNK = 64 * 1024
MAX_LINE = 64 * 1024
MAX_HEADER_BYTES = 1024 * 1024
MAX_WS_MESSAGE = 16 * 1024 * 1024
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# A buffer from which any 64 KiB run of the i % 251 pattern can be sliced.
PATTERN = bytes(range(251)) * (CHUNK // 251 + 2)

REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created",
    202: "Accepted", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other", 304: "Not Modified",
    307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
    413: "Content Too Large", 418: "I'm a teapot", 421: "Misdirected Request",
    425: "Too Early", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


def eprint(*args):
    print("upstream:", *args, file=sys.stderr, flush=True)


class BadRequest(Exception):
    pass


def pattern_bytes(offset, length):
    start = offset % 251
    return PATTERN[start:start + length]


def parse_size(text, limit=1 << 40):
    if not text.isdigit():
        raise ValueError("not a number")
    value = int(text)
    if value > limit:
        raise ValueError("too large")
    return value


class Connection:
    def __init__(self, server, sock, peer):
        self.server = server
        self.sock = sock
        self.peer = peer
        self.rfile = None
        self.tls = None

    # ---- reading -------------------------------------------------------
    def readline(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BadRequest("line too long")
        return line

    def read_exact(self, n):
        data = self.rfile.read(n)
        if data is None or len(data) != n:
            raise ConnectionError("peer closed mid-message")
        return data

    def read_head(self):
        """Returns (method, target, version, headers) or None on a clean EOF."""
        line = self.readline()
        # RFC 9112 2.2: ignore at least one empty line before a request-line.
        while line in (b"\r\n", b"\n"):
            line = self.readline()
        if not line:
            return None
        if not line.endswith(b"\n"):
            raise ConnectionError("peer closed mid request-line")
        parts = line.rstrip(b"\r\n").decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise BadRequest("bad request-line %r" % line[:200])
        method, target, version = parts
        headers = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                raise ConnectionError("peer closed mid-headers")
            total += len(line)
            if total > MAX_HEADER_BYTES:
                raise BadRequest("headers too large")
            if line in (b"\r\n", b"\n"):
                break
            text = line.rstrip(b"\r\n").decode("latin-1")
            if text[:1] in (" ", "\t"):
                raise BadRequest("obsolete line folding")
            name, sep, value = text.partition(":")
            if not sep or not name or name != name.strip():
                raise BadRequest("bad header line %r" % text[:200])
            headers.append([name, value.strip(" \t")])
        return method, target, version, headers

    def body_chunks(self, headers):
        """Yields the request body in pieces of at most 64 KiB."""
        te = ",".join(v for n, v in headers if n.lower() == "transfer-encoding").lower()
        cls = [v for n, v in headers if n.lower() == "content-length"]
        if te:
            codings = [c.strip() for c in te.split(",") if c.strip()]
            if not codings or codings[-1] != "chunked":
                raise BadRequest("unsupported transfer-encoding %r" % te)
            while True:
                size_line = self.readline()
                if not size_line.endswith(b"\n"):
                    raise ConnectionError("peer closed in chunk size")
                size_text = size_line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise BadRequest("bad chunk size %r" % size_text)
                if size == 0:
                    while True:  # trailers, discarded
                        line = self.readline()
                        if not line:
                            raise ConnectionError("peer closed in trailers")
                        if line in (b"\r\n", b"\n"):
                            return
                while size > 0:
                    piece = self.rfile.read(min(size, CHUNK))
                    if not piece:
                        raise ConnectionError("peer closed mid-chunk")
                    size -= len(piece)
                    yield piece
                if self.readline() not in (b"\r\n", b"\n"):
                    raise BadRequest("missing CRLF after chunk")
        elif cls:
            values = {v.strip() for c in cls for v in c.split(",")}
            if len(values) != 1:
                raise BadRequest("conflicting content-length")
            try:
                remaining = parse_size(values.pop())
            except ValueError:
                raise BadRequest("bad content-length")
            while remaining > 0:
                piece = self.rfile.read(min(remaining, CHUNK))
                if not piece:
                    raise ConnectionError("peer closed mid-body")
                remaining -= len(piece)
                yield piece

    # ---- writing -------------------------------------------------------
    def send_head(self, status, headers, version="HTTP/1.1"):
        lines = ["%s %d %s" % (version, status, REASONS.get(status, "Status"))]
        for name, value in headers:
            lines.append("%s: %s" % (name, value))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(data)

    def respond(self, req, status, body=b"", content_type="application/json",
                extra=(), close=False):
        head_only = req["method"] == "HEAD" or status in (204, 304)
        headers = [["content-type", content_type],
                   ["x-upstream", self.server.name]]
        if status not in (204, 304):
            headers.append(["content-length", str(len(body))])
        headers.extend(extra)
        if close or not req["keep_alive"]:
            headers.append(["connection", "close"])
        elif req["version"] == "HTTP/1.0":
            headers.append(["connection", "keep-alive"])
        self.send_head(status, headers)
        if body and not head_only:
            self.sock.sendall(body)

    def echo_body(self, req, **extra):
        body = {
            "upstream": self.server.name,
            "method": req["method"],
            "path": req["target"],
            "headers": req["headers"],
            "body_length": req["body_length"],
            "body_sha256": req["body_sha256"],
        }
        if self.tls is not None:
            body["tls"] = self.tls
        body.update(extra)
        return (json.dumps(body) + "\n").encode("utf-8")

    # ---- main loop -----------------------------------------------------
    def run(self):
        try:
            if self.server.tls_context is not None:
                self.sock.settimeout(30.0)  # bounds the handshake
                try:
                    self.sock = self.server.tls_context.wrap_socket(self.sock, server_side=True)
                except (OSError, ssl.SSLError) as error:
                    self.server.log.write({"event": "tls_error", "upstream": self.server.name,
                                           "peer": self.peer, "error": str(error)})
                    raise
                self.tls = tls_details(self.sock)
                self.server.log.write(dict({"event": "tls", "upstream": self.server.name,
                                            "peer": self.peer}, **self.tls))
            self.sock.settimeout(self.server.idle_timeout)
            self.rfile = self.sock.makefile("rb", buffering=CHUNK)
            while self.serve_one():
                pass
        except BadRequest as error:
            eprint("bad request from %s: %s" % (self.peer, error))
            try:
                body = b"bad request\n"
                self.sock.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n"
                                  b"connection: close\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass
        except (OSError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self.server.connection_closed(self)
            # The file object holds the socket's descriptor open: close it first, or close()
            # does nothing (and /reset's SO_LINGER reset never happens).
            try:
                if self.rfile is not None:
                    self.rfile.close()
                self.sock.close()
            except OSError:
                pass

    def serve_one(self):
        head = self.read_head()
        if head is None:
            return False
        method, target, version, headers = head
        lower = {}
        for n, v in headers:
            lower.setdefault(n.lower(), []).append(v)
        conn_tokens = {t.strip().lower() for v in lower.get("connection", []) for t in v.split(",")}
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in conn_tokens
        else:
            keep_alive = "close" not in conn_tokens
        req = {"method": method, "target": target, "version": version,
               "headers": headers, "keep_alive": keep_alive}

        upgrade = ",".join(lower.get("upgrade", [])).lower()
        if "websocket" in upgrade:
            return self.websocket(req, lower)

        if any(v.strip().lower() == "100-continue" for v in lower.get("expect", [])) \
                and version != "HTTP/1.0":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        in_flight = self.server.request_started()
        try:
            digest = hashlib.sha256()
            length = 0
            for piece in self.body_chunks(headers):
                digest.update(piece)
                length += len(piece)
            req["body_length"] = length
            req["body_sha256"] = digest.hexdigest()
            record = {
                "event": "request", "upstream": self.server.name,
                "method": method, "target": target, "version": version,
                "headers": headers, "body_length": length,
                "body_sha256": req["body_sha256"], "peer": self.peer,
                "in_flight": in_flight, "time": round(time.time(), 6),
            }
            if self.tls is not None:
                record["tls"] = self.tls
            self.server.log.write(record)
            if self.server.delay_ms:
                time.sleep(self.server.delay_ms / 1000.0)
            return self.dispatch(req)
        finally:
            self.server.request_finished()

    def dispatch(self, req):
        path = req["target"]
        if "://" in path and not path.startswith("/"):
            path = urllib.parse.urlsplit(path).path or "/"
        path = path.split("?", 1)[0]
        segments = path.split("/")
        first = segments[1] if len(segments) > 1 else ""
        arg = segments[2] if len(segments) > 2 else ""

        if self.server.fixed_status is not None:
            self.respond(req, self.server.fixed_status, self.echo_body(req))
            return req["keep_alive"]

        if first in ("flaky", "flaky-delay") and len(segments) >= 5:
            try:
                count = parse_size(segments[3], 1 << 30)
                value = parse_size(segments[4], 3600 * 1000)
                if first == "flaky" and not 200 <= value <= 999:
                    raise ValueError
            except ValueError:
                self.respond(req, 400, b"bad flaky path\n", "text/plain")
                return req["keep_alive"]
            attempt = self.server.next_attempt(first + "/" + arg)
            if first == "flaky":
                status = value if attempt <= count else 200
                self.respond(req, status, self.echo_body(req, attempt=attempt))
            else:
                if attempt <= count:
                    time.sleep(value / 1000.0)
                self.respond(req, 200, self.echo_body(req, attempt=attempt))
            return req["keep_alive"]

        if first == "response-headers":
            query = req["target"].split("?", 1)[1] if "?" in req["target"] else ""
            extra = [[name, value] for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True)
                     if name and "\r" not in name + value and "\n" not in name + value]
            self.respond(req, 200, self.echo_body(req), extra=extra)
            return req["keep_alive"]

        if first == "bytes" and arg:
            try:
                n = parse_size(arg)
            except ValueError:
                self.respond(req, 400, b"bad size\n", "text/plain")
                return req["keep_alive"]
            headers = [["content-type", "application/octet-stream"],
                       ["x-upstream", self.server.name],
                       ["content-length", str(n)]]
            if not req["keep_alive"]:
                headers.append(["connection", "close"])
            self.send_head(200, headers)
            if req["method"] != "HEAD":
                sent = 0
                while sent < n:
                    piece = pattern_bytes(sent, min(CHUNK, n - sent))
                    self.sock.sendall(piece)
                    sent += len(piece)
            return req["keep_alive"]

        if first == "chunked" and arg:
            try:
                n = parse_size(arg)
            except ValueError:
                self.respond(req, 400, b"bad size\n", "text/plain")
                return req["keep_alive"]
            chunked = req["version"] != "HTTP/1.0"
            keep_alive = req["keep_alive"] and chunked
            headers = [["content-type", "application/octet-stream"],
                       ["x-upstream", self.server.name]]
            if chunked:
                headers.append(["transfer-encoding", "chunked"])
            if not keep_alive:
                headers.append(["connection", "close"])
            self.send_head(200, headers)
            if req["method"] != "HEAD":
                sent = 0
                while sent < n:
                    piece = pattern_bytes(sent, min(CHUNK, n - sent))
                    if chunked:
                        self.sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    else:
                        self.sock.sendall(piece)
                    sent += len(piece)
                if chunked:
                    self.sock.sendall(b"0\r\n\r\n")
            return keep_alive

        if first == "status" and arg:
            try:
                code = int(arg)
                if not 200 <= code <= 999:
                    raise ValueError
            except ValueError:
                self.respond(req, 400, b"bad status\n", "text/plain")
                return req["keep_alive"]
            body = (json.dumps({"upstream": self.server.name, "status": code,
                                "path": req["target"]}) + "\n").encode()
            self.respond(req, code, body)
            return req["keep_alive"]

        if first == "delay" and arg:
            try:
                ms = parse_size(arg, 3600 * 1000)
            except ValueError:
                self.respond(req, 400, b"bad delay\n", "text/plain")
                return req["keep_alive"]
            time.sleep(ms / 1000.0)
            self.respond(req, 200, self.echo_body(req))
            return req["keep_alive"]

        if first == "headers-large":
            self.respond(req, 200, self.echo_body(req), extra=[["x-large", "a" * 16384]])
            return req["keep_alive"]

        if first == "close":
            self.respond(req, 200, self.echo_body(req), close=True)
            return False

        if first == "reset":
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            return False

        self.respond(req, 200, self.echo_body(req))
        return req["keep_alive"]

    # ---- WebSocket -----------------------------------------------------
    def websocket(self, req, lower):
        req["body_length"] = 0
        req["body_sha256"] = hashlib.sha256().hexdigest()
        self.server.log.write({
            "event": "request", "upstream": self.server.name,
            "method": req["method"], "target": req["target"], "version": req["version"],
            "headers": req["headers"], "body_length": 0,
            "body_sha256": req["body_sha256"], "peer": self.peer,
        })
        keys = lower.get("sec-websocket-key", [])
        valid = False
        if req["method"] == "GET" and len(keys) == 1:
            try:
                valid = len(base64.b64decode(keys[0].strip(), validate=True)) == 16
            except ValueError:
                valid = False
        if not valid:
            self.respond(req, 400, b"bad websocket upgrade\n", "text/plain", close=True)
            return False
        accept = base64.b64encode(
            hashlib.sha1((keys[0].strip() + WS_GUID).encode("ascii")).digest()).decode()
        headers = [["upgrade", "websocket"], ["connection", "Upgrade"],
                   ["sec-websocket-accept", accept], ["x-upstream", self.server.name]]
        protocols = [p.strip() for v in lower.get("sec-websocket-protocol", [])
                     for p in v.split(",") if p.strip()]
        if protocols:
            headers.append(["sec-websocket-protocol", protocols[0]])
        self.send_head(101, headers)
        self.websocket_echo()
        return False

    def ws_send(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.sock.sendall(head + payload)

    def websocket_echo(self):
        message_opcode = None
        message = bytearray()
        while True:
            b0, b1 = self.read_exact(2)
            fin = b0 & 0x80
            opcode = b0 & 0x0F
            masked = b1 & 0x80
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read_exact(8))[0]
            if n > MAX_WS_MESSAGE:
                self.ws_send(0x8, struct.pack("!H", 1009))
                return
            mask = self.read_exact(4) if masked else None
            payload = self.read_exact(n) if n else b""
            if mask:
                payload = unmask(payload, mask)
            if opcode == 0x8:  # close: answer with the same code, then stop
                self.ws_send(0x8, payload[:2])
                return
            if opcode == 0x9:  # ping
                self.ws_send(0xA, payload)
                continue
            if opcode == 0xA:  # pong
                continue
            if opcode in (0x1, 0x2):
                message_opcode = opcode
                message = bytearray(payload)
            elif opcode == 0x0 and message_opcode is not None:
                message += payload
                if len(message) > MAX_WS_MESSAGE:
                    self.ws_send(0x8, struct.pack("!H", 1009))
                    return
            else:
                self.ws_send(0x8, struct.pack("!H", 1002))
                return
            if fin:
                self.ws_send(message_opcode, bytes(message))
                message_opcode = None
                message = bytearray()


def unmask(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def tls_details(sock):
    """What the TLS handshake settled: version, SNI, ALPN and the client certificate."""
    details = {"version": sock.version(), "cipher": (sock.cipher() or [None])[0],
               "sni": getattr(sock, "mizzen_sni", None), "alpn": sock.selected_alpn_protocol(),
               "client_subject": None, "client_issuer": None, "client_san": []}
    try:
        cert = sock.getpeercert()
    except (ValueError, ssl.SSLError):
        cert = None
    if cert:
        def flatten(name):
            return {key: value for rdn in name for key, value in rdn}
        details["client_subject"] = flatten(cert.get("subject", ()))
        details["client_issuer"] = flatten(cert.get("issuer", ()))
        details["client_san"] = [[kind, value] for kind, value in cert.get("subjectAltName", ())]
    return details


class Server:
    def __init__(self, args):
        self.name = args.name
        self.log = peerlib.Log(args.log)
        self.idle_timeout = args.idle_timeout if args.idle_timeout > 0 else None
        self.fixed_status = args.status
        self.delay_ms = args.delay_ms
        self.lock = threading.Lock()
        self.attempts = {}
        self.open = {}  # Connection -> fd, for connections the peer has not closed
        self.max_open = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.tls_context = None
        if args.tls_client_ca and not args.tls_cert:
            raise SystemExit("--tls-client-ca needs --tls-cert and --tls-key")
        if args.tls_cert or args.tls_key:
            if not (args.tls_cert and args.tls_key):
                raise SystemExit("--tls-cert and --tls-key go together")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            alpn = [p for p in (args.alpn or "").split(",") if p]
            if alpn:
                ctx.set_alpn_protocols(alpn)
            if args.tls_client_ca:
                ctx.load_verify_locations(cafile=args.tls_client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED

            def remember_sni(ssl_socket, server_name, _context):
                ssl_socket.mizzen_sni = server_name
                return None
            ctx.sni_callback = remember_sni
            self.tls_context = ctx
        self.listener, self.port = peerlib.listen(args)

    # ---- bookkeeping (thread-safe) -----------------------------------
    def next_attempt(self, key):
        with self.lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            return self.attempts[key]

    def request_started(self):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.in_flight

    def request_finished(self):
        with self.lock:
            self.in_flight -= 1

    def connection_opened(self, connection, sock):
        """Counts the connections open now, this one included. A connection whose peer has
        closed it (FIN received: POLLRDHUP) no longer counts, even if its thread has not
        noticed yet."""
        with self.lock:
            poller = select.poll()
            for fd in self.open.values():
                poller.register(fd, select.POLLRDHUP)
            closed = {fd for fd, events in poller.poll(0)
                      if events & (select.POLLRDHUP | select.POLLHUP | select.POLLERR | select.POLLNVAL)}
            for other in [c for c, fd in self.open.items() if fd in closed]:
                del self.open[other]
            self.open[connection] = sock.fileno()
            self.max_open = max(self.max_open, len(self.open))
            return len(self.open), self.max_open

    def connection_closed(self, connection):
        with self.lock:
            self.open.pop(connection, None)

    def serve_forever(self):
        while True:
            try:
                sock, addr = self.listener.accept()
            except OSError as error:
                eprint("accept failed:", error)
                time.sleep(0.05)
                continue
            peer = "%s:%d" % (addr[0], addr[1])
            connection = Connection(self, sock, peer)
            open_now, max_open = self.connection_opened(connection, sock)
            self.log.write({"event": "connection", "upstream": self.name, "peer": peer,
                            "open_connections": open_now, "max_open_connections": max_open,
                            "time": round(time.time(), 6)})
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=connection.run, daemon=True)
            thread.start()


def main():
    parser = argparse.ArgumentParser(description="HTTP/1.1 + WebSocket echo upstream for Mizzen tests.")
    peerlib.add_server_arguments(parser)
    parser.add_argument("--name", default="upstream", help="name echoed in bodies and the x-upstream header")
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per connection and per request")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    parser.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    parser.add_argument("--tls-client-ca", metavar="PEM",
                        help="require a client certificate signed by this CA (with --tls-cert)")
    parser.add_argument("--alpn", default="http/1.1",
                        help="comma-separated ALPN protocols accepted with TLS (default http/1.1; '' for none)")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="seconds a connection may sit idle before it is closed (0: never; default 120)")
    parser.add_argument("--status", type=int, metavar="CODE",
                        help="answer every request with this status (and the echo JSON)")
    parser.add_argument("--delay-ms", type=int, default=0, metavar="MS",
                        help="delay every answer by MS milliseconds (the request is logged first)")
    args = parser.parse_args()
    if args.status is not None and not 200 <= args.status <= 999:
        parser.error("--status must be between 200 and 999")

    peerlib.exit_with_parent(args)
    server = Server(args)
    print("READY %d" % server.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
