#!/usr/bin/env python3
"""Side-by-side benchmark: Mizzen against Envoy, nginx and HAProxy, with direct-to-upstream as
the ceiling. Python 3 standard library only; see Bench/README.md.

Every proxy does the same routing job (Bench/config/istio.yaml and its equivalents), runs one
worker pinned to core 0; the load generator (wrk, h2load) and the upstream (nginx, one worker)
share core 1. Runs are interleaved per case (A B C D E A B C D E ...), each preceded by an idle
check and redone (bounded) when something else used the CPU during it; medians are reported.

    python3 Bench/run.py                       # everything, defaults (about 13 minutes)
    RUNS=1 DURATION=2 python3 Bench/run.py     # a smoke run
    python3 Bench/run.py --cases http1,h2c --targets direct,envoy,mizzen
    python3 Bench/run.py --estimate            # print the plan and its expected duration
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

import routes10k

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIG = os.path.join(HERE, "config")
HZ = os.sysconf("SC_CLK_TCK")


def env(name, default, kind=str):
    v = os.environ.get(name)
    return default if v in (None, "") else kind(v)


# ---------------------------------------------------------------------------------------------
# Cases

class Case:
    def __init__(self, name, title, tool, scheme, duration, path="/", headers=None, conns=50,
                 streams=1, config="basic", what=""):
        self.name, self.title, self.tool, self.scheme = name, title, tool, scheme
        self.duration, self.path, self.conns, self.streams = duration, path, conns, streams
        self.headers = headers if headers is not None else {"end-user": "jason"}
        self.config, self.what = config, what

    def load_line(self, duration):
        if self.tool == "wrk":
            s = f"wrk -t1 -c{self.conns} -d{secs(duration)}s"
        elif self.tool == "tlsload":
            s = f"tlsload.py -c{self.conns} -d {secs(duration)}"
        else:
            s = f"h2load -t1 -c{self.conns} -m{self.streams} -D {secs(duration)}"
        hdrs = " ".join(f"-H '{k}: {v}'" for k, v in self.headers.items())
        return f"{s} {hdrs} {self.scheme}://.../{self.path.lstrip('/')}"


JASON = "`GET /` with `end-user: jason` (second rule: header match, after the /api prefix rule fails) → reviews-v2"

CASES = [
    Case("http1", "HTTP/1.1 keep-alive", "wrk", "http", 10, conns=50, what=JASON),
    Case("h2c", "HTTP/2 cleartext (prior knowledge)", "h2load", "h2c", 5, conns=10, streams=5, what=JASON),
    Case("h2-tls", "HTTP/2 over TLS (ALPN h2)", "h2load", "https", 5, conns=10, streams=5, what=JASON),
    Case("https1", "HTTPS/1.1 keep-alive (TLS termination)", "wrk", "https", 5, conns=50, what=JASON),
    Case("tls-handshake", "new TLS connection per request (full handshakes)", "tlsload", "https", 5, conns=8,
         headers={"end-user": "jason", "Connection": "close"},
         what=JASON + "; every request on a new TCP connection with a full TLS 1.3 handshake (RSA 2048 "
         "certificate, no session offered: `Bench/tlsload.py`, since wrk and h2load resume sessions), "
         "so requests/s = handshakes/s. The client's own handshake work (OpenSSL 3.0, about 1 ms each) "
         "shares core 1 with the upstream, so \"core\" tells whether the proxy was the bottleneck, and "
         "the direct ceiling is the upstream nginx handshaking on the client's core"),
    Case("body-1m", "1 MiB response body", "wrk", "http", 5, path="/big", conns=10,
         what="`GET /big` with `end-user: jason` → reviews-v2, 1,048,576-byte body"),
    Case("routes-10k", "10,000 routes over 1,000 hosts, matched route last", "wrk", "http", 5,
         path=routes10k.TARGET_PATH, conns=50, config="routes10k",
         headers={"Host": routes10k.TARGET_HOST, "end-user": routes10k.TARGET_USER},
         what=f"`GET {routes10k.TARGET_PATH}`, `Host: {routes10k.TARGET_HOST}`, "
         f"`end-user: {routes10k.TARGET_USER}`: the last rule of the last host (rule 10,000 "
         "in declaration order); each rule is a path prefix AND a header match"),
]
CASE_NAMES = [c.name for c in CASES]


# ---------------------------------------------------------------------------------------------
# Processes

STARTED = []  # every Popen this script started, for cleanup


def start(cmd, log, cpu):
    f = open(log, "ab")
    p = subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, stdout=f, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    f.close()
    STARTED.append(p)
    return p


def stop(p, grace=5.0):
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def stop_all():
    for p in reversed(STARTED):
        stop(p, 3.0)
    STARTED.clear()


def proc_tree(pid):
    """pid and its descendants (nginx: master and worker)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pids):
    """(utime, stime) in clock ticks summed over pids (all their threads)."""
    u = s = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            u += int(fields[11])
            s += int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return u, s


