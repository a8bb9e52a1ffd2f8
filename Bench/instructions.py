#!/usr/bin/env python3
"""Instructions per request: Mizzen under valgrind's callgrind, a fixed number of requests
after a warm-up, user-space instructions counted between `callgrind_control -z` and `-d`.

Unlike requests/s and CPU time (±15-25 % run to run on a shared 2-core machine), the count
repeats within about 0.5 % (h2 over TLS: 2-3 %, its batching depends on timing), so it
tells apart changes worth a few per cent. It leaves out the
kernel (a third to a half of the CPU of a request; see README) and valgrind's own slowness
makes the load light (h2load waits on the proxy), so it measures the proxy's own path per
request, not throughput.

    python3 Bench/instructions.py                                   # the release binary
    python3 Bench/instructions.py --baseline /tmp/old-mizzen        # old vs new, per case
    python3 Bench/instructions.py --cases h2c,http1 --requests 5000
    python3 Bench/instructions.py --telemetry                       # the cost of metrics, access log

Same routing job, upstream (nginx) and certificates as Bench/run.py. MIZZEN_LOG_LEVEL=debug
logs every exchange to the work folder's callgrind.log (slower; for finding out why a case
failed, not for measuring). valgrind 3.19 cannot read
the DWARF 5 that Swift emits, so each binary is measured from a copy without debug info
(`strip --strip-debug`; symbols stay)."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import routes10k
import run

CASES = {
    # name: (h2load flags, scheme, configuration)
    "http1": (["--h1"], "http", "basic"),
    "h2c": (["-m5"], "http", "basic"),
    "h2-tls": (["-m5"], "https", "basic"),
    "https1": (["--h1"], "https", "basic"),
    # run.py's routes-10k: the last rule of the last of 1,000 hosts, 10,000 routes in all
    "routes-10k": (["--h1"], "http", "routes10k"),
}


def stripped(binary, directory):
    copy = os.path.join(directory, os.path.basename(binary) + f"-{abs(hash(os.path.abspath(binary))) % 10000}")
    subprocess.run(["strip", "--strip-debug", "-o", copy, binary], check=True)
    return copy


# --telemetry: the same binary three ways (ISTIO-OPS metrics are on by default).
TELEMETRY_VARIANTS = [
    ("no telemetry", ["--disable-telemetry"]),
    ("metrics", []),
    ("metrics + access log", ["--access-log", "{WORK}/access.log"]),
    # A Zipkin address that refuses: the 1 % sampled spans fail to export (counted), the
    # propagation of every request is what is measured.
    ("metrics + tracing 1 %", ["--zipkin", "127.0.0.1:9"]),
]


def measure(binary, case, opts, ports, extra=()):
    flags, scheme, config = CASES[case]
    port = ports["tls"] if scheme == "https" else ports["http"]
    if config == "routes10k":
        url = f"{scheme}://127.0.0.1:{port}{routes10k.TARGET_PATH}"
        headers = ["-H", f":authority: {routes10k.TARGET_HOST}", "-H", f"end-user: {routes10k.TARGET_USER}"]
        config_file = opts.istio_10k
    else:
        url = f"{scheme}://127.0.0.1:{port}/"
        headers = ["-H", "end-user: jason"]
        config_file = opts.istio_basic
    out = os.path.join(opts.work, "callgrind.out")
    for stale in [f for f in os.listdir(opts.work) if f.startswith("callgrind.out")]:
        os.remove(os.path.join(opts.work, stale))
    cmd = ["taskset", "-c", str(opts.cpu_proxy), "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           binary, "gateway", "--config", config_file, "--credentials", os.path.join(opts.work, "credentials"),
           "--bind", "127.0.0.1", "--port-map", f"80={ports['http']},443={ports['tls']}", "--concurrency", "1", "--drain-duration", "0",
           "--log-level", os.environ.get("MIZZEN_LOG_LEVEL", "warning"), *[a.replace("{WORK}", opts.work) for a in extra]]
    log = open(os.path.join(opts.work, "callgrind.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Both listeners: under valgrind the second one is bound a while after the first, and
        # requests sent to it before then were refused (a whole TLS case measured nothing).
        if not (run.wait_port(ports["http"], proc, 240) and (config != "basic" or run.wait_port(ports["tls"], proc, 120))):
            raise RuntimeError("mizzen under valgrind did not start; see " + log.name)
        load = ["taskset", "-c", str(opts.cpu_load), "h2load", "-t1", "-c10", *flags, *headers]
        subprocess.run(load + ["-n", str(opts.warmup), url], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
        done = subprocess.run(load + ["-n", str(opts.requests), url], check=True, capture_output=True, text=True)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        succeeded = re.search(r"(\d+) succeeded", done.stdout)
        if not succeeded or int(succeeded.group(1)) != opts.requests:
            raise RuntimeError(f"{case}: not every request succeeded: {done.stdout[-900:]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    dumps = sorted(f for f in os.listdir(opts.work) if f.startswith("callgrind.out."))
    if not dumps:
        raise RuntimeError("no callgrind dump")
    with open(os.path.join(opts.work, dumps[0])) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1]) / opts.requests
    raise RuntimeError("no instruction total in the callgrind dump")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mizzen", default=run.env("MIZZEN", os.path.join(run.ROOT, ".build/release/mizzen")))
    ap.add_argument("--baseline", default=run.env("BASELINE", ""), help="another mizzen binary to compare against")
    ap.add_argument("--cases", default=",".join(CASES), help="of " + ",".join(CASES))
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--base-port", type=int, default=run.env("BASE_PORT", 18000, int))
    ap.add_argument("--cpu-proxy", type=int, default=0)
    ap.add_argument("--cpu-load", type=int, default=1)
    ap.add_argument("--work", default=os.path.join(run.HERE, ".work"))
    ap.add_argument("--telemetry", action="store_true", help="measure the binary without telemetry, with metrics, and with metrics and an access log")
    opts = ap.parse_args()
    for tool in ("valgrind", "callgrind_control", "h2load", "nginx", "strip", "taskset", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (valgrind: apt-get install valgrind; the rest: bash Bench/setup.sh)")
    cases = opts.cases.split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        sys.exit(f"unknown cases {sorted(unknown)}; known: {list(CASES)}")
    binaries = [b for b in (opts.baseline, opts.mizzen) if b]
    for b in binaries:
        if not os.access(b, os.X_OK):
            sys.exit(f"no binary at {b} (make bench builds one)")
    opts.work = os.path.abspath(opts.work)
    b = opts.base_port
    opts.values = {"WORK": opts.work, "USER": "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody"),
                   "UP_DEFAULT": b, "UP_API": b + 1, "UP_REVIEWS": b + 2, "UP_H2C": b + 3, "UP_TLS": b + 4}
    os.makedirs(opts.work, exist_ok=True)
    run.prepare(opts)
    ports = {"http": b + 100, "tls": b + 101}
    upstream = run.start_upstream(opts)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as directory:
            copies = {binary: stripped(binary, directory) for binary in binaries}
            if opts.telemetry:
                for case in cases:
                    for label, extra in TELEMETRY_VARIANTS:
                        results[(case, label)] = measure(copies[opts.mizzen], case, opts, ports, extra)
                        run.log(f"{case:8s} {results[(case, label)]:10,.0f} instructions/request  {label}")
                run.log("\ncase      no telemetry   metrics          metrics + access log   metrics + tracing 1 %")
                for case in cases:
                    base = results[(case, "no telemetry")]
                    cells = [f"{base:10,.0f}"]
                    for label in ("metrics", "metrics + access log", "metrics + tracing 1 %"):
                        value = results[(case, label)]
                        cells.append(f"{value:10,.0f} ({100 * (value - base) / base:+.1f} %)")
                    run.log(f"{case:8s} " + "   ".join(cells))
                return
            for case in cases:
                for binary in binaries:
                    per_request = measure(copies[binary], case, opts, ports)
                    results[(case, binary)] = per_request
                    run.log(f"{case:8s} {per_request:10,.0f} instructions/request  {binary}")
    finally:
        run.stop(upstream)
        run.stop_all()
    if opts.baseline:
        run.log("\ncase      baseline   candidate   change")
        for case in cases:
            old, new = results[(case, opts.baseline)], results[(case, opts.mizzen)]
            run.log(f"{case:8s} {old:10,.0f} {new:10,.0f}   {100 * (new - old) / old:+.1f} %")


if __name__ == "__main__":
    main()
