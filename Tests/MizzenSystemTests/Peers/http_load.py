#!/usr/bin/env python3
"""HTTP/1.1 load client for Mizzen's end-to-end tests (stdlib only).

  http_load.py --port P --path /x [--host 127.0.0.1] [--authority A] [--method GET]
               [--header 'Name: value']... [--body-bytes N] [--connections C]
               [--requests R] [--pause-ms MS] [--timeout S]

C client threads start together (behind a barrier); each opens its own
keep-alive connection and sends R requests one after another on it, pausing MS
milliseconds between two requests. When the server closes the connection
(Connection: close, or a close between requests) the thread opens a new one.
"{c}" and "{i}" in the path become the thread's and the request's number
(from 0); "{n}" becomes c * R + i.

Prints one JSON line on stdout:
  {"ok": true, "requests": C*R, "statuses": {"200": n, ...}, "errors": n,
   "connections_opened": n, "elapsed": s,
   "results": [{"connection", "index", "status", "upstream" (x-upstream),
                "headers" ([[name, value], ...]), "body" (first 2000 chars),
                "start" (s since the first request), "elapsed", "new_connection",
                "error", and "stale_connection" when a reused connection turned out
                closed and the request was sent again on a new one}, ...]}
with results ordered by start time. A request that failed without a response
has status 0 and an "error". Exit 0 whenever it ran, 2 on bad arguments.
"""

import argparse
import http.client
import json
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser(description="Concurrent keep-alive HTTP/1.1 requests.")
    parser.add_argument("--host", default="127.0.0.1", help="address to connect to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to connect to")
    parser.add_argument("--path", default="/", help="request target; {c}, {i} and {n} are replaced")
    parser.add_argument("--authority", help="Host header (default HOST:PORT)")
    parser.add_argument("--method", default="GET", help="request method (default GET)")
    parser.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                        help="extra request header (repeatable)")
    parser.add_argument("--body-bytes", type=int, default=0, help="send a body of N bytes ('a's)")
    parser.add_argument("--connections", type=int, default=1, help="concurrent clients (default 1)")
    parser.add_argument("--requests", type=int, default=1, help="requests per client (default 1)")
    parser.add_argument("--pause-ms", type=int, default=0, help="pause between a client's requests")
    parser.add_argument("--timeout", type=float, default=20.0, help="socket timeout in seconds (default 20)")
    args = parser.parse_args()
    if args.connections < 1 or args.requests < 1:
        parser.error("--connections and --requests must be at least 1")

    headers = {}
    for line in args.header:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            parser.error("bad --header %r" % line)
        headers[name.strip()] = value.strip()
    headers["Host"] = args.authority or "%s:%d" % (args.host, args.port)
    body = b"a" * args.body_bytes if args.body_bytes else None

    results = []
    lock = threading.Lock()
    opened = [0]
    barrier = threading.Barrier(args.connections)
    origin = [None]

    def client(c):
        conn = None
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        with lock:
            if origin[0] is None:
                origin[0] = time.monotonic()
        for i in range(args.requests):
            if i and args.pause_ms:
                time.sleep(args.pause_ms / 1000.0)
            path = args.path.replace("{c}", str(c)).replace("{i}", str(i)) \
                .replace("{n}", str(c * args.requests + i))
            record = {"connection": c, "index": i, "status": 0, "upstream": None, "headers": [],
                      "body": "", "new_connection": False, "error": None}
            started = time.monotonic()
            for attempt in (0, 1):
                reused = conn is not None and conn.sock is not None
                try:
                    if not reused:
                        if conn is not None:
                            conn.close()
                        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
                        conn.connect()
                        record["new_connection"] = True
                        with lock:
                            opened[0] += 1
                    conn.request(args.method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    record["status"] = response.status
                    record["headers"] = [[k, v] for k, v in response.getheaders()]
                    record["upstream"] = response.getheader("x-upstream")
                    record["body"] = data[:2000].decode("utf-8", "replace")
                    record["error"] = None
                    if response.will_close:
                        conn.close()
                    break
                except (OSError, http.client.HTTPException) as error:
                    record["error"] = "%s: %s" % (type(error).__name__, error)
                    if conn is not None:
                        conn.close()
                    conn = None
                    # The keep-alive race: a reused connection the server had closed before
                    # this request reached it. Tried once more on a new connection (noted).
                    stale = isinstance(error, (http.client.RemoteDisconnected, BrokenPipeError,
                                               ConnectionResetError))
                    if not (reused and stale and attempt == 0):
                        break
                    record["stale_connection"] = record["error"]
            record["start"] = round(started - origin[0], 6)
            record["elapsed"] = round(time.monotonic() - started, 6)
            with lock:
                results.append(record)
        if conn is not None:
            conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.sort(key=lambda r: (r["start"], r["connection"], r["index"]))
    statuses = {}
    for record in results:
        key = str(record["status"])
        statuses[key] = statuses.get(key, 0) + 1
    summary = {"ok": True, "requests": len(results), "statuses": statuses,
               "errors": sum(1 for r in results if r["error"]), "connections_opened": opened[0],
               "elapsed": round(time.monotonic() - began, 3), "results": results}
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
