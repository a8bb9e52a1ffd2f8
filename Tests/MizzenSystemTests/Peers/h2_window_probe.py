#!/usr/bin/env python3
"""How much request body an HTTP/2 server lets a client send while it does not consume it
(needs PyPI h2).

    h2_window_probe.py --port P [--host 127.0.0.1] [--authority localhost] [--path /window-probe]
                       [--streams 30] [--bytes-per-stream 1048576] [--seconds 2.0]

One cleartext connection with prior knowledge. It waits (at most 1 s) for the server's
SETTINGS, then opens N streams: POST --path, content-length B, no END_STREAM. For --seconds
it then sends DATA round-robin on every stream as far as the stream's and the connection's
flow-control windows allow (and at most B bytes per stream), reading what the server sends
meanwhile (WINDOW_UPDATE, SETTINGS, PING, responses, RST_STREAM, GOAWAY; response DATA is
acknowledged). No stream is ever ended. When the time is up it prints one JSON line and
closes the socket without waiting for anything:

  {"ok": true, "sent": DATA payload bytes written to the socket, "per_stream": [bytes, ...]
   (stream 1, 3, 5, ...), "responses": {"stream id": status, ...}, "resets": n (RST_STREAM
   received), "reset_codes": {"stream id": code}, "goaway": bool, "goaway_error_code",
   "goaway_last_stream_id", "connection_closed": bool (EOF or error from the server),
   "streams_opened", "server_settings": {name: value} (as of the end, every
   setting its SETTINGS frames carried), "elapsed"}

A DATA frame counts once its bytes are all written to the socket (what sits in the kernel's
buffers counts; frames not yet written when the time is up do not). After a GOAWAY nothing
more is sent. Exit 0 whenever it ran; 1 (with "ok": false and a "reason") when it could not
connect or h2 failed.
"""

import argparse
import collections
import json
import select
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

QUEUE_LIMIT = 256 * 1024  # bytes of frames queued for the socket before making more


def setting_name(code):
    try:
        return h2.settings.SettingCodes(code).name
    except ValueError:
        return "UNKNOWN_%d" % code


