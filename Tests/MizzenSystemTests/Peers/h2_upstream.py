#!/usr/bin/env python3
"""HTTP/2 cleartext (prior knowledge) test upstream for Mizzen's end-to-end tests (needs PyPI h2).

Threaded, plain sockets, one thread per connection. Settings acknowledged and PINGs answered
by the h2 library; request bodies are read as they come and their window given back at once;
response bodies are sent as the peer's flow-control windows allow.

Prints exactly one line "READY <port>" on stdout once listening.

Behaviour by :path (without its query string):
  /rst            on the request headers: RST_STREAM(INTERNAL_ERROR), no response
  /refuse/KEY/N   the first N requests for KEY (counted across connections) are reset with
                  RST_STREAM(REFUSED_STREAM) on their headers, later ones get 200 and the
                  echo JSON plus "attempt" (the request's number for KEY, 1-based)
  /goaway         on the request headers: GOAWAY(NO_ERROR) whose last_stream_id is below
                  this stream (stream id - 2, or 0), then the connection is closed, no answer
  anything else   once the whole body has arrived (END_STREAM): 200, content-type:
                  application/json, x-upstream: NAME, content-length, and the echo JSON
                  {"upstream","protocol":"HTTP/2","method","path","headers","body_length"} + "\\n"
                  ("path" is :path as received, query included; "headers" are all the
                  request's header fields as received, pseudo-headers included, [[name, value], ...])

--log FILE appends JSON lines: {"event":"connection","upstream","peer","time"} on accept;
{"event":"request","upstream","method","path","headers","body_length","peer","stream_id",
"action","time"} per request ("action": "response", "rst_stream", "refused_stream" or "goaway";
logged on the headers for the last three, after the body for "response"; + "attempt" on
/refuse); {"event":"protocol_error","upstream","peer","error"} when h2 rejects what it got.
"""

import argparse
import json
import socket
import sys
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

import peerlib

MAX_HEADER_LIST = 1 << 20


def eprint(*args):
    print("h2_upstream:", *args, file=sys.stderr, flush=True)


def text(value):
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


