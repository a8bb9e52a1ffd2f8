#!/usr/bin/env python3
"""HTTP/2 stream handling of a proxy in front of upstream.py, one connection per case:

- malformed: a request without :path must be reset (PROTOCOL_ERROR) and the connection must
  still serve a request after it;
- connect: CONNECT (only :authority) gets the proxy's answer, not a reset;
- host_header: no :authority but a host header (RFC 9113 8.3.1) is served;
- end_stream: a response's last DATA frame ends the stream (no empty DATA after it), and a
  bodiless one has no DATA frame;
- trailers: a request body followed by trailers reaches the upstream whole;
- upload: a body several times the proxy's stream window, sent as the windows allow (the
  proxy must give the window back as the upstream takes the bytes);
- slow_reader: a large response to a client that gives no window back for a while: the
  proxy must stop reading the upstream (its resident set stays put) and deliver every byte
  once the client reads again.

Prints one JSON line with each case's findings and "ok"; exits 1 if any case failed."""
import argparse, hashlib, json, socket, sys, time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings


def pattern(offset, length):
    return bytes((offset + i) % 251 for i in range(length))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Client:
    def __init__(self, port, window=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                           validate_outbound_headers=False, normalize_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.send()
        self.streams = {}
        self.acknowledge = True

    def send(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def stream(self, stream_id):
        return self.streams.setdefault(stream_id, {"status": None, "headers": {}, "body": bytearray(), "ended": False,
                                                   "reset": None, "received": 0})

    def pump(self, timeout=10):
        self.sock.settimeout(timeout)
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed")
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
                state = self.stream(event.stream_id)
                state["status"] = headers.get(":status")
                state["headers"] = headers
            elif isinstance(event, h2.events.DataReceived):
                state = self.stream(event.stream_id)
                state.setdefault("data_frames", []).append((len(event.data), event.stream_ended is not None))
                state["body"] += event.data
                state["received"] += len(event.data)
                if self.acknowledge:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                else:
                    state.setdefault("unacknowledged", 0)
                    state["unacknowledged"] += event.flow_controlled_length
            elif isinstance(event, h2.events.StreamEnded):
                self.stream(event.stream_id)["ended"] = True
            elif isinstance(event, h2.events.StreamReset):
                self.stream(event.stream_id)["reset"] = int(event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise ConnectionError("GOAWAY %s" % event.error_code)
        self.send()

    def wait(self, stream_id, deadline=20):
        end = time.time() + deadline
        state = self.stream(stream_id)
        while not state["ended"] and state["reset"] is None:
            if time.time() > end:
                raise TimeoutError("stream %d: no end" % stream_id)
            self.pump()
        return state

    def close(self):
        self.sock.close()


def base(authority, method="GET", path="/h2-streams"):
    return [(":method", method), (":path", path), (":scheme", "http"), (":authority", authority)]


def echo(state):
    try:
        return json.loads(bytes(state["body"]).decode("utf-8"))
    except ValueError:
        return {}


def case_malformed(port, authority):
    client = Client(port)
    client.conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", authority)], end_stream=True)
    client.send()
    first = client.wait(1)
    client.conn.send_headers(3, base(authority), end_stream=True)
    client.send()
    second = client.wait(3)
    client.close()
    ok = first["reset"] == int(h2.errors.ErrorCodes.PROTOCOL_ERROR) and second["status"] == "200"
    return {"ok": ok, "reset": first["reset"], "after": second["status"]}


def case_connect(port, authority):
    client = Client(port)
    client.conn.send_headers(1, [(":method", "CONNECT"), (":authority", "example.test:443")], end_stream=True)
    client.send()
    state = client.wait(1)
    client.close()
    return {"ok": state["status"] == "501", "status": state["status"], "reset": state["reset"]}


def case_host_header(port, authority):
    client = Client(port)
    client.conn.send_headers(1, [(":method", "GET"), (":path", "/host-header"), (":scheme", "http"), ("host", authority)],
                             end_stream=True)
    client.send()
    state = client.wait(1)
    client.close()
    hosts = [value for name, value in echo(state).get("headers", []) if name.lower() == "host"]
    return {"ok": state["status"] == "200" and hosts == [authority], "status": state["status"], "hosts": hosts}


def case_end_stream(port, authority):
    """A response ends with its last DATA frame (END_STREAM on it), not with an empty one."""
    client = Client(port)
    client.conn.send_headers(1, base(authority, "GET", "/bytes/100"), end_stream=True)
    client.conn.send_headers(3, base(authority, "GET", "/status/204"), end_stream=True)
    client.send()
    body = client.wait(1)
    empty = client.wait(3)
    client.close()
    frames = body.get("data_frames", [])
    ok = body["status"] == "200" and frames == [(100, True)] and empty["status"] == "204" and not empty.get("data_frames")
    return {"ok": ok, "data_frames": frames, "no_body_frames": empty.get("data_frames", [])}


def case_trailers(port, authority):
    client = Client(port)
    client.conn.send_headers(1, base(authority, "POST", "/trailers"))
    client.conn.send_data(1, b"abc")
    client.conn.send_headers(1, [("x-checksum", "abc")], end_stream=True)
    client.send()
    state = client.wait(1)
    client.close()
    body = echo(state)
    return {"ok": state["status"] == "200" and body.get("body_length") == 3, "status": state["status"],
            "body_length": body.get("body_length")}


def case_upload(port, authority, size):
    client = Client(port)
    client.conn.send_headers(1, base(authority, "POST", "/upload") + [("content-length", str(size))])
    client.send()
    digest = hashlib.sha256()
    sent = 0
    end = time.time() + 60
    while sent < size:
        if time.time() > end:
            raise TimeoutError("upload stalled at %d bytes" % sent)
        room = min(client.conn.local_flow_control_window(1), client.conn.max_outbound_frame_size, size - sent)
        if room <= 0:
            client.pump()  # WINDOW_UPDATEs
            continue
        piece = pattern(sent, room)
        digest.update(piece)
        client.conn.send_data(1, piece, end_stream=sent + room == size)
        client.send()
        sent += room
    state = client.wait(1, deadline=60)
    client.close()
    body = echo(state)
    ok = state["status"] == "200" and body.get("body_length") == size and body.get("body_sha256") == digest.hexdigest()
    return {"ok": ok, "status": state["status"], "body_length": body.get("body_length")}


def case_slow_reader(port, authority, size, pid, stall):
    client = Client(port)
    client.acknowledge = False
    client.conn.send_headers(1, base(authority, "GET", "/bytes/%d" % size), end_stream=True)
    client.send()
    before = rss_kib(pid) if pid else 0
    # Read what the initial windows allow, then stop giving window back.
    end = time.time() + stall
    state = client.stream(1)
    while time.time() < end:
        try:
            client.pump(timeout=max(0.05, end - time.time()))
        except socket.timeout:
            pass
    stalled_at = state["received"]
    during = rss_kib(pid) if pid else 0
    client.acknowledge = True
    pending = state.get("unacknowledged", 0)
    if pending:
        client.conn.acknowledge_received_data(pending, 1)
        client.send()
    state = client.wait(1, deadline=60)
    client.close()
    body = bytes(state["body"])
    complete = len(body) == size and body[:4096] == pattern(0, 4096) and body[-4096:] == pattern(size - 4096, 4096)
    grew = during - before
    ok = complete and stalled_at <= 65535 and (not pid or grew < size // 1024 // 4)
    return {"ok": ok, "stalled_at": stalled_at, "received": len(body), "rss_growth_kib": grew}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authority", default="streams.test")
    parser.add_argument("--upload-size", type=int, default=8 << 20)
    parser.add_argument("--download-size", type=int, default=64 << 20)
    parser.add_argument("--pid", type=int, default=0, help="the proxy's pid, to watch its resident set")
    parser.add_argument("--stall", type=float, default=2.0)
    args = parser.parse_args()
    cases = {
        "malformed": lambda: case_malformed(args.port, args.authority),
        "connect": lambda: case_connect(args.port, args.authority),
        "host_header": lambda: case_host_header(args.port, args.authority),
        "end_stream": lambda: case_end_stream(args.port, args.authority),
        "trailers": lambda: case_trailers(args.port, args.authority),
        "upload": lambda: case_upload(args.port, args.authority, args.upload_size),
        "slow_reader": lambda: case_slow_reader(args.port, args.authority, args.download_size, args.pid, args.stall),
    }
    result = {}
    for name, run in cases.items():
        try:
            result[name] = run()
        except Exception as error:  # a case's failure is reported, the others still run
            result[name] = {"ok": False, "reason": "%s: %s" % (type(error).__name__, error)}
    result["ok"] = all(outcome["ok"] for outcome in result.values())
    print(json.dumps(result))
    if not result["ok"]:
        print("failed: " + ", ".join(name for name, outcome in result.items() if name != "ok" and not outcome["ok"]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
