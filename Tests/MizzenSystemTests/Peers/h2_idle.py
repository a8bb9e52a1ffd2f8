#!/usr/bin/env python3
"""An HTTP/2 client that sends one GET, reads the response, then keeps the connection open and
idle until the server ends it: prints one JSON line with the status, whether a GOAWAY came
(and its error code), and how long after the response the server closed the connection.

  h2_idle.py --port P --authority A --path /x [--wait S]

Exits 0 when the server closed the connection within --wait seconds (default 10), 1 otherwise."""
import argparse, json, socket, sys, time

import h2.config
import h2.connection
import h2.events


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authority", default="localhost")
    parser.add_argument("--path", default="/")
    parser.add_argument("--wait", type=float, default=10.0)
    args = parser.parse_args()
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.wait)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    conn.send_headers(1, [(":method", "GET"), (":path", args.path), (":scheme", "http"), (":authority", args.authority)], end_stream=True)
    sock.sendall(conn.data_to_send())
    result = {"ok": False, "status": None, "goaway": None, "closed_after": None}
    answered = None
    deadline = time.time() + args.wait
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionError:
            data = b""
        if not data:
            result["closed_after"] = round(time.time() - (answered or time.time()), 3)
            result["ok"] = result["status"] is not None
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                result["status"] = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.StreamEnded):
                answered = time.time()
            elif isinstance(event, h2.events.ConnectionTerminated):
                result["goaway"] = int(event.error_code)
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