def reset_peak_rss(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pass


def peak_rss_kib(pids):
    """The largest VmHWM among the processes: the proxy itself, or nginx's worker (its master
    shares the worker's pages from the fork, so a sum would count them twice)."""
    peak = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak


def stat_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user = v[0] + v[1]
    idle = v[3] + v[4]
    return user, idle, sum(v[:8])


def busy_fraction(seconds):
    _, i0, t0 = stat_cpu()
    time.sleep(seconds)
    _, i1, t1 = stat_cpu()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_port(port, proc, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def http_get(port, path, headers, tls=False):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        info = {"status": r.status, "upstream": r.getheader("x-upstream")}
        if tls:
            info["tls"] = "%s %s" % (c.sock.version(), c.sock.cipher()[0])
        return info
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# Targets

def render(template, out, values):
    with open(os.path.join(CONFIG, template)) as f:
        text = f.read()

    def sub(m):
        if m.group(1) not in values:
            raise KeyError(f"{template}: no value for @{m.group(1)}@")
        return str(values[m.group(1)])
    text = re.sub(r"@([A-Z][A-Z0-9_]*)@", sub, text)
    with open(out, "w") as f:
        f.write(text)
    return out


class Target:
    name = ""
    label = ""
    offset = 0

    def __init__(self, opts):
        self.o = opts
        b = opts.base_port
        self.ports = {"http": b + self.offset, "tls": b + self.offset + 1, "h2c": b + self.offset,
                      "admin": b + self.offset + 9}
        self.proc = None
        self.dir = os.path.join(opts.work, self.name)
        self.skip_reason = None
        self.version = ""

    def values(self):
        v = dict(self.o.values)
        v.update(PORT_HTTP=self.ports["http"], PORT_TLS=self.ports["tls"],
                 PORT_H2C=self.ports["h2c"], PORT_ADMIN=self.ports["admin"])
        return v

    def url(self, case):
        if case.scheme == "https":
            port, scheme = self.ports["tls"], "https"
        elif case.scheme == "h2c":
            port, scheme = self.ports["h2c"], "http"
        else:
            port, scheme = self.ports["http"], "http"
        return f"{scheme}://127.0.0.1:{port}{case.path}"

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        return proc_tree(self.proc.pid)

    def command(self, config):
        raise NotImplementedError

    def start(self, config):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        for k in ("http", "tls", "h2c"):
            if config == "routes10k" and k != "http":
                continue
            if not port_free(self.ports[k]):
                raise RuntimeError(f"{self.name}: port {self.ports[k]} is in use (a stale process?)")
        cmd = self.command(config)
        self.log = os.path.join(self.dir, f"{config}.log")
        self.proc = start(cmd, self.log, self.o.cpu_proxy)

    def ready(self, config, timeout):
        ok = wait_port(self.ports["http"], self.proc, timeout)
        if ok and config == "basic":
            ok = wait_port(self.ports["tls"], self.proc, timeout) and wait_port(self.ports["h2c"], self.proc, timeout)
        return ok

    def stop(self):
        stop(self.proc)
        self.proc = None


class Direct(Target):
    name, label, offset = "direct", "direct (no proxy)", 0

    def __init__(self, opts):
        super().__init__(opts)
        self.ports = {"http": opts.values["UP_DEFAULT"], "tls": opts.values["UP_TLS"],
                      "h2c": opts.values["UP_H2C"], "admin": 0}

    def start(self, config):
        pass

    def ready(self, config, timeout):
        return True

    def pids(self):
        return []

    def stop(self):
        pass


class Mizzen(Target):
    name, label, offset = "mizzen", "Mizzen", 100

    def command(self, config):
        cfg = self.o.istio_basic if config == "basic" else self.o.istio_10k
        pm = f"80={self.ports['http']},443={self.ports['tls']}" if config == "basic" else f"80={self.ports['http']}"
        return [self.o.mizzen, "gateway", "--config", cfg, "--credentials", os.path.join(self.o.work, "credentials"),
                "--bind", "127.0.0.1", "--port-map", pm, "--concurrency", "1",
                "--drain-timeout", "1", "--drain-duration", "0", "--log-level", "warning"]


class Envoy(Target):
    name, label, offset = "envoy", "Envoy", 200

    def command(self, config):
        os.makedirs(self.dir, exist_ok=True)
        if config == "basic":
            cfg = render("envoy.yaml", os.path.join(self.dir, "envoy.yaml"), self.values())
        else:
            cfg = os.path.join(self.dir, "envoy-routes10k.yaml")
            with open(cfg, "w") as f:
                f.write(routes10k.envoy(self.ports["http"], self.ports["admin"], self.o.values["UP_API"]))
        return [self.o.envoy, "-c", cfg, "--concurrency", "1", "--log-level", "warn",
                "--disable-hot-restart", "--base-id", str(self.o.base_port)]

    def ready(self, config, timeout):
        if not super().ready(config, timeout):
            return False
        end = time.time() + timeout
        while time.time() < end:  # listeners bind before the workers are up; /ready says LIVE
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.ports["admin"], timeout=2)
                c.request("GET", "/ready")
                if c.getresponse().status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False


class Nginx(Target):
    name, label, offset = "nginx", "nginx", 300

    def __init__(self, opts):
        super().__init__(opts)
        self.ports["h2c"] = self.ports["http"] + 2

    def command(self, config):
        os.makedirs(self.dir, exist_ok=True)
        if config == "basic":
            cfg = render("nginx.conf", os.path.join(self.dir, "nginx.conf"), self.values())
        else:
            cfg = os.path.join(self.dir, "nginx-routes10k.conf")
            with open(cfg, "w") as f:
                f.write(routes10k.nginx(self.o.work, self.o.values["USER"], self.ports["http"], self.o.values["UP_API"]))
        return ["nginx", "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"),
                "-c", cfg, "-g", "daemon off;"]


