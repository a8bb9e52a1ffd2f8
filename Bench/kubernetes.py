#!/usr/bin/env python3
"""The Kubernetes source at scale: sync time, change latency and memory.

Starts the stand-in API server (Tests/MizzenSystemTests/Peers/kube_apiserver.py) with
10,000 VirtualServices, 1,000 Services and 1,000 EndpointSlices of 50 endpoints (50,000),
then `mizzen gateway --source kubernetes` against it, and measures:

  sync      seconds from the gateway's start to its first request routed by the synced table
            (a VirtualService added last, answered by its directResponse);
  change    for CHANGES single edits of one VirtualService (its directResponse body), the time
            from the stand-in handing the event to its watchers to the first request answered
            with the new body (p50, p90, p99, max);
  endpoints for ENDPOINT_CHANGES edits of one EndpointSlice, moving a service between two local
            backends, the time from the event to the first request answered by the new one;
  memory    the gateway's resident memory (VmRSS) once synced, and after the changes.

Usage: python3 Bench/kubernetes.py [--mizzen PATH] [--changes N] [--endpoint-changes N] [--virtual-services N]
       [--services N] [--endpoints-per-service N] [--out FILE]
Run with a release build (make bench builds one): debug builds are several times slower.
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from run import HZ, cpu_ticks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "Tests", "MizzenSystemTests", "Peers")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def objects(virtual_services, services, per_service):
    items = [{
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "bench-gateway", "namespace": "istio-system"},
        "spec": {"selector": {"istio": "ingressgateway"},
                 "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*/*"]}]},
    }]
    for s in range(services):
        items.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{s}", "namespace": "bench", "labels": {"app": f"svc-{s}"}},
            "spec": {"clusterIP": f"10.96.{s // 250}.{s % 250 + 1}", "selector": {"app": f"svc-{s}"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
        })
        items.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"svc-{s}-abcde", "namespace": "bench",
                         "labels": {"kubernetes.io/service-name": f"svc-{s}",
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.{1 + s // 250}.{s % 250}.{e + 1}"], "conditions": {"ready": True, "serving": True, "terminating": False},
                           "nodeName": f"node-{e % 7}", "zone": "zone-a",
                           "targetRef": {"kind": "Pod", "namespace": "bench", "name": f"svc-{s}-pod-{e}"}}
                          for e in range(per_service)],
        })
    for v in range(virtual_services):
        items.append({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": f"vs-{v}", "namespace": "bench"},
            "spec": {"hosts": [f"h{v}.bench.example.com"], "gateways": ["istio-system/bench-gateway"],
                     "http": [{"match": [{"uri": {"prefix": "/api"}}, {"headers": {"x-canary": {"exact": "yes"}}}],
                               "route": [{"destination": {"host": f"svc-{v % services}.bench.svc.cluster.local", "port": {"number": 80}}}],
                               "timeout": "5s", "retries": {"attempts": 2, "perTryTimeout": "2s"}},
                              {"route": [{"destination": {"host": f"svc-{(v + 1) % services}.bench.svc.cluster.local"}}]}]},
        })
    return items


def probe_vs(body):
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "probe", "namespace": "bench"},
        "spec": {"hosts": ["probe.bench.example.com"], "gateways": ["istio-system/bench-gateway"],
                 "http": [{"directResponse": {"status": 200, "body": {"string": body}}}]},
    }


def probe_endpoints(port, version):
    """The probe service's one EndpointSlice, its endpoint at 127.0.0.1:PORT."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "probe-abcde", "namespace": "bench", "labels": {"kubernetes.io/service-name": "probe"},
                     "annotations": {"bench/version": str(version)}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
    }


def probe_backend_objects(port):
    """A Service and VirtualService routing probe-backend.bench.example.com to it."""
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "probe", "namespace": "bench"},
         "spec": {"clusterIP": "10.96.250.250", "ports": [{"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"}]}},
        probe_endpoints(port, 0),
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "probe-backend", "namespace": "bench"},
         "spec": {"hosts": ["probe-backend.bench.example.com"], "gateways": ["istio-system/bench-gateway"],
                  "http": [{"route": [{"destination": {"host": "probe.bench.svc.cluster.local", "port": {"number": 80}}}]}]}},
    ]


class NamedHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered: the head and body leave in one write, flushed after each request. Unbuffered,
    # the body's small second write waited on the gateway's delayed ACK (Nagle): 40 ms added
    # to some endpoint changes' latency by the test backend, not by the gateway.
    wbufsize = -1

    def do_GET(self):
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def backend(name):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NamedHandler)
    server.daemon_threads = True
    server.name = name
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def post(control, payload):
    request = urllib.request.Request(f"http://127.0.0.1:{control}/objects", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User and system CPU time of a process so far (Bench/run.py's counter)."""
    user, system = cpu_ticks([pid])
    return (user + system) / HZ


def reference_seconds():
    """A fixed Python loop, timed: the shared machine's speed at the moment (its cores are
    several times slower at some hours), to read the other figures by."""
    started = time.monotonic()
    total = 0
    for value in range(5_000_000):
        total += value
    return time.monotonic() - started


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mizzen", default=os.path.join(ROOT, ".build", "release", "mizzen"))
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--endpoint-changes", type=int, default=30)
    parser.add_argument("--virtual-services", type=int, default=10000)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints-per-service", type=int, default=50)
    parser.add_argument("--out", default=os.path.join(ROOT, "Bench", "results", "kubernetes-latest.md"))
    args = parser.parse_args()

    reference = reference_seconds()
    print(f"reference loop: {reference:.2f} s (the machine's speed now; lower is faster)", flush=True)
    work = tempfile.mkdtemp(prefix="mizzen-kube-bench-")
    subprocess.run(["bash", os.path.join(PEERS, "kube_certs.sh"), os.path.join(work, "pki")], check=True)
    ready = os.path.join(work, "ready.json")
    api = subprocess.Popen([sys.executable, os.path.join(PEERS, "kube_apiserver.py"), "--tls-cert", f"{work}/pki/server.crt",
                            "--tls-key", f"{work}/pki/server.key", "--token", "bench-token", "--control-port", "0",
                            "--ready-file", ready, "--parent-pid", str(os.getpid())],
                           stdout=open(os.path.join(work, "api.log"), "w"), stderr=subprocess.STDOUT)
    gateway = None
    try:
        ports = wait_for(lambda: json.load(open(ready)) if os.path.exists(ready) and os.path.getsize(ready) else None, 30, "the stand-in API server")
        control = ports["control_port"]
        started = time.monotonic()
        items = objects(args.virtual_services, args.services, args.endpoints_per_service)
        post(control, {"apiVersion": "v1", "kind": "List", "items": items})
        print(f"loaded {len(items)} objects into the stand-in in {time.monotonic() - started:.1f} s", flush=True)

        with open(os.path.join(work, "kubeconfig"), "w") as kubeconfig:
            kubeconfig.write(f"""apiVersion: v1
kind: Config
current-context: bench
contexts: [{{name: bench, context: {{cluster: stand-in, user: bench}}}}]
clusters: [{{name: stand-in, cluster: {{server: "https://127.0.0.1:{ports['port']}", certificate-authority: {work}/pki/ca.crt}}}}]
users: [{{name: bench, user: {{token: bench-token}}}}]
""")
        http_port = free_port()
        log = open(os.path.join(work, "gateway.log"), "w")
        post(control, probe_vs("generation-0"))
        backends = [backend("backend-a"), backend("backend-b")]
        post(control, {"apiVersion": "v1", "kind": "List", "items": probe_backend_objects(backends[0].server_address[1])})
        started = time.monotonic()
        api_cpu = cpu_seconds(api.pid)
        gateway = subprocess.Popen([args.mizzen, "gateway", "--source", "kubernetes", "--kubeconfig", os.path.join(work, "kubeconfig"),
                                    "--namespace", "istio-system", "--port-map", f"8080={http_port}", "--admin-port=-1",
                                    "--stats-port=-1", "--status-port=-1", "--log-level", "notice"],
                                   stdout=log, stderr=subprocess.STDOUT)

        def probe_body():
            connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=2)
            connection.request("GET", "/", headers={"Host": "probe.bench.example.com"})
            return connection.getresponse().read().decode()

        wait_for(lambda: probe_body() == "generation-0", 120, "the gateway to serve the synced table")
        sync_seconds = time.monotonic() - started
        synced_rss = rss_kib(gateway.pid)
        sync_cpu, api_sync_cpu = cpu_seconds(gateway.pid), cpu_seconds(api.pid) - api_cpu
        print(f"synced and serving in {sync_seconds:.2f} s; VmRSS {synced_rss / 1024:.0f} MiB; CPU until then: "
              f"gateway {sync_cpu:.2f} s, stand-in {api_sync_cpu:.2f} s", flush=True)

        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        latencies = []
        for change in range(1, args.changes + 1):
            body = f"generation-{change}"
            result = post(control, probe_vs(body))
            event_ns = result["eventTimeNs"]
            while True:
                connection.request("GET", "/", headers={"Host": "probe.bench.example.com"})
                answer = connection.getresponse().read().decode()
                if answer == body:
                    latencies.append((time.time_ns() - event_ns) / 1e6)
                    break
                if (time.time_ns() - event_ns) > 30e9:
                    raise SystemExit(f"change {change} not served after 30 s")
                # Polling every 2 ms: close enough, without taking a core from the gateway.
                time.sleep(0.002)
            time.sleep(0.2)
        after_rss = rss_kib(gateway.pid)

        def summarize(values):
            return (f"p50 {percentile(values, 0.5):.0f} ms, p90 {percentile(values, 0.9):.0f} ms, "
                    f"p99 {percentile(values, 0.99):.0f} ms, max {max(values):.0f} ms")

        summary = summarize(latencies)
        print(f"change to first routed request over {len(latencies)} changes: {summary}; VmRSS after {after_rss / 1024:.0f} MiB", flush=True)

        # Endpoint changes: the probe service's EndpointSlice moved between two backends.
        endpoint_latencies = []
        for change in range(1, args.endpoint_changes + 1):
            target = backends[change % 2]
            result = post(control, probe_endpoints(target.server_address[1], change))
            event_ns = result["eventTimeNs"]
            while True:
                connection.request("GET", "/", headers={"Host": "probe-backend.bench.example.com"})
                answer = connection.getresponse().read().decode()
                if answer == target.name:
                    endpoint_latencies.append((time.time_ns() - event_ns) / 1e6)
                    break
                if (time.time_ns() - event_ns) > 30e9:
                    raise SystemExit(f"endpoint change {change} not served after 30 s")
                time.sleep(0.002)
            time.sleep(0.2)
        endpoint_summary = summarize(endpoint_latencies) if endpoint_latencies else "not measured"
        print(f"endpoint change to first request sent to the new endpoint over {len(endpoint_latencies)} changes: {endpoint_summary}")
        with open(args.out, "w") as out:
            out.write(f"""# Kubernetes source at scale ({time.strftime('%Y-%m-%d')})

`python3 Bench/kubernetes.py` with `{os.path.relpath(args.mizzen, ROOT)}`: the stand-in API server holding
{args.virtual_services:,} VirtualServices, {args.services:,} Services and {args.services:,} EndpointSlices of
{args.endpoints_per_service} endpoints ({args.services * args.endpoints_per_service:,}); 2 cores shared by the stand-in (Python),
the gateway and the client.

| measure | result |
|---|---|
| reference loop (the machine's speed at the time; lower is faster) | {reference:.2f} s |
| start to first request routed by the synced table | {sync_seconds:.2f} s |
| CPU time until then: gateway, stand-in | {sync_cpu:.2f} s, {api_sync_cpu:.2f} s |
| resident memory once synced | {synced_rss / 1024:.0f} MiB |
| event sent to first request routed by it ({len(latencies)} VirtualService changes) | {summary} |
| EndpointSlice change to first request sent to the new endpoint ({len(endpoint_latencies)} changes) | {endpoint_summary} |
| resident memory after the changes | {after_rss / 1024:.0f} MiB |
""")
        print(f"wrote {os.path.relpath(args.out, ROOT)}")
    finally:
        if gateway:
            gateway.send_signal(signal.SIGINT)
            try:
                gateway.wait(10)
            except subprocess.TimeoutExpired:
                gateway.kill()
        api.terminate()
        api.wait(10)


if __name__ == "__main__":
    main()
