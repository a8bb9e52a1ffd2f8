#!/usr/bin/env python3
"""What the sidecar costs: requests through two Mizzen sidecars in real pods against the same
requests straight to the application.

Two network namespaces on a veth pair stand for two pods. The application in pod B is nginx
(one worker, a 2-byte answer); the client in pod A is h2load (HTTP/1.1, keep-alive). Cases:

  direct      pod A to pod B's nginx, no capture rules, no sidecar (the ceiling)
  sidecars    the same request to the service VIP, through pod A's sidecar (outbound, routed by
              Host) and pod B's sidecar (inbound, to the application from 127.0.0.6), with the
              rules `mizzen iptables` installs
  mtls        the same with mutual TLS between the sidecars (auto mTLS, workload certificates
              from Tests/MizzenSystemTests/Peers/certs.sh)

Each case runs --runs times for --duration seconds after a warm-up; the table gives the median
requests/s, mean latency and the CPU seconds the two sidecars used per 10,000 requests. On a
2-core machine the client, both sidecars and nginx share the cores: the ratios tell what the
two extra hops cost here, not what one sidecar costs on a pod's own CPU.

Needs root, iproute2, iptables, nginx, h2load, openssl, and the release binary
(`make bench` builds it). Writes Bench/results/sidecar-latest.md.

  python3 Bench/sidecar.py [--mizzen PATH] [--runs 3] [--duration 10] [--connections 16]
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A, B = "mzbench-a", "mzbench-b"
ADDR_A, ADDR_B, VIP = "10.245.7.1", "10.245.7.2", "10.96.7.10"


def sh(*args, check=True, ns=None, **kw):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def setup_network():
    teardown_network()
    for step in (["netns", "add", A], ["netns", "add", B],
                 ["link", "add", "mzb-va", "type", "veth", "peer", "name", "mzb-vb"],
                 ["link", "set", "mzb-va", "netns", A], ["link", "set", "mzb-vb", "netns", B],
                 ["-n", A, "addr", "add", ADDR_A + "/24", "dev", "mzb-va"], ["-n", B, "addr", "add", ADDR_B + "/24", "dev", "mzb-vb"],
                 ["-n", A, "link", "set", "lo", "up"], ["-n", B, "link", "set", "lo", "up"],
                 ["-n", A, "link", "set", "mzb-va", "up"], ["-n", B, "link", "set", "mzb-vb", "up"],
                 ["-n", A, "route", "add", "default", "via", ADDR_B], ["-n", B, "route", "add", "default", "via", ADDR_A]):
        subprocess.run(["ip"] + step, check=True, capture_output=True)


def teardown_network():
    for ns in (A, B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def config(work, mtls):
    text = f"""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: server, namespace: default}}
spec:
  hosts: [server.default.svc.cluster.local]
  addresses: [{VIP}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: 80, name: http, protocol: HTTP, targetPort: 8080}}]
  workloadSelector: {{labels: {{app: server}}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: server-1, namespace: default}}
spec:
  address: {ADDR_B}
  labels: {{app: server{", security.istio.io/tlsMode: istio" if mtls else ""}}}
  serviceAccount: upstream