class Connection:
    def __init__(self, server, sock, peer):
        self.server = server
        self.sock = sock
        self.peer = peer
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.conn = h2.connection.H2Connection(config)
        self.requests = {}  # stream id -> {"headers", "method", "path", "body_length", "attempt"}
        self.pending = {}   # stream id -> response body bytes not yet sent
        self.closing = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def run(self):
        try:
            self.sock.settimeout(self.server.idle_timeout)
            # In the first SETTINGS frame already (h2's own defaults are 100 streams, 64 KiB of headers).
            self.conn.local_settings = h2.settings.Settings(client=False, initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.server.max_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST,
            })
            self.conn.decoder.max_header_list_size = MAX_HEADER_LIST
            self.conn.initiate_connection()
            self.flush()
            while not self.closing:
                data = self.sock.recv(65536)
                if not data:
                    break
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError as error:
                    eprint("%s: protocol error: %s" % (self.peer, error))
                    self.server.log.write({"event": "protocol_error", "upstream": self.server.name,
                                           "peer": self.peer, "error": str(error)})
                    self.flush()  # the GOAWAY h2 prepared
                    break
                for event in events:
                    self.handle(event)
                    if self.closing:
                        break
                self.send_pending()
                self.flush()
            if self.closing:
                self.linger()
        except (OSError, ConnectionError):
            pass
        except Exception as error:  # a bug here must not go unnoticed, nor take the server down
            eprint("%s: %s: %s" % (self.peer, type(error).__name__, error))
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def linger(self):
        """After our GOAWAY: stop writing, then read and discard until the peer closes (at most
        2 s), so that closing with unread bytes does not turn into an RST that could race the GOAWAY."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(0.5)
            end = time.monotonic() + 2.0
            while time.monotonic() < end:
                try:
                    if not self.sock.recv(65536):
                        break
                except socket.timeout:
                    continue
        except OSError:
            pass

    # ---- events --------------------------------------------------------
    def handle(self, event):
        if isinstance(event, h2.events.RequestReceived):
            self.request_received(event)
        elif isinstance(event, h2.events.DataReceived):
            # Always give the window back (the connection's, at least, for streams already reset).
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            request = self.requests.get(event.stream_id)
            if request is not None:
                request["body_length"] += len(event.data)
        elif isinstance(event, h2.events.StreamEnded):
            request = self.requests.pop(event.stream_id, None)
            if request is not None:
                self.respond(event.stream_id, request)
        elif isinstance(event, h2.events.StreamReset):
            self.requests.pop(event.stream_id, None)
            self.pending.pop(event.stream_id, None)
        elif isinstance(event, h2.events.ConnectionTerminated):
            # The peer's GOAWAY: h2 takes the connection as closed (it refuses to send or receive
            # anything more), so the streams in flight cannot be finished: close.
            self.closing = True
        # WindowUpdated / RemoteSettingsChanged: send_pending() runs after every batch.

    def log_request(self, stream_id, request, action):
        record = {"event": "request", "upstream": self.server.name, "method": request["method"],
                  "path": request["path"], "headers": request["headers"],
                  "body_length": request["body_length"], "peer": self.peer, "stream_id": stream_id,
                  "action": action, "time": round(time.time(), 6)}
        if request["attempt"] is not None:
            record["attempt"] = request["attempt"]
        self.server.log.write(record)

    def request_received(self, event):
        stream_id = event.stream_id
        headers = [[text(n), text(v)] for n, v in event.headers]
        fields = {}
        for name, value in headers:
            fields.setdefault(name, value)
        request = {"headers": headers, "method": fields.get(":method", ""), "path": fields.get(":path", ""),
                   "body_length": 0, "attempt": None}
        path = request["path"].split("?", 1)[0]
        segments = path.split("/")
        if path == "/rst":
            self.log_request(stream_id, request, "rst_stream")
            self.reset(stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
            return
        if path == "/goaway":
            self.log_request(stream_id, request, "goaway")
            self.send_pending()  # what earlier streams were already answered with goes out first
            self.conn.close_connection(error_code=h2.errors.ErrorCodes.NO_ERROR,
                                       last_stream_id=max(0, stream_id - 2))
            self.flush()
            self.closing = True
            return
        if len(segments) == 4 and segments[1] == "refuse" and segments[3].isdigit():
            request["attempt"] = self.server.next_attempt(segments[2])
            if request["attempt"] <= int(segments[3]):
                self.log_request(stream_id, request, "refused_stream")
                self.reset(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                return
        self.requests[stream_id] = request
        # A request without a body (END_STREAM on HEADERS) is answered on the StreamEnded
        # event that h2 reports right after this one.

    def reset(self, stream_id, code):
        try:
            self.conn.reset_stream(stream_id, code)
        except h2.exceptions.ProtocolError:  # the peer reset it first
            pass

    def respond(self, stream_id, request):
        self.log_request(stream_id, request, "response")
        echo = {"upstream": self.server.name, "protocol": "HTTP/2", "method": request["method"],
                "path": request["path"], "headers": request["headers"], "body_length": request["body_length"]}
        if request["attempt"] is not None:
            echo["attempt"] = request["attempt"]
        body = (json.dumps(echo) + "\n").encode("utf-8")
        head_only = request["method"] == "HEAD"
        response = [(":status", "200"), ("content-type", "application/json"),
                    ("x-upstream", self.server.name), ("content-length", str(len(body)))]
        try:
            self.conn.send_headers(stream_id, response, end_stream=head_only)
        except h2.exceptions.ProtocolError:  # reset by the peer meanwhile
            return
        if not head_only:
            self.pending[stream_id] = body

    def send_pending(self):
        """Sends what the flow-control windows allow of every pending response body."""
        for stream_id in list(self.pending):
            body = self.pending[stream_id]
            try:
                while body:
                    room = min(self.conn.local_flow_control_window(stream_id),
                               self.conn.max_outbound_frame_size, len(body))
                    if room <= 0:
                        break
                    self.conn.send_data(stream_id, body[:room], end_stream=room == len(body))
                    body = body[room:]
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                body = b""
            if body:
                self.pending[stream_id] = body
            else:
                del self.pending[stream_id]


class Server:
    def __init__(self, args):
        self.name = args.name
        self.log = peerlib.Log(args.log)
        self.idle_timeout = args.idle_timeout if args.idle_timeout > 0 else None
        self.max_streams = args.max_concurrent_streams
        self.lock = threading.Lock()
        self.attempts = {}
        self.listener, self.port = peerlib.listen(args)

    def next_attempt(self, key):
        with self.lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            return self.attempts[key]

    def serve_forever(self):
        while True:
            try:
                sock, addr = self.listener.accept()
            except OSError as error:
                eprint("accept failed:", error)
                time.sleep(0.05)
                continue
            peer = "%s:%d" % (addr[0], addr[1])
            self.log.write({"event": "connection", "upstream": self.name, "peer": peer,
                            "time": round(time.time(), 6)})
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=Connection(self, sock, peer).run, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description="HTTP/2 cleartext (prior knowledge) echo upstream for Mizzen tests.")
    peerlib.add_server_arguments(parser)
    parser.add_argument("--name", default="h2-up", help="name echoed in bodies and the x-upstream header")
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per connection and per request")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="seconds a connection may sit idle before it is closed (0: never; default 120)")
    parser.add_argument("--max-concurrent-streams", type=int, default=1000,
                        help="SETTINGS_MAX_CONCURRENT_STREAMS announced (default 1000)")
    args = parser.parse_args()

    peerlib.exit_with_parent(args)
    server = Server(args)
    print("READY %d" % server.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