class HAProxy(Target):
    name, label, offset = "haproxy", "HAProxy", 400

    def command(self, config):
        os.makedirs(self.dir, exist_ok=True)
        if config == "basic":
            cfg = render("haproxy.cfg", os.path.join(self.dir, "haproxy.cfg"), self.values())
        else:
            cfg = os.path.join(self.dir, "haproxy-routes10k.cfg")
            with open(cfg, "w") as f:
                f.write(routes10k.haproxy(self.o.work, self.ports["http"], self.o.values["UP_API"]))
        return ["haproxy", "-db", "-f", cfg]


TARGET_CLASSES = [Direct, Mizzen, Envoy, Nginx, HAProxy]
TARGET_NAMES = [t.name for t in TARGET_CLASSES]


# ---------------------------------------------------------------------------------------------
# Load generators

def run_load(case, target, duration, opts, tag):
    """Runs the case's load generator on the load core; returns the parsed result, the load
    generator's user CPU ticks, and the elapsed time."""
    out_path = os.path.join(opts.work, "load.out")
    url = target.url(case)
    hdrs = []
    for k, v in case.headers.items():
        hdrs += ["-H", f"{k}: {v}"]
    log_path = None
    if case.tool == "wrk":
        cmd = ["wrk", "-t1", f"-c{case.conns}", f"-d{secs(duration)}s", "--timeout", "5s",
               "-s", os.path.join(HERE, "wrk", "report.lua")] + hdrs + [url]
    elif case.tool == "tlsload":
        cmd = [sys.executable, os.path.join(HERE, "tlsload.py"), "-c", str(case.conns), "-d", secs(duration)] + hdrs + [url]
    else:
        log_path = os.path.join(opts.shm, f"mizzen-bench-h2load-{os.getpid()}.log")
        cmd = ["h2load", "-t1", f"-c{case.conns}", f"-m{case.streams}", "-D", secs(duration),
               "--log-file", log_path] + hdrs + [url]
    t0 = time.time()
    with open(out_path, "wb") as f:
        p = subprocess.Popen(["taskset", "-c", str(opts.cpu_load)] + cmd, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        STARTED.append(p)
        deadline = t0 + duration + 60
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.time() > deadline:
                stop(p, 1)
                ru = None
                break
            time.sleep(0.02)
        STARTED.remove(p)
    elapsed = time.time() - t0
    with open(out_path, errors="replace") as f:
        text = f.read()
    with open(os.path.join(opts.work, "load.log"), "a") as f:
        f.write(f"== {tag}: {' '.join(cmd)}\n{text}\n")
    res = parse_h2load(text, log_path) if case.tool == "h2load" else parse_wrk(text)
    if log_path and os.path.exists(log_path):
        os.unlink(log_path)
    if p.returncode not in (0, None) and res.get("requests", 0) == 0:
        res["error"] = f"{case.tool} exited {p.returncode}: {one_line(text.strip()[-300:])}"
    load_ticks = int(round(ru.ru_utime * HZ)) if ru else 0
    return res, load_ticks, elapsed


def parse_wrk(text):
    m = re.search(r"^BENCH (\{.*\})$", text, re.M)
    if not m:
        return {"requests": 0, "error": "no wrk report: " + one_line(text.strip()[-300:])}
    d = json.loads(m.group(1))
    secs = d["duration_us"] / 1e6
    errors = d["connect_errors"] + d["read_errors"] + d["write_errors"] + d["timeouts"]
    return {"requests": d["requests"], "rps": d["requests"] / secs if secs else 0.0,
            "p50_ms": d["p50_us"] / 1000, "p99_ms": d["p99_us"] / 1000, "p999_ms": d["p999_us"] / 1000,
            "errors": errors, "non2xx": d["status_errors"], "bytes": d["bytes"]}


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def parse_h2load(text, log_path):
    res = {"requests": 0}
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    proto = re.search(r"Application protocol: (\S+)", text)
    if not (m and r):
        res["error"] = "no h2load summary: " + one_line(text.strip()[-300:])
        return res
    res["rps"] = float(m.group(3))
    res["requests"] = int(r.group(4))
    res["errors"] = int(r.group(6)) + int(r.group(7))
    res["non2xx"] = (int(s.group(2)) + int(s.group(3)) + int(s.group(4))) if s else 0
    res["protocol"] = proto.group(1) if proto else "?"
    if res["protocol"] not in ("h2", "h2c"):
        res["error"] = f"negotiated {res['protocol']}, not HTTP/2"
    lat = []
    if log_path and os.path.exists(log_path):
        with open(log_path) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3 and parts[1].startswith("2"):
                    lat.append(int(parts[2]))
    lat.sort()
    res["p50_ms"] = percentile(lat, 50) / 1000
    res["p99_ms"] = percentile(lat, 99) / 1000
    res["p999_ms"] = percentile(lat, 99.9) / 1000
    return res


# ---------------------------------------------------------------------------------------------
# The bench

def secs(x):
    """Whole seconds for wrk and h2load (at least 1)."""
    return str(max(1, int(round(x))))


def one_line(text, limit=200):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def log(msg):
    print(msg, flush=True)


def prepare(opts):
    """Work directory, certificates (openssl CLI), the 1 MiB body, the rendered Istio YAML."""
    w = opts.work
    for d in ("certs", "credentials/bench-cert", "www", "upstream/tmp", "mizzen"):
        os.makedirs(os.path.join(w, d), exist_ok=True)
    key, crt = os.path.join(w, "certs/tls.key"), os.path.join(w, "certs/tls.crt")
    # RSA 2048, as in Istio's secure-ingress task; made fresh for every bench.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-days", "7",
                    "-keyout", key, "-out", crt, "-subj", "/CN=bench.example.com",
                    "-addext", "subjectAltName=DNS:bench.example.com,DNS:*.bench.example.com,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(w, "certs/tls.pem"), "w") as f:  # HAProxy: certificate and key in one file
        f.write(open(crt).read() + open(key).read())
    for name in ("tls.crt", "tls.key"):
        shutil.copy(os.path.join(w, "certs", name), os.path.join(w, "credentials/bench-cert", name))
    with open(os.path.join(w, "www/big"), "wb") as f:
        f.write((b"0123456789abcdef" * 64 + b"\n")[:1024] * 1024)
    opts.istio_basic = render("istio.yaml", os.path.join(w, "mizzen/istio.yaml"), opts.values)
    opts.istio_10k = os.path.join(w, "mizzen/istio-routes10k.yaml")
    with open(opts.istio_10k, "w") as f:
        f.write(routes10k.istio(opts.values["UP_API"]))


def start_upstream(opts):
    cfg = render("upstream-nginx.conf", os.path.join(opts.work, "upstream/nginx.conf"), opts.values)
    for k in ("UP_DEFAULT", "UP_API", "UP_REVIEWS", "UP_H2C", "UP_TLS"):
        if not port_free(opts.values[k]):
            raise RuntimeError(f"upstream port {opts.values[k]} is in use (a stale process?)")
    p = start(["nginx", "-p", os.path.join(opts.work, "upstream") + "/", "-e", os.path.join(opts.work, "upstream/error.log"),
               "-c", cfg, "-g", "daemon off;"], os.path.join(opts.work, "upstream/stdout.log"), opts.cpu_load)
    for k in ("UP_DEFAULT", "UP_API", "UP_REVIEWS", "UP_H2C", "UP_TLS"):
        if not wait_port(opts.values[k], p, 10):
            raise RuntimeError("upstream nginx did not start; see " + os.path.join(opts.work, "upstream"))
    return p


def verify(target, case):
    """The routes each target must take, checked over HTTP/1.1 (and TLS) before measuring."""
    port, tport = target.ports["http"], target.ports["tls"]
    if case.config == "routes10k":
        h = {"Host": routes10k.TARGET_HOST, "end-user": routes10k.TARGET_USER}
        checks = [(routes10k.TARGET_PATH, h, 200, "api"),
                  (routes10k.TARGET_PATH, dict(h, **{"end-user": "user-8"}), 404, None),
                  ("/api/v1/x", {"Host": "app-500.bench.example.com", "end-user": "user-1"}, 200, "api")]
        if target.name == "direct":
            checks = [(routes10k.TARGET_PATH, h, 200, "default")]
        for path, hdr, status, up in checks:
            r = http_get(port, path, hdr)
            if r["status"] != status or (up and r["upstream"] != up):
                return f"{path} {hdr} gave {r['status']} from {r['upstream']}, wanted {status} from {up}"
        return None
    checks = [("/api/items", {}, "api"), ("/", {"end-user": "jason"}, "reviews-v2"), ("/", {}, "default"),
              ("/apix", {"end-user": "jason"}, "api"), ("/other", {"end-user": "bob"}, "default")]
    if target.name == "direct":
        checks = [("/", {"end-user": "jason"}, "default")]
    for path, hdr, up in checks:
        r = http_get(port, path, hdr)
        if r["status"] != 200 or r["upstream"] != up:
            return f"GET {path} {hdr} gave {r['status']} from {r['upstream']}, wanted 200 from {up}"
    r = http_get(tport, "/", {"end-user": "jason"}, tls=True)
    want = "default" if target.name == "direct" else "reviews-v2"
    if r["status"] != 200 or r["upstream"] != want:
        return f"TLS GET / gave {r['status']} from {r['upstream']}, wanted 200 from {want}"
    target.tls = r.get("tls")
    return None


def measure(case, target, running, duration, opts, tag):
    """One measured run, with the idle check before and the disturbance check during it."""
    waited, busy = 0.0, 1.0
    while True:
        busy = busy_fraction(opts.idle_sample)
        if busy <= opts.idle_max or waited >= opts.idle_wait or opts.redo_left <= 0:
            break
        time.sleep(0.5)
        waited += 0.5 + opts.idle_sample
        opts.redo_left -= 0.5 + opts.idle_sample
    ours = [opts.upstream.pid] if opts.upstream else []
    ours = proc_tree(ours[0]) if ours else []
    for t in running:
        ours += t.pids()
    tp = target.pids()
    reset_peak_rss(tp)
    u0, s0 = cpu_ticks(tp)
    ou0, _ = cpu_ticks(ours)
    su0, _, _ = stat_cpu()
    res, load_ticks, elapsed = run_load(case, target, duration, opts, tag)
    su1, _, _ = stat_cpu()
    ou1, _ = cpu_ticks(ours)
    u1, s1 = cpu_ticks(tp)
    foreign = ((su1 - su0) - (ou1 - ou0) - load_ticks) / HZ / max(elapsed, 0.001)
    res.update(busy_before=round(busy, 3), foreign_cores=round(foreign, 3),
               disturbed=busy > opts.idle_max or foreign > opts.foreign_max, elapsed_s=round(elapsed, 2))
    if tp:
        cpu = (u1 - u0 + s1 - s0) / HZ
        res["cpu_s"] = round(cpu, 3)
        res["cpu_user_s"] = round((u1 - u0) / HZ, 3)
        res["cpu_per_10k"] = cpu / res["requests"] * 10000 if res.get("requests") else None
        res["proxy_core"] = cpu / duration
        res["rss_mib"] = peak_rss_kib(tp) / 1024
    if not res.get("error") and res.get("requests"):
        bad = res.get("errors", 0) + res.get("non2xx", 0)
        if bad > 0.01 * res["requests"]:
            res["error"] = f"{bad} errors/non-2xx of {res['requests']}"
    return res


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def bench(opts, cases, targets):
    results = {}
    opts.upstream = start_upstream(opts)
    try:
        for case in cases:
            duration = opts.duration or case.duration
            log(f"\n== {case.name}: {case.title} — {case.load_line(duration)}, {opts.runs} run(s) per target")
            proxies = [t for t in targets if t.name != "direct"]
            for t in proxies:
                t.start(case.config)
            live = []
            cres = {}
            for t in targets:
                r = {"runs": []}
                cres[t.name] = r
                if not t.ready(case.config, 120):
                    r["skipped"] = f"did not start; see {getattr(t, 'log', '')}"
                    log(f"   {t.name}: {r['skipped']}")
                    continue
                try:
                    problem = verify(t, case)
                except (OSError, http.client.HTTPException) as e:
                    problem = f"route check failed: {e!r}"
                if problem:
                    r["skipped"] = "wrong routing: " + problem
                    log(f"   {t.name}: {r['skipped']}")
                    continue
                if opts.warmup > 0:
                    w, _, _ = run_load(case, t, opts.warmup, opts, f"{case.name} {t.name} warm-up")
                    if w.get("error") or not w.get("requests") or \
                            w.get("errors", 0) + w.get("non2xx", 0) > 0.01 * w["requests"]:
                        r["skipped"] = "warm-up failed: " + str(w.get("error") or w)
                        log(f"   {t.name}: {r['skipped']}")
                        continue
                live.append(t)
            running = [t for t in proxies if t.proc is not None]
            for i in range(opts.runs):
                for t in live:
                    res = None
                    for attempt in range(opts.max_retries + 1):
                        res = measure(case, t, running, duration, opts, f"{case.name} {t.name} run {i + 1}")
                        res["attempt"] = attempt + 1
                        if not res["disturbed"] or attempt == opts.max_retries or opts.redo_left <= 0:
                            break
                        opts.redo_left -= res["elapsed_s"] + opts.idle_sample
                        log(f"   {t.name} run {i + 1}: disturbed (busy before {res['busy_before']:.0%}, "
                            f"others used {res['foreign_cores']:.2f} cores during it); redoing")
                    cres[t.name]["runs"].append(res)
                    log("   %-8s run %d: %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  p99.9 %6.2f ms%s%s%s" % (
                        t.name, i + 1, res.get("rps", 0), res.get("p50_ms", 0), res.get("p99_ms", 0), res.get("p999_ms", 0),
                        "  cpu/10k %.3f s  rss %.1f MiB" % (res["cpu_per_10k"] or 0, res["rss_mib"]) if "rss_mib" in res else "",
                        "  DISTURBED" if res["disturbed"] else "", "  ERROR " + res["error"] if res.get("error") else ""))
            for t in proxies:
                if t.proc is not None and t.proc.poll() is not None and t in live:
                    cres[t.name]["died"] = f"exited {t.proc.returncode} during the case; see {t.log}"
                t.stop()
            for name, r in cres.items():
                good = [x for x in r["runs"] if not x.get("error")]
                clean = [x for x in good if not x["disturbed"]] or good
                if clean:
                    r["median"] = {k: median_of(clean, k) for k in
                                   ("rps", "p50_ms", "p99_ms", "p999_ms", "cpu_per_10k", "proxy_core", "rss_mib")}
                    r["median_of"] = len(clean)
                    r["disturbed_runs"] = sum(1 for x in clean if x["disturbed"])
            results[case.name] = cres
    finally:
        for t in targets:
            t.stop()
        stop(opts.upstream)
    return results


# ---------------------------------------------------------------------------------------------
# Report

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024 // 1024
    os_name = ""
    try:
        with open("/etc/os-release") as f:
            os_name = dict(l.rstrip().split("=", 1) for l in f if "=" in l).get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "memory_gib": mem, "os": os_name}


