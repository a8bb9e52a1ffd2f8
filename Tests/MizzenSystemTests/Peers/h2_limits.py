#!/usr/bin/env python3
"""Sends HTTP/2 requests whose header lists exceed a proxy's limits (an HPACK bomb's effect:
a huge decoded header list; a header count flood) and one normal request, each on its own
connection; prints one JSON line: for each case, the events seen (ConnectionTerminated with
its error code, StreamReset, or the response status)."""
import argparse, json, socket, time

import h2.config
import h2.connection
import h2.events


def attempt(port, authority, extra):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(3)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                                                validate_outbound_headers=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    headers = [(":method", "GET"), (":path", "/h2-limits"), (":scheme", "http"), (":authority", authority)] + extra
    conn.send_headers(1, headers, end_stream=True)
    sock.sendall(conn.data_to_send())
    outcome = {"status": None, "goaway": None, "reset": None, "closed": False}
    deadline = time.time() + 5
    try:
        while time.time() < deadline:
            data = sock.recv(65536)
            if not data:
                outcome["closed"] = True
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    outcome["status"] = dict(event.headers).get(":status")
                elif isinstance(event, h2.events.ConnectionTerminated):
                    outcome["goaway"] = int(event.error_code)
                elif isinstance(event, h2.events.StreamReset):
                    outcome["reset"] = int(event.error_code)
            sock.sendall(conn.data_to_send())
            if outcome["status"] or outcome["goaway"] is not None or outcome["reset"] is not None:
                break
    except (socket.timeout, OSError) as error:
        outcome["error"] = str(error)
    sock.close()
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--authority", default="limits.test")
    args = parser.parse_args()
    result = {
        "large_header": attempt(args.port, args.authority, [("x-big", "a" * 70000)]),
        "many_headers": attempt(args.port, args.authority, [("x-h%d" % i, "v" * 100) for i in range(1000)]),
        "normal": attempt(args.port, args.authority, []),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
