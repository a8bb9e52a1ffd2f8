#!/usr/bin/env python3
"""Stand-in tracing collector for Mizzen's end-to-end tests (stdlib only).

Serves the two span intakes Istio's tracing providers use:
  POST /api/v2/spans  Zipkin v2 JSON array           -> 202
  POST /v1/traces     OTLP/HTTP JSON (protobuf: 415) -> 200 with {}
and appends one JSON line per received span to --log. --status N answers N instead
(the spans are still logged, with "answered": N, so a test sees that the export was tried).

Prints exactly one line "READY <port>" on stdout once listening.
"""

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import peerlib

MAX_BODY = 64 * 1024 * 1024


def attribute_text(value):
    """An OTLP AnyValue as a string: the scalar's text, or compact JSON for arrays, maps and bytes."""
    if not isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if "stringValue" in value:
        return str(value["stringValue"])
    if "boolValue" in value:
        return "true" if value["boolValue"] else "false"
    if "intValue" in value:
        return str(value["intValue"])  # int64 arrives as a decimal string, or a number from lax encoders
    if "doubleValue" in value:
        return repr(float(value["doubleValue"]))
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def attributes(items):
    return {item.get("key", ""): attribute_text(item.get("value", {})) for item in items or []}


def zipkin_records(body):
    spans = json.loads(body)
    if not isinstance(spans, list):
        raise ValueError("Zipkin v2 body must be a JSON array of spans")
    for span in spans:
        if not isinstance(span, dict):
            raise ValueError("Zipkin v2 span must be an object")
        yield {
            "format": "zipkin",
            "traceId": span.get("traceId"),
            "id": span.get("id"),
            "parentId": span.get("parentId"),
            "name": span.get("name"),
            "kind": span.get("kind"),
            "tags": span.get("tags") or {},
            "timestamp": span.get("timestamp"),
            "duration": span.get("duration"),
            "debug": bool(span.get("debug", False)),
            "serviceName": (span.get("localEndpoint") or {}).get("serviceName"),
        }


def otlp_records(body):
    request = json.loads(body)
    if not isinstance(request, dict):
        raise ValueError("OTLP body must be a JSON object")
    for resource_spans in request.get("resourceSpans") or []:
        resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for span in scope_spans.get("spans") or []:
                start = int(span.get("startTimeUnixNano") or 0)
                end = int(span.get("endTimeUnixNano") or 0)
                yield {
                    "format": "otlp",
                    "traceId": span.get("traceId"),
                    "id": span.get("spanId"),
                    "parentId": span.get("parentSpanId") or None,
                    "name": span.get("name"),
                    "kind": span.get("kind"),
                    "tags": attributes(span.get("attributes")),
                    "timestamp": start // 1000,
                    "duration": (end - start) // 1000,
                    "statusCode": (span.get("status") or {}).get("code", 0),
                    "serviceName": resource.get("service.name"),
                    "resource": resource,
                }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trace-collector"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # stdout carries only READY; failures are reported through reject()

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path == "/api/v2/spans":
            self.collect(zipkin_records, 202, b"")
        elif path == "/v1/traces":
            content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if content_type == "application/x-protobuf":
                self.read_body()
                self.reject(415, "OTLP protobuf is not supported; send application/json")
                return
            self.collect(otlp_records, 200, b"{}")
        else:
            self.read_body()
            self.reject(404, "no intake at %s" % path)

    def do_GET(self):
        self.reject(404, "POST spans to /api/v2/spans or /v1/traces")

    def collect(self, records, status, body):
        try:
            data = self.read_body()
            received = list(records(data))
        except (ValueError, TypeError, AttributeError) as error:
            self.reject(400, "bad span batch: %s" % error)
            return
        status = self.server.forced_status or status
        now = time.time()
        for record in received:
            record.update({"event": "span", "answered": status, "time": now})
            self.server.log.write(record)
        self.answer(status, body if 200 <= status < 300 else b"")

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body larger than %d bytes" % MAX_BODY)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body larger than %d bytes" % MAX_BODY)
        return self.rfile.read(length) if length > 0 else b""

    def reject(self, status, reason):
        print("trace_collector: %s %s: %d %s" % (self.command, self.path, status, reason), file=sys.stderr, flush=True)
        self.answer(status, json.dumps({"error": reason}).encode("utf-8"))

    def answer(self, status, body):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description="Zipkin v2 / OTLP-HTTP JSON span collector for tests.")
    peerlib.add_server_arguments(parser)
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per received span")
    parser.add_argument("--status", type=int, metavar="N",
                        help="answer every span batch with status N (a failing collector)")
    args = parser.parse_args()
    if args.status is not None and not 200 <= args.status <= 999:
        parser.error("--status must be 200-999")

    peerlib.exit_with_parent(args)

    listener, port = peerlib.listen(args)
    server = ThreadingHTTPServer(listener.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.daemon_threads = True
    server.log = peerlib.Log(args.log)
    server.forced_status = args.status
    print("READY %d" % port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