def tool_version(cmd, pattern):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20, text=True)
        m = re.search(pattern, p.stdout)
        return m.group(1) if m else p.stdout.strip().splitlines()[0] if p.stdout.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def versions(opts):
    v = {
        "envoy": tool_version([opts.envoy, "--version"], r"/(\d+\.\d+\.\d+)/") if opts.envoy else None,
        "nginx": tool_version(["nginx", "-v"], r"nginx/(\S+)"),
        "haproxy": tool_version(["haproxy", "-v"], r"version (\S+)"),
        "wrk": tool_version(["wrk", "-v"], r"wrk (\S+)"),
        "h2load": tool_version(["h2load", "--version"], r"nghttp2/(\S+)"),
        "openssl": tool_version(["openssl", "version"], r"OpenSSL (\S+)"),
    }
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    v["mizzen"] = f"{rev} ({opts.mizzen})" if opts.mizzen else None
    return v


def fmt(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if a is None or not b:
        return "—"
    return f"{a / b:.2f}×"


def report_md(opts, cases, targets, results, meta):
    m = meta["machine"]
    v = meta["versions"]
    L = [f"# Side-by-side benchmark: Mizzen, Envoy, nginx, HAProxy",
         "",
         f"Date: {meta['date']}. Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
         f"Linux {m['kernel']} ({m['os']}).",
         f"Versions: Mizzen {v.get('mizzen') or 'not run'}; Envoy {v.get('envoy') or 'not run'}; nginx {v['nginx']}; "
         f"HAProxy {v['haproxy']}; wrk {v['wrk']}; h2load {v['h2load']}; OpenSSL {v['openssl']}.",
         "",
         f"Each proxy runs one worker (Mizzen `--concurrency 1`, Envoy `--concurrency 1`, nginx "
         f"`worker_processes 1`, HAProxy `nbthread 1`) pinned to core {opts.cpu_proxy} with `taskset`; the load "
         f"generator and the upstream (nginx, one worker, 13-byte body, keep-alive) share core {opts.cpu_load}. "
         f"All do the routing job of `Bench/config/istio.yaml`. Medians of {opts.runs} interleaved run(s) per "
         f"target; a run during which other processes used more than {opts.foreign_max:.2f} of a core, or that "
         f"started on a machine more than {opts.idle_max:.0%} busy, was redone (at most {opts.max_retries} times, "
         f"{opts.redo_budget:.0f} s in all; runs still disturbed are marked). "
         "\"CPU s/10k\" is the proxy's user+system CPU time per 10,000 requests (from /proc/PID/stat), "
         "\"core\" the share of its core it used, \"peak RSS\" its VmHWM during the run (nginx: the worker's). "
         "Ratios: req/s over Envoy's and over direct (the ceiling: load generator straight to the upstream); "
         "CPU over Envoy's (below 1 is cheaper).",
         ]
    tls = ", ".join(f"{t.label} {t.tls}" for t in targets if getattr(t, "tls", None))
    if tls:
        L += ["", f"TLS negotiated by the route check (Python client): {tls}."]
    if opts.notes:
        L += [""] + [f"Note: {n}" for n in opts.notes]
    for case in cases:
        cres = results.get(case.name, {})
        duration = opts.duration or case.duration
        L += ["", f"## {case.name}: {case.title}", "",
              f"`{case.load_line(duration)}`; {case.what}.", "",
              "| target | req/s | vs Envoy | vs direct | p50 ms | p99 ms | p99.9 ms | CPU s/10k | CPU vs Envoy | core | peak RSS MiB | runs |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        env_m = (cres.get("envoy") or {}).get("median") or {}
        dir_m = (cres.get("direct") or {}).get("median") or {}
        for t in targets:
            r = cres.get(t.name)
            if r is None:
                continue
            md = r.get("median")
            if not md:
                why = r.get("skipped") or r.get("died") or "; ".join(sorted({x.get("error", "") for x in r["runs"]})) or "no result"
                L.append(f"| {t.label} | failed: {one_line(why).replace('|', '/')} | | | | | | | | | | |")
                continue
            runs = f"{r['median_of']}" + (f" ({r['disturbed_runs']} disturbed)" if r.get("disturbed_runs") else "")
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                t.label, fmt(md["rps"]), ratio(md["rps"], env_m.get("rps")), ratio(md["rps"], dir_m.get("rps")),
                fmt(md["p50_ms"], 2), fmt(md["p99_ms"], 2), fmt(md["p999_ms"], 2),
                fmt(md["cpu_per_10k"], 3), ratio(md["cpu_per_10k"], env_m.get("cpu_per_10k")),
                f"{md['proxy_core']:.0%}" if md.get("proxy_core") is not None else "—",
                fmt(md["rss_mib"], 1), runs))
    raw = os.path.relpath(os.path.join(opts.out, "latest.json"), ROOT)
    L += ["", f"Raw runs: `{raw}`. Harness: `Bench/run.py` (see `Bench/README.md`)."]
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------------------------------------

