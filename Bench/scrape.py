#!/usr/bin/env python3
"""How long a Prometheus scrape of a big gateway takes: routes10k's configuration (1,000 hosts,
1,000 clusters), traffic to some or all of them, then GET /stats/prometheus timed, as
Prometheus would ask (one connection per scrape).

    python3 Bench/scrape.py                       # the release binary, 10 and 1,000 clusters with traffic
    python3 Bench/scrape.py --mizzen .build/debug/mizzen --active 1000

Prints, per case, the exposition's size and series count and the scrape time (median and
slowest of --scrapes). Not a test: the machine is shared; read it as a figure."""
import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import routes10k

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def scrape(port):
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/stats/prometheus")
    body = conn.getresponse().read()
    conn.close()
    return time.perf_counter() - start, body


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mizzen", default=os.environ.get("MIZZEN", os.path.join(ROOT, ".build/release/mizzen")))
    ap.add_argument("--active", default="10,1000", help="clusters that get traffic before the scrapes (comma list, one run each)")
    ap.add_argument("--scrapes", type=int, default=20)
    opts = ap.parse_args()
    if not os.access(opts.mizzen, os.X_OK):
        sys.exit(f"no binary at {opts.mizzen}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    up_port = server.server_address[1]
    for active in [int(a) for a in opts.active.split(",")]:
        with tempfile.TemporaryDirectory() as work:
            with open(os.path.join(work, "routes10k.yaml"), "w") as f:
                f.write(routes10k.istio(up_port))
            http_port, stats_port = free_port(), free_port()
            proc = subprocess.Popen([opts.mizzen, "gateway", "--config", work, "--bind", "127.0.0.1", "--port-map", f"80={http_port}",
                                     "--concurrency", "2", "--log-level", "warning", "--admin-port=-1", "--status-port=-1",
                                     "--stats-port", str(stats_port), "--operator-bind", "127.0.0.1", "--drain-duration", "0"])
            try:
                if not (wait_port(http_port, proc) and wait_port(stats_port, proc)):
                    sys.exit("mizzen did not start")
                conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
                for h in range(active):
                    conn.request("GET", routes10k.TARGET_PATH, headers={"Host": f"app-{h}.{routes10k.DOMAIN}", "end-user": routes10k.TARGET_USER})
                    response = conn.getresponse()
                    response.read()
                    if response.status != 200:
                        sys.exit(f"app-{h}: {response.status}")
                conn.close()
                scrape(stats_port)  # warm-up
                times = []
                body = b""
                for _ in range(opts.scrapes):
                    seconds, body = scrape(stats_port)
                    times.append(seconds * 1000)
                lines = [l for l in body.split(b"\n") if l and not l.startswith(b"#")]
                # The same scrape by curl (a C client: what Python's read adds to the figure above).
                curl = []
                for _ in range(opts.scrapes):
                    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", f"http://127.0.0.1:{stats_port}/stats/prometheus"],
                                         capture_output=True, text=True).stdout
                    curl.append(float(out) * 1000)
                print(f"{active:5d} clusters with traffic (1,000 configured): {len(body) / 1e6:6.2f} MB, {len(lines):7,d} samples, "
                      f"scrape median {statistics.median(times):7.1f} ms, slowest {max(times):7.1f} ms; "
                      f"with curl median {statistics.median(curl):7.1f} ms", flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
    server.shutdown()


if __name__ == "__main__":
    main()