class Probe:
    def __init__(self, args):
        self.args = args
        self.sock = None
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.outq = collections.deque()  # [bytes, stream id or None, DATA payload length]
        self.out_offset = 0              # bytes of outq[0] already written
        self.queued_bytes = 0
        self.streams = []                # stream ids opened, in order
        self.queued = {}                 # stream id -> DATA payload bytes handed to h2
        self.sent = {}                   # stream id -> DATA payload bytes written to the socket
        self.dead = set()                # streams reset or closed: nothing more to send
        self.result = {"ok": True, "sent": 0, "per_stream": [], "responses": {}, "resets": 0, "reset_codes": {},
                       "goaway": False, "goaway_error_code": None, "goaway_last_stream_id": None,
                       "connection_closed": False, "streams_opened": 0, "server_settings": None}
        self.got_settings = False
        self.next_index = 0
        self.payload = b""
        self.inbuf = bytearray()
        self.parsing = True   # False after a GOAWAY or a protocol error: incoming bytes are drained
        self.stopped = False  # True after a protocol error: nothing more is sent

    # ---- socket ----------------------------------------------------------
    def queue(self, stream_id=None, length=0):
        data = self.conn.data_to_send()
        if data or length:
            self.outq.append([data, stream_id, length])
            self.queued_bytes += len(data)

    def write(self):
        """Writes as much of the queue as the socket takes now."""
        while self.outq:
            data = self.outq[0][0]
            try:
                n = self.sock.send(memoryview(data)[self.out_offset:])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.result["connection_closed"] = True
                return
            self.out_offset += n
            self.queued_bytes -= n
            if self.out_offset < len(data):
                return
            _, stream_id, length = self.outq.popleft()
            self.out_offset = 0
            if stream_id is not None:
                self.sent[stream_id] += length

    def read(self):
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.result["connection_closed"] = True
            return
        if not self.parsing:
            return  # after a GOAWAY (or a protocol error) the rest is only drained
        self.inbuf += data
        # One frame at a time: once h2 has seen a GOAWAY it rejects any later frame, and an
        # exception would lose the events of the frames before it in the same batch.
        while self.parsing and len(self.inbuf) >= 9:
            end = 9 + int.from_bytes(self.inbuf[:3], "big")
            if len(self.inbuf) < end:
                break
            frame, self.inbuf = bytes(self.inbuf[:end]), self.inbuf[end:]
            try:
                events = self.conn.receive_data(frame)
            except h2.exceptions.ProtocolError as error:
                self.result["protocol_error"] = str(error)
                self.parsing = False
                self.stopped = True
                events = []
            for event in events:
                self.handle(event)
            if self.result["goaway"]:
                self.parsing = False
        self.queue()

    def handle(self, event):
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.got_settings = True
            settings = self.result["server_settings"] or {}
            settings.update({setting_name(code): change.new_value for code, change in event.changed_settings.items()})
            self.result["server_settings"] = settings
        elif isinstance(event, h2.events.ResponseReceived):
            self.result["responses"][str(event.stream_id)] = int(dict(event.headers).get(":status", "0"))
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.result["resets"] += 1
            self.result["reset_codes"][str(event.stream_id)] = int(event.error_code)
            self.dead.add(event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.result["goaway"] = True
            self.result["goaway_error_code"] = int(event.error_code)
            self.result["goaway_last_stream_id"] = event.last_stream_id

    # ---- sending -----------------------------------------------------------
    def can_send(self):
        return not (self.result["goaway"] or self.result["connection_closed"] or self.stopped)

    def make_data(self):
        """Round-robin DATA frames as the windows allow, until the queue holds QUEUE_LIMIT bytes;
        the next call goes on with the stream after the last one served."""
        limit = self.args.bytes_per_stream
        idle = 0  # streams in a row that could not send
        count = len(self.streams)
        while count and idle < count and self.queued_bytes < QUEUE_LIMIT and self.can_send():
            stream_id = self.streams[self.next_index]
            self.next_index = (self.next_index + 1) % count
            idle += 1
            if stream_id in self.dead or self.queued[stream_id] >= limit:
                continue
            try:
                room = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size,
                           limit - self.queued[stream_id])
                if room <= 0:
                    continue
                if len(self.payload) < room:
                    self.payload = b"w" * room
                self.conn.send_data(stream_id, self.payload[:room])
            except (h2.exceptions.StreamClosedError, h2.exceptions.FlowControlError):
                self.dead.add(stream_id)
                continue
            self.queued[stream_id] += room
            self.queue(stream_id, room)
            idle = 0

    # ---- run ---------------------------------------------------------------
    def wait(self, until, for_settings=False):
        """Reads and writes until `until` (monotonic), making DATA unless waiting for SETTINGS."""
        while True:
            if for_settings and self.got_settings:
                return
            if not for_settings and self.can_send():
                self.make_data()
            remaining = until - time.monotonic()
            if remaining <= 0 or self.result["connection_closed"]:
                return
            readable, writable, _ = select.select([self.sock], [self.sock] if self.outq else [], [], remaining)
            if writable:
                self.write()
            if readable:
                self.read()

    def run(self):
        args = self.args
        started = time.monotonic()
        self.sock = socket.create_connection((args.host, args.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.conn.initiate_connection()
        self.queue()
        self.wait(time.monotonic() + min(1.0, args.seconds), for_settings=True)
        base = [(":method", "POST"), (":path", args.path), (":scheme", "http"), (":authority", args.authority),
                ("content-length", str(args.bytes_per_stream))]
        for _ in range(args.streams):
            if not self.can_send():
                break
            stream_id = self.conn.get_next_available_stream_id()
            try:
                self.conn.send_headers(stream_id, base)
            except h2.exceptions.TooManyStreamsError:
                break
            self.streams.append(stream_id)
            self.queued[stream_id] = 0
            self.sent[stream_id] = 0
            self.queue()
        self.result["streams_opened"] = len(self.streams)
        self.wait(time.monotonic() + args.seconds)
        self.result["per_stream"] = [self.sent[stream_id] for stream_id in self.streams]
        self.result["sent"] = sum(self.result["per_stream"])
        self.result["elapsed"] = round(time.monotonic() - started, 3)
        self.sock.close()
        return self.result


def main():
    parser = argparse.ArgumentParser(description="Measures how much request body an HTTP/2 server lets a client send.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--authority", default="localhost")
    parser.add_argument("--path", default="/window-probe")
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--bytes-per-stream", type=int, default=1048576)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    probe = Probe(args)
    try:
        result = probe.run()
    except (OSError, h2.exceptions.H2Error) as error:
        reason = "%s: %s" % (type(error).__name__, error)
        print(json.dumps({"ok": False, "reason": reason}))
        print("h2_window_probe: " + reason, file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