"""
    directory = os.path.join(work, "config-mtls" if mtls else "config")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "mesh.yaml"), "w") as f:
        f.write(text)
    return directory


def workload_certs(work, leaf):
    pki = os.path.join(work, "pki")
    subprocess.run(["bash", os.path.join(ROOT, "Tests/MizzenSystemTests/Peers/certs.sh"), pki], check=True, capture_output=True)
    directory = os.path.join(work, "workload-" + leaf)
    os.makedirs(directory, exist_ok=True)
    shutil.copy(os.path.join(pki, leaf + ".crt"), os.path.join(directory, "cert-chain.pem"))
    shutil.copy(os.path.join(pki, leaf + ".key"), os.path.join(directory, "key.pem"))
    shutil.copy(os.path.join(pki, "ca.crt"), os.path.join(directory, "root-cert.pem"))
    return directory


def start_nginx(work):
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
pid nginx.pid;
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 0.0.0.0:8080; location / { return 200 "ok"; } }
}
""")
    return subprocess.Popen(["ip", "netns", "exec", B, "nginx", "-p", work + "/", "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_sidecar(mizzen, ns, directory, labels, certs, log):
    args = ["ip", "netns", "exec", ns, "setpriv", "--regid", "1337", "--clear-groups", mizzen, "sidecar", "--config", directory,
            "--namespace", "default", "--pod-labels", labels, "--concurrency", "1", "--no-watch", "--drain-duration", "0",
            "--log-level", "warning", "--ipv6", "off"]
    if certs:
        args += ["--workload-certs", certs]
    process = subprocess.Popen(args, stdout=log, stderr=log)
    deadline = time.time() + 20
    while time.time() < deadline:
        if sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:15021/healthz/ready", ns=ns, check=False).stdout == "200":
            return process
        time.sleep(0.1)
    raise RuntimeError("the sidecar in %s did not become ready" % ns)


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def h2load(url, duration, connections, host=None):
    args = ["h2load", "--h1", "-c", str(connections), "-D", str(duration), "--warm-up-time=1"]
    if host:
        args += ["-H", ":authority: " + host]
    result = sh(*(args + [url]), ns=A, check=False, timeout=duration + 60)
    out = result.stdout
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    mean = re.search(r"time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(\w+)", out)
    if not (done and rps and mean):
        raise RuntimeError("h2load output not understood:\n" + out + result.stderr)
    if int(done.group(1)) != int(done.group(2)):
        raise RuntimeError("failed requests:\n" + out)
    latency = float(mean.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[mean.group(2)]
    return float(rps.group(1)), latency, int(done.group(1))


def measure(name, url, host, opts, sidecars):
    runs = []
    for _ in range(opts.runs):
        before = sum(cpu_seconds(p.pid) for p in sidecars)
        rps, latency, count = h2load(url, opts.duration, opts.connections, host)
        used = sum(cpu_seconds(p.pid) for p in sidecars) - before
        runs.append((rps, latency, used / count * 10000 if sidecars else 0.0))
        print("  %-9s %9.0f req/s  %6.2f ms  %5.2f CPU s/10k" % (name, rps, latency, runs[-1][2]), flush=True)
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mizzen", default=os.path.join(ROOT, ".build/release/mizzen"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    opts = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("Bench/sidecar.py needs root (network namespaces, iptables)")
    for tool in ("ip", "iptables", "nginx", "h2load", "openssl", "setpriv"):
        if not shutil.which(tool):
            sys.exit("Bench/sidecar.py needs %s" % tool)
    if not os.access(opts.mizzen, os.X_OK):
        sys.exit("no binary at %s (make bench builds it)" % opts.mizzen)
    work = tempfile.mkdtemp(prefix="mizzen-sidecar-bench-")
    processes = []
    results = {}
    try:
        setup_network()
        processes.append(start_nginx(work))
        time.sleep(0.5)
        print("direct (no rules, no sidecars)", flush=True)
        results["direct"] = measure("direct", "http://%s:8080/" % ADDR_B, None, opts, [])
        for ns in (A, B):
            sh(opts.mizzen, "iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*",
               "-d", "15090,15021,15020", ns=ns)
        for mtls in (False, True):
            name = "mtls" if mtls else "sidecars"
            directory = config(work, mtls)
            log = open(os.path.join(work, name + ".log"), "w")
            client = workload_certs(work, "client") if mtls else None
            server = workload_certs(work, "upstream") if mtls else None
            sidecars = [start_sidecar(opts.mizzen, A, directory, "app=client", client, log),
                        start_sidecar(opts.mizzen, B, directory, "app=server", server, log)]
            print(name, flush=True)
            results[name] = measure(name, "http://%s/" % VIP, "server.default.svc.cluster.local", opts, sidecars)
            for p in sidecars:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
    finally:
        for p in processes:
            p.kill()
        teardown_network()
    direct = results["direct"][0]
    lines = ["# Sidecar cost (`Bench/sidecar.py`)", "",
             "Measured %s, %d runs of %d s, %d connections (HTTP/1.1 keep-alive), release binary. Client, both sidecars and "
             "nginx share the machine's %d cores." % (time.strftime("%Y-%m-%d"), opts.runs, opts.duration, opts.connections, os.cpu_count()), "",
             "| case | requests/s | of direct | mean latency | sidecars' CPU s per 10k requests |", "|---|---:|---:|---:|---:|"]
    for name in ("direct", "sidecars", "mtls"):
        rps, latency, cpu = results[name]
        lines.append("| %s | %.0f | %.0f %% | %.2f ms | %s |" % (name, rps, rps / direct * 100, latency, "%.2f" % cpu if name != "direct" else "—"))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "Bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "Bench/results/sidecar-latest.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
