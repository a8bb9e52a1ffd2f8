#!/usr/bin/env python3
"""gRPC echo server for Mizzen's end-to-end tests (needs PyPI grpcio; no generated code).

Service mizzen.test.Echo, messages are raw bytes (no protobuf):
  Say   (unary)          returns b"echo:" + request; trailing metadata x-trailer: done
  Count (server stream)  request is an ASCII integer N; returns b"0", b"1", ... b"N-1"
  Chat  (bidi stream)    echoes every message
  Fail  (unary)          aborts with RESOURCE_EXHAUSTED, details "nope"
Every call also gets initial metadata x-upstream: NAME.
Service grpc.health.v1.Health, method Check (protobuf by hand): the service "" or
mizzen.test.Echo is SERVING, "down" is NOT_SERVING, any other is NOT_FOUND.

Prints exactly one line "READY <port>" on stdout once listening.
"""

import argparse
import sys
import time
from concurrent import futures

import grpc

import peerlib

SERVICE = "mizzen.test.Echo"


def make_handler(name):
    def start(context):
        context.send_initial_metadata((("x-upstream", name),))

    def say(request, context):
        start(context)
        context.set_trailing_metadata((("x-trailer", "done"),))
        return b"echo:" + request

    def count(request, context):
        start(context)
        try:
            n = int(request.decode("ascii").strip())
            if n < 0:
                raise ValueError
        except (UnicodeDecodeError, ValueError):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request must be an ASCII integer >= 0")
        for i in range(n):
            yield str(i).encode("ascii")

    def chat(request_iterator, context):
        start(context)
        for message in request_iterator:
            yield message

    def fail(request, context):
        start(context)
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "nope")

    # No (de)serializers: requests and responses are passed through as bytes.
    return grpc.method_handlers_generic_handler(SERVICE, {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
    })


def health_handler():
    def check(request, context):
        # HealthCheckRequest: field 1 (service), length-delimited.
        service = b""
        if len(request) >= 2 and request[0] == 0x0A:
            service = request[2:2 + request[1]]
        if service in (b"", SERVICE.encode()):
            return b"\x08\x01"
        if service == b"down":
            return b"\x08\x02"
        context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")

    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check),
    })


def main():
    parser = argparse.ArgumentParser(description="gRPC echo server (service mizzen.test.Echo, raw bytes).")
    peerlib.add_server_arguments(parser)
    parser.add_argument("--name", default="grpc-echo", help="value of the x-upstream initial metadata")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve gRPC over TLS with this certificate (chain)")
    parser.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    parser.add_argument("--workers", type=int, default=16, help="handler threads (default 16)")
    args = parser.parse_args()

    peerlib.exit_with_parent(args)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((make_handler(args.name), health_handler()))
    address = "%s:%d" % (args.host, args.port)
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        with open(args.tls_key, "rb") as f:
            key = f.read()
        with open(args.tls_cert, "rb") as f:
            cert = f.read()
        port = server.add_secure_port(address, grpc.ssl_server_credentials(((key, cert),)))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        print("grpc_echo: could not bind %s" % address, file=sys.stderr, flush=True)
        sys.exit(1)
    server.start()
    print("READY %d" % port, flush=True)
    # Sleep in short steps so SIGTERM/SIGINT handlers run promptly on the main thread.
    while True:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