def find_envoy():
    e = os.environ.get("ENVOY")
    if e:
        return e
    import glob
    for pat in (os.path.join(HERE, ".venv/lib/python3*/site-packages/envoy/_bin/envoy"),
                os.path.join(HERE, ".venv/bin/envoy")):
        for c in sorted(glob.glob(pat)):
            if os.access(c, os.X_OK):
                return c
    return shutil.which("envoy")


def estimate(opts, cases, targets):
    total = 0.0
    for c in cases:
        d = opts.duration or c.duration
        per_run = d + opts.idle_sample + 0.4
        n = len(targets)
        total += n * opts.runs * per_run + (n - 1) * (opts.warmup + 0.3) + opts.warmup + (6 if c.config == "routes10k" else 2)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=env("RUNS", 3, int), help="runs per target and case (RUNS, default 3)")
    ap.add_argument("--duration", type=float, default=env("DURATION", 0, float),
                    help="seconds per run for every case (DURATION; default per case: 10 s http1, 5 s the others)")
    ap.add_argument("--cases", default=env("CASES", ",".join(CASE_NAMES)), help="CASES: " + ",".join(CASE_NAMES))
    ap.add_argument("--targets", default=env("TARGETS", ",".join(TARGET_NAMES)), help="TARGETS: " + ",".join(TARGET_NAMES))
    ap.add_argument("--warmup", type=float, default=env("WARMUP", 1.0, float), help="seconds of warm-up per target and case (WARMUP)")
    ap.add_argument("--base-port", type=int, default=env("BASE_PORT", 18000, int), help="ports BASE..BASE+409 (BASE_PORT)")
    ap.add_argument("--cpu-proxy", type=int, default=env("CPU_PROXY", 0, int))
    ap.add_argument("--cpu-load", type=int, default=env("CPU_LOAD", 1, int))
    ap.add_argument("--idle-max", type=float, default=env("IDLE_MAX", 0.10, float),
                    help="busiest the machine may be (fraction of all CPUs) before a run (IDLE_MAX)")
    ap.add_argument("--idle-sample", type=float, default=env("IDLE_SAMPLE", 0.5, float), help="seconds of the idle check (IDLE_SAMPLE)")
    ap.add_argument("--idle-wait", type=float, default=env("IDLE_WAIT", 30, float), help="longest wait for idleness before a run (IDLE_WAIT)")
    ap.add_argument("--foreign-max", type=float, default=env("FOREIGN_MAX", 0.10, float),
                    help="cores other processes may use during a run before it is redone (FOREIGN_MAX)")
    ap.add_argument("--max-retries", type=int, default=env("MAX_RETRIES", 2, int), help="redos of a disturbed run (MAX_RETRIES)")
    ap.add_argument("--redo-budget", type=float, default=env("REDO_BUDGET", 120, float),
                    help="seconds the whole bench may spend waiting for idleness and redoing runs (REDO_BUDGET)")
    ap.add_argument("--work", default=env("WORK", os.path.join(HERE, ".work")))
    ap.add_argument("--out", default=env("OUT", os.path.join(HERE, "results")), help="where latest.md/latest.json go (OUT)")
    ap.add_argument("--mizzen", default=env("MIZZEN", os.path.join(ROOT, ".build/release/mizzen")))
    ap.add_argument("--estimate", action="store_true", help="print the plan and its expected duration, run nothing")
    opts = ap.parse_args()

    cases = [c for c in CASES if c.name in opts.cases.split(",")]
    unknown = set(opts.cases.split(",")) - set(CASE_NAMES)
    if unknown or not cases:
        sys.exit(f"unknown cases {sorted(unknown)}; known: {CASE_NAMES}")
    names = opts.targets.split(",")
    if set(names) - set(TARGET_NAMES):
        sys.exit(f"unknown targets {sorted(set(names) - set(TARGET_NAMES))}; known: {TARGET_NAMES}")

    opts.notes = []
    opts.redo_left = opts.redo_budget
    opts.envoy = find_envoy()
    if "envoy" in names and not (opts.envoy and os.access(opts.envoy, os.X_OK)):
        opts.notes.append("Envoy skipped: no binary (run Bench/setup.sh or set ENVOY=/path).")
        names.remove("envoy")
        opts.envoy = None
    if "mizzen" in names and not os.access(opts.mizzen, os.X_OK):
        msg = (f"Mizzen skipped: no binary at {opts.mizzen} (build it with `make bench`, or `swift build -c release --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked --product mizzen`, "
               "or set MIZZEN=/path).")
        opts.notes.append(msg)
        log(msg)
        names.remove("mizzen")
        opts.mizzen = None
    elif "mizzen" not in names:
        opts.mizzen = None
    else:
        opts.mizzen = os.path.abspath(opts.mizzen)
        if "/debug/" in opts.mizzen:
            opts.notes.append(f"Mizzen is a debug build ({opts.mizzen}): its numbers are not representative.")
    for tool in ["nginx", "taskset", "openssl"] + (["haproxy"] if "haproxy" in names else []) + \
            (["wrk"] if any(c.tool == "wrk" for c in cases) else []) + (["h2load"] if any(c.tool == "h2load" for c in cases) else []):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run `bash Bench/setup.sh` first")
    ncpu = len(os.sched_getaffinity(0))
    if ncpu < 2 or opts.cpu_proxy == opts.cpu_load:
        sys.exit("needs two cores: one for the proxy, one for the load generator and the upstream")

    opts.work = os.path.abspath(opts.work)
    opts.shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else opts.work
    b = opts.base_port
    opts.values = {"WORK": opts.work, "USER": "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody"),
                   "UP_DEFAULT": b, "UP_API": b + 1, "UP_REVIEWS": b + 2, "UP_H2C": b + 3, "UP_TLS": b + 4}
    targets = [cls(opts) for cls in TARGET_CLASSES if cls.name in names]
    est = estimate(opts, cases, targets)
    log(f"plan: {len(cases)} case(s) × {len(targets)} target(s) × {opts.runs} run(s); "
        f"expected {est / 60:.1f} min, plus at most {opts.redo_budget / 60:.0f} min of idle waits and redone runs")
    if opts.estimate:
        for c in cases:
            log(f"  {c.name:14s} {opts.duration or c.duration:g} s/run  {c.load_line(opts.duration or c.duration)}")
        return

    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, resource.getrlimit(resource.RLIMIT_NOFILE)[1]),) * 2)
    except (ValueError, OSError):
        pass
    os.makedirs(opts.work, exist_ok=True)
    open(os.path.join(opts.work, "load.log"), "w").close()
    prepare(opts)

    if opts.mizzen:
        for cfg in (opts.istio_basic,) + ((opts.istio_10k,) if any(c.config == "routes10k" for c in cases) else ()):
            p = subprocess.run([opts.mizzen, "validate", cfg], capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"mizzen validate {cfg} failed:\n{p.stdout}{p.stderr}")
        log(f"mizzen validate: configuration accepted")

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    started = time.time()
    try:
        results = bench(opts, cases, targets)
    except KeyboardInterrupt:
        log("interrupted; stopping every process this run started")
        sys.exit(130)
    finally:
        stop_all()
    took = time.time() - started

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "versions": versions(opts), "took_s": round(took)}
    settings = {k: getattr(opts, k) for k in ("runs", "duration", "warmup", "base_port", "cpu_proxy", "cpu_load",
                                               "idle_max", "idle_sample", "idle_wait", "foreign_max", "max_retries", "redo_budget")}
    doc = {"meta": meta, "settings": settings, "notes": opts.notes,
           "tls": {t.name: getattr(t, "tls", None) for t in targets},
           "cases": {c.name: {"title": c.title, "load": c.load_line(opts.duration or c.duration),
                              "what": c.what, "results": results.get(c.name, {})} for c in cases}}
    os.makedirs(opts.out, exist_ok=True)
    with open(os.path.join(opts.out, "latest.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    md = report_md(opts, cases, targets, results, meta)
    with open(os.path.join(opts.out, "latest.md"), "w") as f:
        f.write(md)
    log(f"\n{md}\nwrote {os.path.join(opts.out, 'latest.md')} and latest.json in {took / 60:.1f} min")


if __name__ == "__main__":
    main()
